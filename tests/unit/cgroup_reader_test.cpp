#include "collectors/cgroup_reader.hpp"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include "fixtures/fixture_tree.hpp"

namespace mobasher {
namespace {

using namespace fixtures;

constexpr const char* kUnit = "sdprobe-1/system.slice/system-archiver.slice/archiver@ch1.service";

uint64_t inode_of(const std::filesystem::path& p) {
  struct stat st {};
  EXPECT_EQ(::stat(p.c_str(), &st), 0) << p;
  return st.st_ino;
}

// ---- parsers ----

TEST(ParseCgroupProcs, OnePidPerLine) {
  EXPECT_EQ(parse_cgroup_procs("101\n102\n"), (std::vector<pid_t>{101, 102}));
  EXPECT_EQ(parse_cgroup_procs("7"), (std::vector<pid_t>{7}));
  EXPECT_EQ(parse_cgroup_procs("\n101\nxyz\n0\n103\n\n"), (std::vector<pid_t>{101, 103}));
  EXPECT_TRUE(parse_cgroup_procs("").empty());
}

TEST(ParseKeyedValue, RealV1MemoryStat) {
  std::string stat = captured("cgroup_v1_memory.stat");
  EXPECT_EQ(parse_keyed_value(stat, "total_rss"), 8638464u);
  EXPECT_EQ(parse_keyed_value(stat, "total_cache"), 116158464u);
  EXPECT_EQ(parse_keyed_value(stat, "total_inactive_file"), 55095296u);
  // A key that is a prefix of another ("rss" / "rss_huge") must match only itself.
  EXPECT_EQ(parse_keyed_value(stat, "rss"), 3702784u);
  EXPECT_EQ(parse_keyed_value(stat, "cache"), 9945088u);
  EXPECT_FALSE(parse_keyed_value(stat, "total").has_value());
  EXPECT_FALSE(parse_keyed_value(stat, "anon").has_value());
}

TEST(ParseKeyedValues, SeveralKeysInOnePassEachItsOwnValue) {
  std::string stat = captured("cgroup_v1_memory.stat");
  constexpr std::string_view keys[] = {"total_inactive_file", "rss", "nope", "total_rss"};
  std::optional<uint64_t> v[4];
  parse_keyed_values(stat, keys, v);
  EXPECT_EQ(v[0], 55095296u);
  EXPECT_EQ(v[1], 3702784u);
  EXPECT_FALSE(v[2].has_value());
  EXPECT_EQ(v[3], 8638464u);
  // The first line of a key wins; a malformed value is absent, not the next line's.
  std::optional<uint64_t> w[2];
  constexpr std::string_view two[] = {"a", "b"};
  parse_keyed_values("a x\nb 2\na 3\nb 4\n", two, w);
  EXPECT_FALSE(w[0].has_value());
  EXPECT_EQ(w[1], 2u);
}

TEST(ParseKeyedValue, OomControlAndEvents) {
  EXPECT_EQ(parse_keyed_value(captured("cgroup_v1_memory.oom_control"), "oom_kill"), 0u);
  const char* events = "low 0\nhigh 4\nmax 17\noom 5\noom_kill 3\noom_group_kill 1\n";
  EXPECT_EQ(parse_keyed_value(events, "oom_kill"), 3u);
  EXPECT_EQ(parse_keyed_value(events, "oom"), 5u);
  EXPECT_EQ(parse_keyed_value("oom_kill_disable 0\nunder_oom 0\noom_kill 12\n", "oom_kill"), 12u);
}

TEST(ParseLimit, MaxAndV1UnlimitedAreNoLimit) {
  EXPECT_FALSE(parse_limit("max\n").has_value());
  EXPECT_FALSE(parse_limit("9223372036854771712\n").has_value());
  EXPECT_FALSE(parse_limit("garbage\n").has_value());
  EXPECT_EQ(parse_limit("2147483648\n"), 2147483648u);
  EXPECT_EQ(parse_limit("1610612736"), 1610612736u);
}

// ---- v1 ----

TEST(ReadCgroupMemoryV1, AllFields) {
  FixtureTree fx;
  auto cg = fx.cgroup_v1(kUnit)
                .procs({101, 102})
                .usage(1_GiB)
                .limit(2_GiB)
                .swap(100_MiB)
                .stat(900_MiB, 100_MiB, 60_MiB)
                .oom_kills(2)
                .failcnt(7);
  auto r = read_cgroup_memory(cg.memory_dir(), /*v2=*/false);
  const CgroupMemory& m = r.memory;
  EXPECT_EQ(r.errors, 0);
  EXPECT_TRUE(m.present);
  EXPECT_EQ(m.usage, 1_GiB);
  EXPECT_EQ(m.limit, 2_GiB);
  EXPECT_EQ(m.swap, 100_MiB);  // memsw.usage - usage
  EXPECT_EQ(m.anon, 900_MiB);  // total_rss
  EXPECT_EQ(m.file, 100_MiB);  // total_cache
  EXPECT_EQ(m.inactive_file, 60_MiB);
  EXPECT_EQ(m.working_set(), 1_GiB - 60_MiB);
  EXPECT_EQ(m.oom_kills, 2u);
  EXPECT_EQ(m.failcnt, 7u);
  EXPECT_EQ(m.generation, inode_of(cg.memory_dir()));
}

TEST(ReadCgroupMemoryV1, UnlimitedIsNoLimit) {
  FixtureTree fx;
  auto cg = fx.cgroup_v1(kUnit).usage(10_MiB).no_limit();
  auto r = read_cgroup_memory(cg.memory_dir(), false);
  EXPECT_EQ(r.errors, 0);
  EXPECT_FALSE(r.memory.limit.has_value());
  EXPECT_EQ(r.memory.usage, 10_MiB);
}

TEST(ReadCgroupMemoryV1, NoSwapAccountingMeansNoSwapValue) {
  FixtureTree fx;
  auto cg = fx.cgroup_v1(kUnit).usage(10_MiB).no_swap_accounting();
  auto r = read_cgroup_memory(cg.memory_dir(), false);
  EXPECT_EQ(r.errors, 0);
  EXPECT_FALSE(r.memory.swap.has_value());
}

TEST(ReadCgroupMemoryV1, MemswBelowUsageIsZeroSwap) {
  // memsw and usage are read at different instants; the difference must not wrap around.
  FixtureTree fx;
  auto cg = fx.cgroup_v1(kUnit).usage(10_MiB);
  fx.write("cgroup/memory/" + std::string(kUnit) + "/memory.memsw.usage_in_bytes", "4096\n");
  EXPECT_EQ(read_cgroup_memory(cg.memory_dir(), false).memory.swap, 0u);
}

TEST(ReadCgroupMemoryV1, WorkingSetNeverNegative) {
  FixtureTree fx;
  auto cg = fx.cgroup_v1(kUnit).usage(10_MiB).stat(0, 30_MiB, 20_MiB);
  EXPECT_EQ(read_cgroup_memory(cg.memory_dir(), false).memory.working_set(), 0u);
}

// ---- v2 ----

TEST(ReadCgroupMemoryV2, AllFields) {
  FixtureTree fx;
  auto cg = fx.cgroup_v2(kUnit)
                .procs({101})
                .usage(1536_MiB)
                .limit(2_GiB)
                .swap(50_MiB)
                .stat(1400_MiB, 136_MiB, 36_MiB)
                .oom_kills(4);
  auto r = read_cgroup_memory(cg.memory_dir(), /*v2=*/true);
  const CgroupMemory& m = r.memory;
  EXPECT_EQ(r.errors, 0);
  EXPECT_TRUE(m.present);
  EXPECT_EQ(m.usage, 1536_MiB);
  EXPECT_EQ(m.limit, 2_GiB);
  EXPECT_EQ(m.swap, 50_MiB);
  EXPECT_EQ(m.anon, 1400_MiB);
  EXPECT_EQ(m.file, 136_MiB);
  EXPECT_EQ(m.inactive_file, 36_MiB);
  EXPECT_EQ(m.working_set(), 1500_MiB);
  EXPECT_EQ(m.oom_kills, 4u);
  EXPECT_FALSE(m.failcnt.has_value());  // v1 only
  EXPECT_EQ(m.generation, inode_of(cg.memory_dir()));
}

// The files a real cgroup v2 kernel wrote (tests/vm/cgroup2.sh, kernel 6.1), read through the
// reader: memory.stat has many more keys than the fixture builder writes.
TEST(ReadCgroupMemoryV2, RealKernelFiles) {
  FixtureTree fx;
  auto cg = fx.cgroup_v2(kUnit).procs({101}).usage(33542144).limit(32_MiB).swap(17326080);
  fx.write("cgroup/" + std::string(kUnit) + "/memory.stat", captured("cgroup_v2_memory.stat"));
  fx.write("cgroup/" + std::string(kUnit) + "/memory.events", captured("cgroup_v2_memory.events"));
  auto r = read_cgroup_memory(cg.memory_dir(), true);
  EXPECT_EQ(r.errors, 0);
  EXPECT_EQ(r.memory.anon, 33329152u);
  EXPECT_EQ(r.memory.file, 4096u);
  EXPECT_EQ(r.memory.inactive_file, 0u);
  EXPECT_EQ(r.memory.working_set(), 33542144u);  // memory.current - inactive_file
  EXPECT_EQ(r.memory.oom_kills, 1u);             // oom_kill, not oom or oom_group_kill
}

TEST(ReadCgroupMemoryV2, MaxIsNoLimit) {
  FixtureTree fx;
  auto cg = fx.cgroup_v2(kUnit).usage(1_MiB).no_limit();
  auto r = read_cgroup_memory(cg.memory_dir(), true);
  EXPECT_EQ(r.errors, 0);
  EXPECT_FALSE(r.memory.limit.has_value());
}

TEST(ReadCgroupMemoryV2, OomKillIsReadFromItsOwnKey) {
  FixtureTree fx;
  auto cg = fx.cgroup_v2(kUnit).usage(1_MiB);
  fx.write("cgroup/" + std::string(kUnit) + "/memory.events",
           "low 0\nhigh 0\nmax 9\noom 5\noom_kill 3\noom_group_kill 1\n");
  EXPECT_EQ(read_cgroup_memory(cg.memory_dir(), true).memory.oom_kills, 3u);
}

TEST(ReadCgroupMemoryV2, MalformedFileIsCountedAsAnError) {
  FixtureTree fx;
  auto cg = fx.cgroup_v2(kUnit).usage(1_MiB);
  fx.write("cgroup/" + std::string(kUnit) + "/memory.current", "lots\n");
  auto r = read_cgroup_memory(cg.memory_dir(), true);
  EXPECT_EQ(r.errors, 1);
  EXPECT_FALSE(r.memory.present);
}

TEST(ReadCgroupMemory, GoneCgroupIsNotPresentAndNotAnError) {
  FixtureTree fx;
  auto cg = fx.cgroup_v2(kUnit).usage(1_MiB);
  cg.remove();
  auto r = read_cgroup_memory(cg.memory_dir(), true);
  EXPECT_FALSE(r.memory.present);
  EXPECT_EQ(r.errors, 0);
}

TEST(ReadCgroupMemory, RecreatedCgroupHasANewGeneration) {
  FixtureTree fx;
  auto cg = fx.cgroup_v1(kUnit).usage(1_MiB).oom_kills(3);
  auto before = read_cgroup_memory(cg.memory_dir(), false).memory;
  cg.recreate();
  auto after = read_cgroup_memory(cg.memory_dir(), false).memory;
  EXPECT_NE(before.generation, after.generation);
  EXPECT_EQ(after.oom_kills, 0u);
}

// ---- membership ----

TEST(ReadCgroupPids, IncludesChildCgroupsSortedAndUnique) {
  FixtureTree fx;
  auto cg = fx.cgroup_v2(kUnit).procs({300, 101, 101});
  fx.write("cgroup/" + std::string(kUnit) + "/control/cgroup.procs", "205\n");
  fx.write("cgroup/" + std::string(kUnit) + "/control/deeper/cgroup.procs", "206\n300\n");
  EXPECT_EQ(read_cgroup_pids(cg.membership_dir()), (std::vector<pid_t>{101, 205, 206, 300}));
  EXPECT_EQ(read_cgroup_pids(cg.membership_dir(), 0), (std::vector<pid_t>{101, 300}));
}

TEST(ReadCgroupPids, GoneCgroupIsEmpty) {
  FixtureTree fx;
  auto cg = fx.cgroup_v1(kUnit).procs({101});
  EXPECT_EQ(read_cgroup_pids(cg.membership_dir()), (std::vector<pid_t>{101}));
  cg.remove();
  EXPECT_TRUE(read_cgroup_pids(cg.membership_dir()).empty());
}

// The membership directory is kept open between scans; a unit restarted in between has a new
// cgroup directory at the same path, which the next read must find.
TEST(UnitCgroupFiles, KeptDirectoryFollowsARecreatedCgroup) {
  FixtureTree fx;
  auto cg = fx.cgroup_v1(kUnit).procs({101, 102});
  UnitCgroupFiles files(cg.membership_dir(), cg.memory_dir(), false);
  EXPECT_EQ(files.pids(), (std::vector<pid_t>{101, 102}));
  cg.recreate().procs({202});
  EXPECT_EQ(files.pids(), (std::vector<pid_t>{202}));
  EXPECT_EQ(files.pids(), (std::vector<pid_t>{202}));
}

TEST(UnitCgroupFiles, ChildCgroupMadeAfterTheFirstReadIsListed) {
  FixtureTree fx;
  auto cg = fx.cgroup_v2(kUnit).procs({101});
  UnitCgroupFiles files(cg.membership_dir(), cg.memory_dir(), true);
  EXPECT_EQ(files.pids(), (std::vector<pid_t>{101}));
  fx.write("cgroup/" + std::string(kUnit) + "/payload/cgroup.procs", "150\n");
  EXPECT_EQ(files.pids(), (std::vector<pid_t>{101, 150}));
  fx.remove("cgroup/" + std::string(kUnit) + "/payload");
  EXPECT_EQ(files.pids(), (std::vector<pid_t>{101}));
}

TEST(UnitCgroupFiles, GoneCgroupIsEmptyAndAppearsAgainWhenMade) {
  FixtureTree fx;
  auto cg = fx.cgroup_v1(kUnit).procs({101});
  UnitCgroupFiles files(cg.membership_dir(), cg.memory_dir(), false);
  EXPECT_EQ(files.pids(), (std::vector<pid_t>{101}));
  cg.remove();
  EXPECT_TRUE(files.pids().empty());
  fx.cgroup_v1(kUnit).procs({303});
  EXPECT_EQ(files.pids(), (std::vector<pid_t>{303}));
}

}  // namespace
}  // namespace mobasher
