#include "collectors/proc_scan.hpp"

#include <gtest/gtest.h>

#include <algorithm>

#include "fixtures/fixture_tree.hpp"

namespace mobasher {
namespace {

using namespace fixtures;

ProcessMatch by_comm(const std::string& re) {
  ProcessMatch m;
  m.comm_pattern = re;
  std::string err;
  m.comm = Regex::compile(re, err);
  return m;
}

ProcessMatch by_cmdline(const std::string& re) {
  ProcessMatch m;
  m.cmdline_pattern = re;
  std::string err;
  m.cmdline = Regex::compile(re, err);
  return m;
}

std::vector<pid_t> sorted(std::vector<pid_t> v) {
  std::sort(v.begin(), v.end());
  return v;
}

// init -> bash archive.sh ch7 -> ffmpeg -> sh ; plus unrelated processes.
class ProcScanTest : public ::testing::Test {
 protected:
  void SetUp() override {
    fx.proc(1).comm("systemd").ppid(0).cmdline({"/sbin/init"});
    fx.proc(200).comm("bash").ppid(1).cmdline({"/bin/bash", "/opt/archive.sh", "ch7"});
    fx.proc(201).comm("ffmpeg").ppid(200).cmdline(
        {"ffmpeg", "-i", "rtsp://cam/ch7", "-c", "copy", "/data/ch7/%Y.ts"});
    fx.proc(202).comm("sh").ppid(201).cmdline({"sh", "-c", "true"});
    fx.proc(300).comm("sshd").ppid(1).cmdline({"sshd: root"});
    fx.proc(301).comm("bash").ppid(300).cmdline({"-bash"});
  }
  FixtureTree fx;
};

TEST_F(ProcScanTest, CmdlineCaptureGroupIsTheChannelAndDescendantsJoin) {
  ProcScan scan(fx.proc_root(), {{"scripted", by_cmdline("archive\\.sh ([a-z0-9]+)")}});
  auto trees = scan.scan();
  ASSERT_EQ(trees.size(), 1u);
  EXPECT_EQ(trees[0].group, "scripted");
  EXPECT_EQ(trees[0].channel, "ch7");
  EXPECT_EQ(trees[0].root, 200);
  ASSERT_FALSE(trees[0].members.empty());
  EXPECT_EQ(trees[0].members.front(), 200);  // root first
  EXPECT_EQ(sorted(trees[0].members), (std::vector<pid_t>{200, 201, 202}));
  EXPECT_EQ(scan.processes_seen(), 6u);
}

TEST_F(ProcScanTest, CommCaptureGroupIsTheChannel) {
  fx.proc(400).comm("rec-news").ppid(1);
  fx.proc(401).comm("ffmpeg").ppid(400);
  ProcScan scan(fx.proc_root(), {{"recorder", by_comm("^rec-(.+)$")}});
  auto trees = scan.scan();
  ASSERT_EQ(trees.size(), 1u);
  EXPECT_EQ(trees[0].channel, "news");
  EXPECT_EQ(sorted(trees[0].members), (std::vector<pid_t>{400, 401}));
}

TEST_F(ProcScanTest, WithoutCaptureGroupTheChannelIsThePid) {
  ProcScan scan(fx.proc_root(), {{"scripted", by_cmdline("archive\\.sh")}});
  auto trees = scan.scan();
  ASSERT_EQ(trees.size(), 1u);
  EXPECT_EQ(trees[0].channel, "200");
}

TEST_F(ProcScanTest, NestedMatchesAreNotDuplicated) {
  // ffmpeg spawning ffmpeg: both match, one tree rooted at the outer one.
  fx.proc(203).comm("ffmpeg").ppid(201).cmdline({"ffmpeg", "-i", "pipe:"});
  ProcScan scan(fx.proc_root(), {{"ff", by_comm("^ffmpeg$")}});
  auto trees = scan.scan();
  ASSERT_EQ(trees.size(), 1u);
  EXPECT_EQ(trees[0].root, 201);
  EXPECT_EQ(sorted(trees[0].members), (std::vector<pid_t>{201, 202, 203}));
}

// Issue 15: /proc is read one process at a time, so a reused PID can make two processes each
// other's parent. The walk up found the matched process above itself and dropped it; each process
// is now in one tree, once, and in a loop the lowest matched PID is the root.
TEST_F(ProcScanTest, AParentLoopFromPidReuseKeepsTheTreeOnce) {
  fx.proc(500).comm("rec-ch9").ppid(501).cmdline({"rec", "ch9"});
  fx.proc(501).comm("sh").ppid(500).cmdline({"sh"});
  fx.proc(502).comm("sh").ppid(501).cmdline({"sh"});
  ProcScan scan(fx.proc_root(), {{"recorder", by_comm("^rec-(.+)$")}});
  auto trees = scan.scan();
  ASSERT_EQ(trees.size(), 1u);
  EXPECT_EQ(trees[0].root, 500);
  EXPECT_EQ(trees[0].channel, "ch9");
  EXPECT_EQ(sorted(trees[0].members), (std::vector<pid_t>{500, 501, 502}));
}

TEST_F(ProcScanTest, ALoopOfMatchedProcessesIsOneTreeRootedAtTheLowestPid) {
  fx.proc(601).comm("ffmpeg").ppid(600).cmdline({"ffmpeg"});
  fx.proc(600).comm("ffmpeg").ppid(601).cmdline({"ffmpeg"});
  ProcScan scan(fx.proc_root(), {{"ff", by_comm("^ffmpeg$")}});
  auto trees = scan.scan();
  std::sort(trees.begin(), trees.end(), [](auto& a, auto& b) { return a.root < b.root; });
  ASSERT_EQ(trees.size(), 2u);  // 201 (with 202) from SetUp, and the loop
  EXPECT_EQ(trees[1].root, 600);
  EXPECT_EQ(sorted(trees[1].members), (std::vector<pid_t>{600, 601}));
}

TEST_F(ProcScanTest, BothPatternsMustMatch) {
  ProcessMatch m = by_comm("^bash$");
  m.cmdline_pattern = "archive\\.sh ([a-z0-9]+)";
  std::string err;
  m.cmdline = Regex::compile(m.cmdline_pattern, err);
  ProcScan scan(fx.proc_root(), {{"scripted", m}});
  auto trees = scan.scan();
  ASSERT_EQ(trees.size(), 1u);  // 301 is bash but runs no archive.sh
  EXPECT_EQ(trees[0].root, 200);
  EXPECT_EQ(trees[0].channel, "ch7");
}

TEST_F(ProcScanTest, ZombiesAreSkipped) {
  fx.proc(500).comm("rec-dead").ppid(1).zombie();
  ProcScan scan(fx.proc_root(), {{"recorder", by_comm("^rec-(.+)$")}});
  EXPECT_TRUE(scan.scan().empty());
}

TEST_F(ProcScanTest, FirstMatchingGroupWins) {
  ProcScan scan(fx.proc_root(),
                {{"first", by_cmdline("archive\\.sh ([a-z0-9]+)")}, {"second", by_comm("^bash$")}});
  auto trees = scan.scan();
  ASSERT_EQ(trees.size(), 2u);  // 200 by the first group, 301 by the second
  std::sort(trees.begin(), trees.end(), [](auto& a, auto& b) { return a.root < b.root; });
  EXPECT_EQ(trees[0].group, "first");
  EXPECT_EQ(trees[1].group, "second");
  EXPECT_EQ(trees[1].root, 301);
}

TEST_F(ProcScanTest, RescanSeesExitsAndExecs) {
  ProcScan scan(fx.proc_root(), {{"scripted", by_cmdline("archive\\.sh ([a-z0-9]+)")}});
  ASSERT_EQ(scan.scan().size(), 1u);
  fx.proc(202).gone();
  auto trees = scan.scan();
  ASSERT_EQ(trees.size(), 1u);
  EXPECT_EQ(sorted(trees[0].members), (std::vector<pid_t>{200, 201}));
  // The script execs something else: same pid, new comm and cmdline.
  fx.proc(200).comm("python3").cmdline({"python3", "/opt/other.py"});
  EXPECT_TRUE(scan.scan().empty());
}

}  // namespace
}  // namespace mobasher
