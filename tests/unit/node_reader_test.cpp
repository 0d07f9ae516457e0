#include "collectors/node_reader.hpp"

#include <gtest/gtest.h>

#include <array>

#include "fixtures/fixture_tree.hpp"

namespace mobasher {
namespace {

using namespace fixtures;

// Memory figures in meminfo order (total, available, swap total, swap free) then OOM kills, and
// the PSI some/full seconds.
void expect_node(const NodeSample& n, std::array<uint64_t, 5> mem, std::array<double, 2> psi) {
  EXPECT_EQ(n.mem_total, mem[0]);
  EXPECT_EQ(n.mem_available, mem[1]);
  EXPECT_EQ(n.swap_total, mem[2]);
  EXPECT_EQ(n.swap_free, mem[3]);
  EXPECT_EQ(n.oom_kills, mem[4]);
  EXPECT_EQ(n.pressure_some_seconds, psi[0]);
  EXPECT_EQ(n.pressure_full_seconds, psi[1]);
}

TEST(ParseMeminfo, RealFile) {
  NodeSample n;
  parse_meminfo(captured("proc_meminfo"), n);
  EXPECT_EQ(n.mem_total, 24683620ull * 1024);
  EXPECT_EQ(n.mem_available, 24356768ull * 1024);
  EXPECT_EQ(n.swap_total, 0u);
  EXPECT_EQ(n.swap_free, 0u);
}

TEST(ParseMeminfo, KeysMatchExactly) {
  NodeSample n;
  parse_meminfo(
      "MemTotal:        8000000 kB\nMemFree:  1 kB\nMemAvailable:    4000000 kB\n"
      "SwapCached:  7 kB\nSwapTotal:       2000000 kB\nSwapFree:        1500000 kB\n",
      n);
  EXPECT_EQ(n.mem_total, 8000000ull * 1024);
  EXPECT_EQ(n.mem_available, 4000000ull * 1024);
  EXPECT_EQ(n.swap_total, 2000000ull * 1024);
  EXPECT_EQ(n.swap_free, 1500000ull * 1024);
  EXPECT_FALSE(n.oom_kills.has_value());
}

TEST(ParseVmstat, OomKill) {
  EXPECT_EQ(parse_vmstat_oom_kill(captured("proc_vmstat")), 0u);
  EXPECT_EQ(parse_vmstat_oom_kill("pgfault 5\noom_kill 7\nnr_x 1\n"), 7u);
  EXPECT_FALSE(parse_vmstat_oom_kill("pgfault 5\n").has_value());
}

TEST(ParsePressure, TotalsInSeconds) {
  NodeSample n;
  parse_pressure(
      "some avg10=1.00 avg60=0.50 avg300=0.10 total=123456789\n"
      "full avg10=0.00 avg60=0.00 avg300=0.00 total=2500000\n",
      n);
  ASSERT_TRUE(n.pressure_some_seconds.has_value());
  EXPECT_DOUBLE_EQ(*n.pressure_some_seconds, 123.456789);
  ASSERT_TRUE(n.pressure_full_seconds.has_value());
  EXPECT_DOUBLE_EQ(*n.pressure_full_seconds, 2.5);
}

TEST(ParsePressure, RealFileOfAnIdleHost) {
  NodeSample n;
  parse_pressure(captured("proc_pressure_memory"), n);
  EXPECT_EQ(n.pressure_some_seconds, 0.0);
  EXPECT_EQ(n.pressure_full_seconds, 0.0);
}

TEST(ReadNode, FixtureTree) {
  FixtureTree fx;
  fx.meminfo(16_GiB, 10_GiB, 4_GiB, 3_GiB).vmstat_oom_kill(5).pressure(3'000'000, 1'000'000);
  auto r = NodeReader(fx.proc_root()).read();
  EXPECT_EQ(r.errors, 0);
  expect_node(r.node, {16_GiB, 10_GiB, 4_GiB, 3_GiB, 5}, {3.0, 1.0});
}

TEST(ReadNode, NoPsiIsNotAnError) {
  FixtureTree fx;
  fx.meminfo(16_GiB, 10_GiB, 0, 0).vmstat_oom_kill(0);
  auto r = NodeReader(fx.proc_root()).read();
  EXPECT_EQ(r.errors, 0);
  EXPECT_FALSE(r.node.pressure_some_seconds.has_value());
  EXPECT_FALSE(r.node.pressure_full_seconds.has_value());
}

TEST(ReadNode, MissingMeminfoIsAnError) {
  FixtureTree fx;
  auto r = NodeReader(fx.proc_root()).read();
  EXPECT_EQ(r.errors, 1);
  EXPECT_FALSE(r.node.mem_total.has_value());
}

TEST(NodeReader, KeptFilesShowNewContent) {
  FixtureTree fx;
  fx.meminfo(16_GiB, 10_GiB, 4_GiB, 3_GiB).vmstat_oom_kill(5).pressure(3'000'000, 1'000'000);
  NodeReader reader(fx.proc_root());
  ASSERT_EQ(reader.read().node.mem_available, 10_GiB);
  fx.meminfo(16_GiB, 2_GiB, 4_GiB, 1_GiB).vmstat_oom_kill(6).pressure(4'500'000, 2'000'000);
  auto r = reader.read();
  EXPECT_EQ(r.errors, 0);
  expect_node(r.node, {16_GiB, 2_GiB, 4_GiB, 1_GiB, 6}, {4.5, 2.0});
}

TEST(NodeReader, FileThatAppearsLaterIsOpenedThen) {
  FixtureTree fx;
  NodeReader reader(fx.proc_root());
  EXPECT_EQ(reader.read().errors, 1);
  fx.meminfo(8_GiB, 6_GiB, 0, 0).vmstat_oom_kill(2);
  auto r = reader.read();
  EXPECT_EQ(r.errors, 0);
  EXPECT_EQ(r.node.mem_total, 8_GiB);
  EXPECT_EQ(r.node.oom_kills, 2u);
}

TEST(NodeReader, AbsentPsiIsNotLookedForAgain) {
  FixtureTree fx;
  fx.meminfo(8_GiB, 6_GiB, 0, 0).vmstat_oom_kill(0);
  NodeReader reader(fx.proc_root());
  EXPECT_FALSE(reader.read().node.pressure_some_seconds.has_value());
  fx.pressure(1'000'000, 0);  // PSI cannot appear on a running kernel; the reader does not look
  EXPECT_FALSE(reader.read().node.pressure_some_seconds.has_value());
  EXPECT_EQ(NodeReader(fx.proc_root()).read().node.pressure_some_seconds, 1.0);
}

TEST(NodeReader, RealProc) {
  NodeReader reader("/proc");
  for (int i = 0; i < 2; ++i) {
    auto r = reader.read();
    EXPECT_EQ(r.errors, 0);
    ASSERT_TRUE(r.node.mem_total.has_value());
    EXPECT_GT(*r.node.mem_total, 0u);
    EXPECT_TRUE(r.node.oom_kills.has_value());
  }
}

}  // namespace
}  // namespace mobasher
