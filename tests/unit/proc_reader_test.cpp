#include "collectors/proc_reader.hpp"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>

#include "fixtures/fixture_tree.hpp"

namespace mobasher {
namespace {

using namespace fixtures;

// ---- parsers ----

TEST(ParseProcStat, RealStatWithSpacesAndParensInComm) {
  // Captured from a process that set its name to "ff) mpeg (x" with prctl(PR_SET_NAME).
  auto st = parse_proc_stat(captured("proc_pid_stat_comm_parens"));
  ASSERT_TRUE(st.has_value());
  EXPECT_EQ(st->comm, "ff) mpeg (x");
  EXPECT_EQ(st->state, 'S');
  EXPECT_EQ(st->ppid, 5577);
  EXPECT_EQ(st->utime, 3u);
  EXPECT_EQ(st->stime, 3u);
  EXPECT_EQ(st->start_time, 48703u);  // field 22
  EXPECT_EQ(st->vsize, 17145856u);    // field 23
  EXPECT_EQ(st->rss_pages, 3409);     // field 24
}

TEST(ParseProcStat, FieldNumbersOfProc5) {
  // Fields 1..24 then the rest; the numbers are chosen so that an off-by-one shows.
  auto st = parse_proc_stat(
      "4242 (a (b) c) R 7 8 9 10 11 12 13 14 15 16 1700 1800 19 20 21 22 23 24 "
      "2500000 26000000 2700 28 29 30\n");
  ASSERT_TRUE(st.has_value());
  EXPECT_EQ(st->comm, "a (b) c");
  EXPECT_EQ(st->state, 'R');
  EXPECT_EQ(st->ppid, 7);
  EXPECT_EQ(st->utime, 1700u);
  EXPECT_EQ(st->stime, 1800u);
  EXPECT_EQ(st->start_time, 2500000u);
  EXPECT_EQ(st->vsize, 26000000u);
  EXPECT_EQ(st->rss_pages, 2700);
}

TEST(ParseProcStat, KernelThreadStat) {
  auto st = parse_proc_stat(captured("proc_kthread_stat"));
  ASSERT_TRUE(st.has_value());
  EXPECT_EQ(st->comm, "kthreadd");
  EXPECT_EQ(st->ppid, 0);
}

TEST(ParseProcStat, ZombieState) {
  auto st = parse_proc_stat(
      "77 (ffmpeg) Z 70 70 70 0 -1 4227084 0 0 0 0 5 6 0 0 20 0 1 0 999 0 0 "
      "18446744073709551615 0 0 0 0 0 0 0 0 0 0 0 0 17 1 0 0 0 0 0\n");
  ASSERT_TRUE(st.has_value());
  EXPECT_EQ(st->state, 'Z');
  EXPECT_EQ(st->start_time, 999u);
}

TEST(ParseProcStat, RejectsMalformed) {
  EXPECT_FALSE(parse_proc_stat("").has_value());
  EXPECT_FALSE(parse_proc_stat("12 ffmpeg S 1 2 3").has_value());        // no parens
  EXPECT_FALSE(parse_proc_stat("12 (ffmpeg) S 1 2 3 4\n").has_value());  // truncated
  EXPECT_FALSE(parse_proc_stat("12 )ffmpeg( S 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20 "
                               "21 22 23 24\n")
                   .has_value());
  EXPECT_FALSE(parse_proc_stat("12 (x) S one 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20 21 "
                               "22 23 24\n")
                   .has_value());  // ppid not a number
}

TEST(ParseProcStatus, RealStatusInBytes) {
  auto s = parse_proc_status(captured("proc_pid_status"));
  ASSERT_TRUE(s.has_value());
  EXPECT_EQ(s->rss_anon, 7008u * 1024);
  EXPECT_EQ(s->rss_file, 6748u * 1024);
  EXPECT_EQ(s->rss_shmem, 0u);
  EXPECT_EQ(s->swap, 0u);
  EXPECT_EQ(s->name, "ff) mpeg (x");
  EXPECT_EQ(s->state, 'S');
  EXPECT_EQ(s->ppid, 5577);
}

TEST(ParseProcStatus, NameIsUnescapedAndKeepsItsSpaces) {
  // The kernel escapes '\n' and '\\' in status (not in stat); a leading space is comm's own.
  auto s = parse_proc_status(
      "Name:\t a\\nb\\\\c\t\nState:\tZ (zombie)\nPPid:\t1\nRssAnon:\t 8 kB\nRssFile:\t 4 kB\n"
      "RssShmem:\t 0 kB\n");
  ASSERT_TRUE(s.has_value());
  EXPECT_EQ(s->name, " a\nb\\c\t");
  EXPECT_EQ(s->state, 'Z');
  EXPECT_EQ(s->ppid, 1);
}

TEST(ParseProcStatus, NameStateAndPPidAreOptional) {
  auto s = parse_proc_status("RssAnon:\t 8 kB\nRssFile:\t 4 kB\nRssShmem:\t 0 kB\n");
  ASSERT_TRUE(s.has_value());
  EXPECT_FALSE(s->name.has_value());
  EXPECT_EQ(s->state, '?');
  EXPECT_FALSE(s->ppid.has_value());
}

TEST(ParseProcStatus, EachField) {
  auto s = parse_proc_status(
      "Name:\tffmpeg\nVmRSS:\t  999 kB\nRssAnon:\t  100 kB\nRssFile:\t   20 kB\n"
      "RssShmem:\t    3 kB\nVmSwap:\t   40 kB\n");
  ASSERT_TRUE(s.has_value());
  EXPECT_EQ(s->rss_anon, 102400u);
  EXPECT_EQ(s->rss_file, 20480u);
  EXPECT_EQ(s->rss_shmem, 3072u);
  EXPECT_EQ(s->swap, 40960u);
}

TEST(ParseProcStatus, KernelThreadHasNoRssLines) {
  EXPECT_FALSE(parse_proc_status(captured("proc_kthread_status")).has_value());
  EXPECT_FALSE(parse_proc_status("").has_value());
}

TEST(ParseProcStatus, SwapLineIsOptional) {
  // Kernels without CONFIG_SWAP have no VmSwap line.
  auto s = parse_proc_status("RssAnon:\t 8 kB\nRssFile:\t 4 kB\nRssShmem:\t 0 kB\n");
  ASSERT_TRUE(s.has_value());
  EXPECT_EQ(s->rss_anon, 8192u);
  EXPECT_EQ(s->swap, 0u);
}

TEST(ParseSmapsRollup, Pss) {
  EXPECT_EQ(parse_smaps_rollup_pss("55d0-7ffe ---p 00000000 00:00 0 [rollup]\nRss:  2048 kB\n"
                                   "Pss:  1024 kB\nPss_Anon:  512 kB\n"),
            1024u * 1024);
  EXPECT_FALSE(parse_smaps_rollup_pss("Rss: 10 kB\n").has_value());
}

TEST(ParseBootTime, BtimeLine) {
  EXPECT_EQ(parse_boot_time("cpu  1 2 3\nintr 5\nbtime 1795852762\nprocesses 9\n"), 1795852762u);
  EXPECT_FALSE(parse_boot_time("cpu  1 2 3\nprocesses 9\n").has_value());
}

// ---- ProcReader on a fixture tree ----

class ProcReaderTest : public ::testing::Test {
 protected:
  void SetUp() override {
    fx.boot_time(1'700'000'000);
    fx.proc(101).comm("archiver").ppid(1).start_time(5000).status(100_MiB, 10_MiB, 1_MiB, 2_MiB);
    fx.proc(102).comm("ffmpeg").ppid(101).start_time(5100).status(300_MiB, 20_MiB, 0, 0);
  }
  FixtureTree fx;
};

TEST_F(ProcReaderTest, SampleInBytesWithIdentityAndStartTime) {
  ProcReader r(fx.proc_root());
  auto s = r.sample(101, false);
  ASSERT_TRUE(s.has_value());
  EXPECT_EQ(s->id.pid, 101);
  EXPECT_EQ(s->id.start_time, 5000u);
  EXPECT_EQ(s->ppid, 1);
  EXPECT_EQ(s->comm, "archiver");
  EXPECT_EQ(s->rss_anon, 100_MiB);
  EXPECT_EQ(s->rss_file, 10_MiB);
  EXPECT_EQ(s->rss_shmem, 1_MiB);
  EXPECT_EQ(s->swap, 2_MiB);
  EXPECT_EQ(s->rss(), 111_MiB);
  EXPECT_FALSE(s->pss.has_value());
  double hz = static_cast<double>(sysconf(_SC_CLK_TCK));
  EXPECT_DOUBLE_EQ(s->start_time_seconds, 1'700'000'000 + 5000 / hz);
  EXPECT_EQ(r.parse_errors(), 0u);
}

// The boot-clock start (what ages are measured with) is starttime alone: a btime that moves (NTP
// stepped the clock, so the kernel's btime moved with it) or is unreadable does not change it.
TEST_F(ProcReaderTest, TheBootClockStartDoesNotFollowBtime) {
  double hz = static_cast<double>(sysconf(_SC_CLK_TCK));
  double before = 0;
  {
    ProcReader r(fx.proc_root());
    before = r.sample(101, false)->start_boot_seconds;
  }
  EXPECT_DOUBLE_EQ(before, 5000 / hz);
  for (uint64_t btime : {1'700'003'600ull, 1'600'000'000ull, 0ull}) {
    fx.boot_time(btime);
    ProcReader r(fx.proc_root());
    auto s = r.sample(101, false);
    ASSERT_TRUE(s.has_value());
    EXPECT_DOUBLE_EQ(s->start_boot_seconds, before) << "btime " << btime;
    EXPECT_DOUBLE_EQ(s->start_time_seconds, static_cast<double>(btime) + 5000 / hz);
  }
}

TEST_F(ProcReaderTest, SecondScanSeesNewValuesThroughCachedDescriptors) {
  ProcReader r(fx.proc_root());
  ASSERT_EQ(r.sample(102, false)->rss_anon, 300_MiB);
  r.end_scan();
  EXPECT_EQ(r.open_processes(), 1u);
  fx.proc(102).status(450_MiB, 20_MiB, 0, 64_MiB);
  auto s = r.sample(102, false);
  ASSERT_TRUE(s.has_value());
  EXPECT_EQ(s->rss_anon, 450_MiB);
  EXPECT_EQ(s->swap, 64_MiB);
}

TEST_F(ProcReaderTest, VanishedProcessIsNulloptNotAnError) {
  ProcReader r(fx.proc_root());
  ASSERT_TRUE(r.sample(101, false).has_value());
  r.end_scan();
  fx.proc(102).gone();
  EXPECT_FALSE(r.sample(102, false).has_value());
  EXPECT_FALSE(r.sample(4711, false).has_value());  // never existed
  EXPECT_EQ(r.parse_errors(), 0u);
}

// A PID not sampled for a scan has its descriptor closed; the process found there later is read
// afresh (the reused-PID case on the real /proc is ProcReaderRealProc.ReusedPid*).
TEST_F(ProcReaderTest, PidSeenAgainAfterAScanWithoutItIsReadAfresh) {
  ProcReader r(fx.proc_root());
  auto before = r.sample(102, false);
  ASSERT_TRUE(before.has_value());
  r.end_scan();
  r.end_scan();  // a scan without 102
  fx.proc(102).reuse(/*start_time=*/9000, "bash").ppid(77).status(5_MiB, 1_MiB, 0, 0);
  auto after = r.sample(102, false);
  ASSERT_TRUE(after.has_value());
  EXPECT_EQ(after->id.pid, 102);
  EXPECT_EQ(after->id.start_time, 9000u);
  EXPECT_NE(after->id, before->id);
  EXPECT_EQ(after->comm, "bash");
  EXPECT_EQ(after->ppid, 77);
  EXPECT_EQ(after->rss_anon, 5_MiB);
}

// stat is read once, when a process is first seen; later scans read status only, which also
// carries the comm (an exec changes it) and the ppid (a parent's exit changes it).
TEST_F(ProcReaderTest, LaterScansTakeCommAndPpidFromStatus) {
  ProcReader r(fx.proc_root());
  ASSERT_TRUE(r.sample(102, false).has_value());
  r.end_scan();
  fx.proc(102).comm("ffmpeg-x").ppid(1);
  fx.write("proc/102/stat", "garbage\n");  // not read again
  auto s = r.sample(102, false);
  ASSERT_TRUE(s.has_value());
  EXPECT_EQ(s->comm, "ffmpeg-x");
  EXPECT_EQ(s->ppid, 1);
  EXPECT_EQ(r.parse_errors(), 0u);
}

TEST_F(ProcReaderTest, ZombieAndKernelThreadAreNotSampled) {
  fx.proc(103).comm("ffmpeg").ppid(101).zombie();
  fx.proc(2).comm("kthreadd").kernel_thread();
  ProcReader r(fx.proc_root());
  EXPECT_FALSE(r.sample(103, false).has_value());
  EXPECT_FALSE(r.sample(2, false).has_value());
  EXPECT_EQ(r.parse_errors(), 0u);
}

TEST_F(ProcReaderTest, MalformedStatCountsAParseError) {
  fx.write("proc/105/stat", "garbage\n");
  fx.write("proc/105/status", "RssAnon: 1 kB\nRssFile: 1 kB\nRssShmem: 0 kB\n");
  ProcReader r(fx.proc_root());
  EXPECT_FALSE(r.sample(105, false).has_value());
  EXPECT_EQ(r.parse_errors(), 1u);
}

TEST_F(ProcReaderTest, EndScanClosesUnsampledProcesses) {
  ProcReader r(fx.proc_root());
  ASSERT_TRUE(r.sample(101, false));
  ASSERT_TRUE(r.sample(102, false));
  r.end_scan();
  EXPECT_EQ(r.open_processes(), 2u);
  ASSERT_TRUE(r.sample(101, false));
  r.end_scan();
  EXPECT_EQ(r.open_processes(), 1u);
  r.end_scan();
  EXPECT_EQ(r.open_processes(), 0u);
}

TEST_F(ProcReaderTest, DescriptorCacheIsBounded) {
  for (pid_t p = 110; p < 120; ++p) fx.proc(p).status(1_MiB, 0, 0, 0);
  ProcReader r(fx.proc_root(), /*max_open_processes=*/3);
  for (pid_t p = 110; p < 120; ++p) EXPECT_TRUE(r.sample(p, false).has_value()) << p;
  EXPECT_LE(r.open_processes(), 3u);
}

TEST_F(ProcReaderTest, PssFromSmapsRollupWhenAsked) {
  fx.write("proc/101/smaps_rollup", "00400000-7ffd [rollup]\nRss:  113664 kB\nPss:  90000 kB\n");
  ProcReader r(fx.proc_root());
  auto s = r.sample(101, true);
  ASSERT_TRUE(s.has_value());
  EXPECT_EQ(s->pss, 90000u * 1024);
}

// ---- the real /proc: a cached descriptor of a reaped process must read as "gone" ----

// A child that sleeps until it is killed; killed and reaped at the latest by the destructor.
class Child {
 public:
  Child() : pid_(::fork()) {
    if (pid_ == 0) {
      while (true) ::pause();
    }
  }
  ~Child() { reap(); }
  pid_t pid() const { return pid_; }
  bool reap() {
    if (pid_ <= 0) return false;
    ::kill(pid_, SIGKILL);
    int status = 0;
    bool ok = ::waitpid(pid_, &status, 0) == pid_;
    pid_ = -1;
    return ok;
  }

 private:
  pid_t pid_;
};

TEST(ProcReaderRealProc, ReapedProcessWithCachedDescriptorIsNullopt) {
  Child child;
  pid_t pid = child.pid();
  ASSERT_GT(pid, 0);
  ProcReader r("/proc");
  auto s = r.sample(pid, false);
  ASSERT_TRUE(s.has_value());
  EXPECT_EQ(s->id.pid, pid);
  EXPECT_EQ(s->ppid, ::getpid());
  EXPECT_GT(s->rss(), 0u);
  r.end_scan();
  ASSERT_EQ(r.open_processes(), 1u);
  ASSERT_TRUE(child.reap());
  EXPECT_FALSE(r.sample(pid, false).has_value());
  EXPECT_EQ(r.parse_errors(), 0u);
}

// A child that names itself (prctl(PR_SET_NAME), as an exec would change comm) when told to, and
// says when it has; killed and reaped by the destructor. fork_at: its PID is `want`, the one of a
// process just reaped: ns_last_pid (root, the initial PID namespace) makes the next fork take it,
// unless another process forks in between (retried).
class NamingChild {
 public:
  explicit NamingChild(pid_t want = 0) {
    if (::pipe(go_) != 0 || ::pipe(done_) != 0) return;
    for (int attempt = 0; attempt < 20 && pid_ <= 0; ++attempt) {
      if (want > 0) {
        std::ofstream last("/proc/sys/kernel/ns_last_pid");
        last << want - 1;
        if (!last.flush()) return;
      }
      pid_t pid = ::fork();
      if (pid == 0) run();
      if (pid > 0 && want > 0 && pid != want) {
        ::kill(pid, SIGKILL);
        ::waitpid(pid, nullptr, 0);
        continue;
      }
      pid_ = pid;
    }
  }
  ~NamingChild() {
    if (pid_ > 0) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, nullptr, 0);
    }
    for (int fd : {go_[0], go_[1], done_[0], done_[1]})
      if (fd >= 0) ::close(fd);
  }
  pid_t pid() const { return pid_; }
  bool rename(const char* name) {  // up to 15 bytes
    char buf[16] = {};
    std::snprintf(buf, sizeof buf, "%s", name);
    char ack = 0;
    return ::write(go_[1], buf, sizeof buf) == sizeof buf && ::read(done_[0], &ack, 1) == 1;
  }

 private:
  [[noreturn]] void run() {
    char name[16];
    while (::read(go_[0], name, sizeof name) == sizeof name) {
      ::prctl(PR_SET_NAME, name);
      char ack = 1;
      if (::write(done_[1], &ack, 1) != 1) break;
    }
    ::_exit(0);
  }
  int go_[2] = {-1, -1}, done_[2] = {-1, -1};
  pid_t pid_ = -1;
};

TEST(ProcReaderRealProc, ReusedPidIsANewProcess) {
  ASSERT_EQ(::geteuid(), 0u) << "needs root: writes /proc/sys/kernel/ns_last_pid";
  Child first;
  pid_t pid = first.pid();
  ASSERT_GT(pid, 1);
  ProcReader r("/proc");
  auto before = r.sample(pid, false);
  ASSERT_TRUE(before.has_value());
  r.end_scan();
  ASSERT_TRUE(first.reap());
  // start_time is in clock ticks: let one pass so that the new process cannot share it.
  ::usleep(30'000);
  NamingChild again(pid);
  ASSERT_EQ(again.pid(), pid) << "could not fork at PID " << pid;
  ASSERT_TRUE(again.rename("reused"));
  auto after = r.sample(pid, false);
  ASSERT_TRUE(after.has_value());
  EXPECT_EQ(after->id.pid, pid);
  EXPECT_GT(after->id.start_time, before->id.start_time);
  EXPECT_EQ(after->comm, "reused");
  EXPECT_EQ(r.parse_errors(), 0u);
}

// A new comm (an exec, prctl(PR_SET_NAME)) shows in the next scan, the identity unchanged.
TEST(ProcReaderRealProc, CommChangeShowsInTheNextScan) {
  NamingChild child;
  ASSERT_GT(child.pid(), 0);
  ASSERT_TRUE(child.rename("before"));
  ProcReader r("/proc");
  auto before = r.sample(child.pid(), false);
  ASSERT_TRUE(before.has_value());
  r.end_scan();
  ASSERT_TRUE(child.rename("renamed"));
  auto after = r.sample(child.pid(), false);
  ASSERT_TRUE(after.has_value());
  EXPECT_EQ(before->comm, "before");
  EXPECT_EQ(after->comm, "renamed");
  EXPECT_EQ(after->id, before->id);
}

}  // namespace
}  // namespace mobasher

namespace mobasher {
namespace {

// The kernel cuts comm at 15 bytes, inside a multi-byte character: labels and JSON must stay UTF-8.
TEST(ValidUtf8, TruncatedCharacterAtTheEndIsDropped) {
  std::string arabic = "x\xd8\xa3\xd8\xb1\xd8\xb4\xd9\x8a\xd9\x81-\xd8\xa7\xd9";  // 15 bytes
  EXPECT_EQ(valid_utf8(arabic), "x\xd8\xa3\xd8\xb1\xd8\xb4\xd9\x8a\xd9\x81-\xd8\xa7");
}

TEST(ValidUtf8, InvalidBytesBecomeReplacementCharacters) {
  EXPECT_EQ(valid_utf8("a\xff"
                       "b"),
            "a\xEF\xBF\xBD"
            "b");
  EXPECT_EQ(valid_utf8("ffmpeg"), "ffmpeg");
}

TEST(ValidUtf8, ProcStatCommIsMadeValid) {
  auto st = parse_proc_stat(
      "42 (x\xd8\xa3\xd9) S 1 42 42 0 -1 4194560 100 0 0 0 5 3 0 0 20 0 1 0 12345 1000000 250 "
      "18446744073709551615 1 1 0 0 0 0 0 0 0 0 0 0 17 1 0 0 0 0 0");
  ASSERT_TRUE(st);
  EXPECT_EQ(st->comm, "x\xd8\xa3");
}

}  // namespace
}  // namespace mobasher

namespace mobasher {
namespace {

// The read buffer is kept across scans: reading a small multi-record file again and again must
// not grow it (it once doubled on every short read, up to 1 MiB per unit: +6 MiB of RSS).
TEST(PreadWhole, BufferGrowsOnlyWhenFull) {
  fixtures::FixtureTree fx;
  auto path = fx.root() / "cgroup.procs";
  { std::ofstream(path) << "101\n102\n"; }
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  ASSERT_GE(fd, 0);
  std::string buf;
  for (int i = 0; i < 20; ++i) {
    auto text = pread_whole(fd, buf, Records::many);
    ASSERT_TRUE(text);
    EXPECT_EQ(*text, "101\n102\n");
  }
  EXPECT_EQ(buf.size(), 8192u);
  { std::ofstream(path) << std::string(20000, '7'); }
  auto big = pread_whole(fd, buf, Records::many);
  ASSERT_TRUE(big);
  EXPECT_EQ(big->size(), 20000u);
  EXPECT_EQ(buf.size(), 32768u);
  ::close(fd);
}

// A seq_file of short records (here /proc/PID/maps of a child that only waits, so its content
// holds still) is returned a kernel buffer at a time: Records::many must read all of it, as a
// read until EOF does, though it stops without the last empty read.
TEST(PreadWhole, ManyRecordsReadsASeqFileOfSeveralPages) {
  pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    while (true) ::pause();
  }
  auto path = "/proc/" + std::to_string(child) + "/maps";
  auto whole = read_small_file(path, Records::until_empty);
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  std::string buf;
  auto many = fd >= 0 ? pread_whole(fd, buf, Records::many) : std::nullopt;
  auto again = fd >= 0 ? pread_whole(fd, buf, Records::many) : std::nullopt;
  std::string many_text(many.value_or("")), again_text(again.value_or(""));
  if (fd >= 0) ::close(fd);
  ::kill(child, SIGKILL);
  ::waitpid(child, nullptr, 0);
  ASSERT_TRUE(whole.has_value());
  ASSERT_GT(whole->size(), 2 * kSeqFilePage);  // several kernel reads
  EXPECT_EQ(many_text, *whole);
  EXPECT_EQ(again_text, *whole);
}

}  // namespace
}  // namespace mobasher
