#include "collectors/scanner.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>

#include "fixtures/fixture_tree.hpp"

namespace mobasher {
namespace {

using namespace fixtures;
using namespace std::chrono_literals;

const std::string kArchivers = "system.slice/system-archiver.slice";
const std::string kRecorders = "system.slice/system-recorder.slice";
constexpr uint64_t kBootTime = 1'700'000'000;

const UnitSample* find_unit(const Snapshot& s, const std::string& unit) {
  for (const auto& u : s.units)
    if (u.unit == unit) return &u;
  return nullptr;
}

const ProcessSample* find_proc(const UnitSample& u, pid_t pid) {
  for (const auto& p : u.processes)
    if (p.id.pid == pid) return &p;
  return nullptr;
}

// The Mobasher plan on one host: an archiver with a bash main and two ffmpeg children, an
// archiver whose cgroup limit is lower than the configured one, a recorder without a limit.
class ScannerTest : public ::testing::TestWithParam<CgroupFixture::Kind> {
 protected:
  using Kind = CgroupFixture::Kind;

  CgroupFixture unit(const std::string& rel) {
    switch (GetParam()) {
      case Kind::v1:
        return fx.cgroup_v1(rel);
      case Kind::v2:
        return fx.cgroup_v2(rel);
      case Kind::hybrid:
        return fx.cgroup_hybrid(rel);
    }
    throw std::logic_error("kind");
  }
  std::string layout() const {
    switch (GetParam()) {
      case Kind::v1:
        return "v1";
      case Kind::v2:
        return "v2";
      case Kind::hybrid:
        return "hybrid";
    }
    return "?";
  }

  void SetUp() override {
    fx.boot_time(kBootTime).meminfo(16_GiB, 9_GiB, 2_GiB, 2_GiB).vmstat_oom_kill(1);
    fx.proc(1).comm("systemd").ppid(0);
    fx.proc(101).comm("bash").ppid(1).start_time(10'000).status(4_MiB, 2_MiB, 0, 0);
    fx.proc(102).comm("ffmpeg").ppid(101).start_time(10'050).status(900_MiB, 10_MiB, 1_MiB, 5_MiB);
    fx.proc(103).comm("ffmpeg").ppid(101).start_time(10'060).status(300_MiB, 0, 0, 0);
    fx.proc(201).comm("ffmpeg").ppid(1).start_time(20'000).status(500_MiB, 0, 0, 1_MiB);
    fx.proc(301).comm("bash").ppid(1).start_time(30'000).status(10_MiB, 0, 0, 0);
    fx.proc(302).comm("ffmpeg").ppid(301).start_time(30'100).status(700_MiB, 0, 0, 0);

    unit(kArchivers + "/archiver@ch1.service")
        .procs({101, 102, 103})
        .usage(1300_MiB)
        .limit(2_GiB)
        .swap(5_MiB)
        .stat(1200_MiB, 100_MiB, 40_MiB)
        .oom_kills(1);
    unit(kArchivers + "/archiver@ch3.service").procs({301, 302}).usage(750_MiB).limit(1_GiB);
    unit(kRecorders + "/recorder@ch2.service").procs({201}).usage(520_MiB).no_limit();
    // Not a unit of any group.
    unit("system.slice/cron.service").procs({1});
  }

  Scanner make_scanner(const Config& c = default_config()) {
    return Scanner({fx.proc_root(), fx.cgroup_root()}, c);
  }

  FixtureTree fx;
  WallTime t0 = WallTime(std::chrono::seconds(kBootTime + 3600));
  Scanner::SteadyTime m0 = Scanner::SteadyTime(1000h);
};

TEST_P(ScannerTest, UnitsOfTheDefaultGroups) {
  auto scanner = make_scanner();
  Snapshot s = scanner.scan(t0, m0);
  EXPECT_EQ(s.cgroup_layout, layout());
  EXPECT_EQ(s.taken_at, t0);
  ASSERT_EQ(s.units.size(), 3u);
  const UnitSample* a1 = find_unit(s, "archiver@ch1.service");
  ASSERT_NE(a1, nullptr);
  EXPECT_EQ(a1->group, "archiver");
  EXPECT_EQ(a1->channel, "ch1");
  EXPECT_EQ(a1->cgroup, "/" + kArchivers + "/archiver@ch1.service");
  const UnitSample* r2 = find_unit(s, "recorder@ch2.service");
  ASSERT_NE(r2, nullptr);
  EXPECT_EQ(r2->group, "recorder");
  EXPECT_EQ(r2->channel, "ch2");
  EXPECT_EQ(find_unit(s, "cron.service"), nullptr);
  EXPECT_TRUE(s.errors.empty()) << s.errors.begin()->first;
}

TEST_P(ScannerTest, ProcessesWithMainFlagAndRssSums) {
  auto scanner = make_scanner();
  Snapshot s = scanner.scan(t0, m0);
  const UnitSample* a1 = find_unit(s, "archiver@ch1.service");
  ASSERT_NE(a1, nullptr);
  ASSERT_EQ(a1->processes.size(), 3u);
  const ProcessSample* bash = find_proc(*a1, 101);
  const ProcessSample* ff = find_proc(*a1, 102);
  ASSERT_TRUE(bash && ff);
  EXPECT_TRUE(bash->main);
  EXPECT_FALSE(ff->main);
  EXPECT_FALSE(find_proc(*a1, 103)->main);
  EXPECT_EQ(a1->main_process(), bash);
  EXPECT_EQ(ff->comm, "ffmpeg");
  EXPECT_EQ(ff->ppid, 101);
  EXPECT_EQ(ff->id.start_time, 10'050u);
  EXPECT_EQ(ff->rss(), 911_MiB);
  EXPECT_EQ(a1->rss(), 6_MiB + 911_MiB + 300_MiB);
  EXPECT_EQ(a1->swap(), 5_MiB);
  EXPECT_TRUE(a1->up());
  double hz = static_cast<double>(sysconf(_SC_CLK_TCK));
  EXPECT_DOUBLE_EQ(bash->start_time_seconds, kBootTime + 10'000 / hz);

  const UnitSample* r2 = find_unit(s, "recorder@ch2.service");
  ASSERT_NE(r2, nullptr);
  ASSERT_EQ(r2->processes.size(), 1u);
  EXPECT_TRUE(r2->processes[0].main);
  EXPECT_EQ(r2->rss(), 500_MiB);
}

TEST_P(ScannerTest, CgroupMemory) {
  auto scanner = make_scanner();
  Snapshot s = scanner.scan(t0, m0);
  const UnitSample* a1 = find_unit(s, "archiver@ch1.service");
  ASSERT_NE(a1, nullptr);
  EXPECT_TRUE(a1->memory.present);
  EXPECT_EQ(a1->memory.usage, 1300_MiB);
  EXPECT_EQ(a1->memory.limit, 2_GiB);
  EXPECT_EQ(a1->memory.swap, 5_MiB);
  EXPECT_EQ(a1->memory.anon, 1200_MiB);
  EXPECT_EQ(a1->memory.inactive_file, 40_MiB);
  EXPECT_EQ(a1->memory.working_set(), 1260_MiB);
  EXPECT_EQ(a1->memory.oom_kills, 1u);
  EXPECT_NE(a1->memory.generation, 0u);
  if (GetParam() == Kind::v2)
    EXPECT_FALSE(a1->memory.failcnt.has_value());
  else
    EXPECT_EQ(a1->memory.failcnt, 0u);
  const UnitSample* r2 = find_unit(s, "recorder@ch2.service");
  EXPECT_EQ(r2->memory.usage, 520_MiB);
  EXPECT_FALSE(r2->memory.limit.has_value());
}

TEST_P(ScannerTest, ThresholdsResolveAgainstTheCgroupLimitElseTheConfiguredOne) {
  auto scanner = make_scanner();
  Snapshot s = scanner.scan(t0, m0);
  // archiver@ch1: cgroup limit 2 GiB; warn 1.5G absolute, critical 95%.
  const UnitSample* a1 = find_unit(s, "archiver@ch1.service");
  EXPECT_EQ(a1->configured_limit, 2_GiB);
  EXPECT_EQ(a1->effective_limit(), 2_GiB);
  EXPECT_EQ(a1->warn_bytes, 1610612736u);
  EXPECT_EQ(a1->critical_bytes, 2040109465u);  // 95% of 2 GiB
  // archiver@ch3: the cgroup says 1 GiB, lower than memory_limit: percentages follow the cgroup.
  const UnitSample* a3 = find_unit(s, "archiver@ch3.service");
  EXPECT_EQ(a3->effective_limit(), 1_GiB);
  EXPECT_EQ(a3->critical_bytes, 1020054732u);  // 95% of 1 GiB
  EXPECT_EQ(a3->warn_bytes, 1610612736u);      // absolute stays absolute
  // recorder@ch2: no cgroup limit: the configured 1.5G; warn 80%, critical 95%.
  const UnitSample* r2 = find_unit(s, "recorder@ch2.service");
  EXPECT_EQ(r2->configured_limit, 1610612736u);
  EXPECT_EQ(r2->effective_limit(), 1610612736u);
  EXPECT_EQ(r2->warn_bytes, 1288490188u);
  EXPECT_EQ(r2->critical_bytes, 1530082099u);
}

TEST_P(ScannerTest, Node) {
  auto scanner = make_scanner();
  Snapshot s = scanner.scan(t0, m0);
  EXPECT_EQ(s.node.mem_total, 16_GiB);
  EXPECT_EQ(s.node.mem_available, 9_GiB);
  EXPECT_EQ(s.node.swap_total, 2_GiB);
  EXPECT_EQ(s.node.oom_kills, 1u);
  EXPECT_GE(s.scan_seconds, 0.0);
}

TEST_P(ScannerTest, ExitedMemberAndStoppedUnitBetweenScans) {
  auto scanner = make_scanner();
  ASSERT_EQ(scanner.scan(t0, m0).units.size(), 3u);
  // 103 exits (the kernel drops it from cgroup.procs); 104 is listed but gone by the time its
  // /proc files are opened (the race of every scan); the recorder stops.
  fx.proc(103).gone();
  unit(kArchivers + "/archiver@ch1.service").procs({101, 102, 104});
  unit(kRecorders + "/recorder@ch2.service").remove();
  Snapshot s = scanner.scan(t0 + 5s, m0 + 5s);
  const UnitSample* a1 = find_unit(s, "archiver@ch1.service");
  ASSERT_NE(a1, nullptr);
  EXPECT_EQ(a1->processes.size(), 2u);
  EXPECT_EQ(find_proc(*a1, 103), nullptr);
  EXPECT_EQ(find_proc(*a1, 104), nullptr);
  EXPECT_EQ(find_unit(s, "recorder@ch2.service"), nullptr);
  EXPECT_EQ(s.units.size(), 2u);
  EXPECT_TRUE(s.errors.empty());
}

INSTANTIATE_TEST_SUITE_P(Layouts, ScannerTest,
                         ::testing::Values(CgroupFixture::Kind::v1, CgroupFixture::Kind::v2,
                                           CgroupFixture::Kind::hybrid),
                         [](const auto& info) {
                           switch (info.param) {
                             case CgroupFixture::Kind::v1:
                               return std::string("v1");
                             case CgroupFixture::Kind::v2:
                               return std::string("v2");
                             case CgroupFixture::Kind::hybrid:
                               return std::string("hybrid");
                           }
                           return std::string("unknown");
                         });

TEST(Scanner, RefreshBetweenSearchesAndFullSearchAfterTheInterval) {
  FixtureTree fx;
  fx.boot_time(kBootTime).meminfo(16_GiB, 9_GiB, 0, 0);
  fx.proc(101).comm("ffmpeg").status(100_MiB, 0, 0, 0);
  fx.proc(102).comm("ffmpeg").status(200_MiB, 0, 0, 0);
  fx.proc(103).comm("ffmpeg").status(300_MiB, 0, 0, 0);
  fx.proc(104).comm("ffmpeg").status(300_MiB, 0, 0, 0);
  auto ch1 = fx.cgroup_v1(kArchivers + "/archiver@ch1.service").procs({101});
  Scanner scanner({fx.proc_root(), fx.cgroup_root()}, default_config());
  WallTime t0 = WallTime(std::chrono::seconds(kBootTime + 60));
  Scanner::SteadyTime m0 = Scanner::SteadyTime(1000h);
  ASSERT_EQ(scanner.scan(t0, m0).units.size(), 1u);

  // A new unit in the known slice is seen by the next (cheap) scan; one in a new slice is not,
  // until the next full search, discovery_interval (30 s) later.
  fx.cgroup_v1(kArchivers + "/archiver@ch2.service").procs({102});
  fx.cgroup_v1("system.slice/system-recorder.slice/recorder@ch3.service").procs({103});
  ch1.remove();
  Snapshot s = scanner.scan(t0 + 5s, m0 + 5s);
  ASSERT_EQ(s.units.size(), 1u);
  EXPECT_EQ(s.units[0].unit, "archiver@ch2.service");
  EXPECT_EQ(s.units[0].rss(), 200_MiB);

  s = scanner.scan(t0 + 31s, m0 + 31s);
  ASSERT_EQ(s.units.size(), 2u);
  EXPECT_NE(find_unit(s, "recorder@ch3.service"), nullptr);
}

TEST(Scanner, ProcessMatchGroupsWithoutCgroups) {
  FixtureTree fx;
  fx.boot_time(kBootTime).meminfo(16_GiB, 9_GiB, 0, 0);
  fx.proc(1).comm("init").ppid(0);
  fx.proc(200)
      .comm("bash")
      .ppid(1)
      .cmdline({"bash", "/opt/archive.sh", "ch7"})
      .status(3_MiB, 1_MiB, 0, 0);
  fx.proc(201).comm("ffmpeg").ppid(200).status(600_MiB, 0, 0, 0);
  Config c = parse_config(R"json({ "groups": [ { "name": "scripted",
      "match": { "cmdline": "archive\\.sh ([a-z0-9]+)" }, "memory_limit": "1G", "warn": "50%" } ] })json",
                          "scripted.json");
  Scanner scanner({fx.proc_root(), fx.cgroup_root()}, c);
  EXPECT_EQ(scanner.hierarchies().layout, CgroupLayout::none);
  Snapshot s =
      scanner.scan(WallTime(std::chrono::seconds(kBootTime + 60)), Scanner::SteadyTime(1h));
  EXPECT_EQ(s.cgroup_layout, "none");
  ASSERT_EQ(s.units.size(), 1u);
  const UnitSample& u = s.units[0];
  EXPECT_EQ(u.unit, "scripted@ch7");
  EXPECT_EQ(u.group, "scripted");
  EXPECT_EQ(u.channel, "ch7");
  ASSERT_EQ(u.processes.size(), 2u);
  EXPECT_TRUE(find_proc(u, 200)->main);
  EXPECT_FALSE(find_proc(u, 201)->main);
  EXPECT_EQ(u.rss(), 604_MiB);
  EXPECT_FALSE(u.memory.present);
  EXPECT_EQ(u.warn_bytes, 512_MiB);
}

}  // namespace
}  // namespace mobasher

namespace mobasher {
namespace {

using namespace fixtures;
using namespace std::chrono_literals;

TEST(Scanner, DescriptorsOfStoppedUnitsAreReleased) {
  FixtureTree fx;
  fx.boot_time(kBootTime).meminfo(16_GiB, 9_GiB, 0, 0);
  fx.proc(101).comm("bash").status(1_MiB, 0, 0, 0);
  fx.proc(102).comm("ffmpeg").ppid(101).status(100_MiB, 0, 0, 0);
  auto ch1 = fx.cgroup_v2(kArchivers + "/archiver@ch1.service").procs({101, 102});
  fx.cgroup_v2(kArchivers + "/archiver@ch2.service").procs({});
  Scanner scanner({fx.proc_root(), fx.cgroup_root()}, default_config());
  WallTime t0 = WallTime(std::chrono::seconds(kBootTime + 60));
  Scanner::SteadyTime m0 = Scanner::SteadyTime(1000h);
  ASSERT_EQ(scanner.scan(t0, m0).units.size(), 2u);
  EXPECT_EQ(scanner.open_processes(), 2u);
  ch1.remove();
  Snapshot s = scanner.scan(t0 + 5s, m0 + 5s);
  ASSERT_EQ(s.units.size(), 1u);
  EXPECT_FALSE(s.units[0].up());
  EXPECT_EQ(scanner.open_processes(), 0u);
}

TEST(Scanner, MalformedCgroupFileIsCountedNotFatal) {
  FixtureTree fx;
  fx.boot_time(kBootTime).meminfo(16_GiB, 9_GiB, 0, 0);
  fx.proc(101).comm("ffmpeg").status(100_MiB, 0, 0, 0);
  fx.cgroup_v2(kArchivers + "/archiver@ch1.service").procs({101}).usage(1_GiB);
  fx.write("cgroup/" + kArchivers + "/archiver@ch1.service/memory.swap.current", "n/a\n");
  Scanner scanner({fx.proc_root(), fx.cgroup_root()}, default_config());
  Snapshot s =
      scanner.scan(WallTime(std::chrono::seconds(kBootTime + 60)), Scanner::SteadyTime(1h));
  ASSERT_EQ(s.units.size(), 1u);
  EXPECT_EQ(s.units[0].memory.usage, 1_GiB);
  EXPECT_FALSE(s.units[0].memory.swap.has_value());
  EXPECT_EQ(s.errors["cgroup"], 1u);
  EXPECT_EQ(s.units[0].rss(), 100_MiB);
}

}  // namespace
}  // namespace mobasher

namespace mobasher {
namespace {

using namespace fixtures;

TEST(Scanner, V1UnitWithoutMemoryAccountingStillHasItsProcesses) {
  // Without MemoryAccounting=yes systemd creates the unit only in name=systemd, not in memory/.
  FixtureTree fx;
  fx.boot_time(kBootTime).meminfo(16_GiB, 9_GiB, 0, 0);
  fx.proc(101).comm("ffmpeg").status(700_MiB, 0, 0, 0);
  fx.cgroup_layout_v1();
  fx.write("cgroup/systemd/system.slice/system-archiver.slice/archiver@ch4.service/cgroup.procs",
           "101\n");
  Scanner scanner({fx.proc_root(), fx.cgroup_root()}, default_config());
  Snapshot s =
      scanner.scan(WallTime(std::chrono::seconds(kBootTime + 60)), Scanner::SteadyTime(1h));
  ASSERT_EQ(s.units.size(), 1u);
  const UnitSample& u = s.units[0];
  EXPECT_EQ(u.unit, "archiver@ch4.service");
  EXPECT_EQ(u.rss(), 700_MiB);
  EXPECT_FALSE(u.memory.present);
  EXPECT_EQ(u.effective_limit(), 2_GiB);
  EXPECT_EQ(u.critical_bytes, 2040109465u);
  EXPECT_TRUE(s.errors.empty());
}

}  // namespace
}  // namespace mobasher
