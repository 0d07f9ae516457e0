#include "collectors/node_reader.hpp"

#include <gtest/gtest.h>

#include "fixtures/fixture_tree.hpp"

namespace mobasher {
namespace {

using namespace fixtures;

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
  auto r = read_node(fx.proc_root());
  EXPECT_EQ(r.errors, 0);
  EXPECT_EQ(r.node.mem_total, 16_GiB);
  EXPECT_EQ(r.node.mem_available, 10_GiB);
  EXPECT_EQ(r.node.swap_total, 4_GiB);
  EXPECT_EQ(r.node.swap_free, 3_GiB);
  EXPECT_EQ(r.node.oom_kills, 5u);
  EXPECT_EQ(r.node.pressure_some_seconds, 3.0);
  EXPECT_EQ(r.node.pressure_full_seconds, 1.0);
}

TEST(ReadNode, NoPsiIsNotAnError) {
  FixtureTree fx;
  fx.meminfo(16_GiB, 10_GiB, 0, 0).vmstat_oom_kill(0);
  auto r = read_node(fx.proc_root());
  EXPECT_EQ(r.errors, 0);
  EXPECT_FALSE(r.node.pressure_some_seconds.has_value());
  EXPECT_FALSE(r.node.pressure_full_seconds.has_value());
}

TEST(ReadNode, MissingMeminfoIsAnError) {
  FixtureTree fx;
  auto r = read_node(fx.proc_root());
  EXPECT_EQ(r.errors, 1);
  EXPECT_FALSE(r.node.mem_total.has_value());
}

}  // namespace
}  // namespace mobasher
