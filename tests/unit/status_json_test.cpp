#include "exporters/http/status_json.hpp"

#include <gtest/gtest.h>

#include "fixtures/fixture_tree.hpp"
#include "fixtures/snapshots.hpp"

namespace mobasher {
namespace {

using namespace fixtures;

Snapshot scene() {
  UnitBuilder a("archiver@ch1.service", "archiver");
  a.main(101, 5000, 4_MiB, "bash", 1'799'996'400)  // started an hour before the snapshot
      .child(102, 5010, 1020_MiB, "ffmpeg", 8_MiB)
      .cgroup(77, 1100_MiB, 2_GiB, 2)
      .limits(2_GiB, 1610612736, 2040109465);
  a.sample().memory.inactive_file = 76_MiB;
  a.sample().oom_kills_total = 5;
  a.sample().restarts = {{RestartCause::oom, 1}, {RestartCause::external, 2}};
  a.sample().growth_bytes_per_second = 2048;
  a.sample().processes[1].pss = 900_MiB;

  UnitBuilder down("recorder@ch2.service", "recorder");
  down.limits(1610612736, 1288490188, 1530082099);

  Snapshot s = snapshot_at(1'800'000'000, {a, down}, 3);
  s.cgroup_layout = "hybrid";
  s.node.mem_total = 16_GiB;
  s.scan_seconds = 0.012;
  s.errors = {{"proc", 1}};
  return s;
}

TEST(StatusJson, TopLevel) {
  auto j = status_json(scene(), "0.1.0");
  EXPECT_EQ(j["version"], "0.1.0");
  EXPECT_EQ(j["taken_at"], "2027-01-15T08:00:00.000Z");
  EXPECT_EQ(j["cgroup_layout"], "hybrid");
  EXPECT_DOUBLE_EQ(j["scan_seconds"].get<double>(), 0.012);
  EXPECT_EQ(j["scan_errors"]["proc"], 1);
  EXPECT_EQ(j["node"]["memory_total_bytes"], 16_GiB);
  EXPECT_TRUE(j["node"]["swap_total_bytes"].is_null());
  EXPECT_EQ(j["node"]["oom_kills"], 3);
  ASSERT_EQ(j["units"].size(), 2u);
}

TEST(StatusJson, UnitWithPerPidDetail) {
  auto u = status_json(scene(), "0.1.0")["units"][0];
  EXPECT_EQ(u["unit"], "archiver@ch1.service");
  EXPECT_EQ(u["group"], "archiver");
  EXPECT_EQ(u["channel"], "ch1");
  EXPECT_EQ(u["up"], true);
  EXPECT_EQ(u["rss_bytes"], 1024_MiB);
  EXPECT_EQ(u["swap_bytes"], 8_MiB);
  EXPECT_EQ(u["limit_bytes"], 2_GiB);
  EXPECT_EQ(u["warning_bytes"], 1610612736u);
  EXPECT_DOUBLE_EQ(u["percent_of_limit"].get<double>(), 50.0);
  EXPECT_EQ(u["main_pid"], 101);
  EXPECT_DOUBLE_EQ(u["age_seconds"].get<double>(), 3600.0);
  EXPECT_EQ(u["oom_kills_total"], 5);
  EXPECT_EQ(u["restarts"]["oom"], 1);
  EXPECT_EQ(u["restarts"]["external"], 2);
  EXPECT_DOUBLE_EQ(u["growth_bytes_per_second"].get<double>(), 2048.0);
  EXPECT_TRUE(u["seconds_to_limit"].is_null());
  EXPECT_EQ(u["cgroup_memory"]["present"], true);
  EXPECT_EQ(u["cgroup_memory"]["usage_bytes"], 1100_MiB);
  EXPECT_EQ(u["cgroup_memory"]["working_set_bytes"], 1024_MiB);
  EXPECT_EQ(u["cgroup_memory"]["oom_kills"], 2);
  EXPECT_TRUE(u["cgroup_memory"]["failcnt"].is_null());

  ASSERT_EQ(u["processes"].size(), 2u);
  auto p = u["processes"][1];
  EXPECT_EQ(p["pid"], 102);
  EXPECT_EQ(p["ppid"], 101);
  EXPECT_EQ(p["comm"], "ffmpeg");
  EXPECT_EQ(p["main"], false);
  EXPECT_EQ(p["start_time_ticks"], 5010);
  EXPECT_EQ(p["rss_bytes"], 1020_MiB);
  EXPECT_EQ(p["swap_bytes"], 8_MiB);
  EXPECT_EQ(p["pss_bytes"], 900_MiB);
  EXPECT_EQ(u["processes"][0]["main"], true);
  EXPECT_TRUE(u["processes"][0]["pss_bytes"].is_null());
}

TEST(StatusJson, DownUnit) {
  auto u = status_json(scene(), "0.1.0")["units"][1];
  EXPECT_EQ(u["unit"], "recorder@ch2.service");
  EXPECT_EQ(u["up"], false);
  EXPECT_EQ(u["rss_bytes"], 0);
  EXPECT_EQ(u["limit_bytes"], 1610612736u);
  EXPECT_TRUE(u["main_pid"].is_null());
  EXPECT_TRUE(u["age_seconds"].is_null());
  EXPECT_EQ(u["cgroup_memory"]["present"], false);
  EXPECT_TRUE(u["cgroup_memory"]["usage_bytes"].is_null());
  EXPECT_TRUE(u["processes"].empty());
}

// limit_enforced: the cgroup's own limit (true), or the configured memory_limit in limit_bytes
// that nothing enforces (false), with or without a memory cgroup.
TEST(StatusJson, LimitEnforcedSaysWhetherTheCgroupHasALimit) {
  Snapshot s = scene();
  auto j = status_json(s, "0.1.0");
  EXPECT_EQ(j["units"][0]["limit_enforced"], true);
  EXPECT_EQ(j["units"][1]["limit_enforced"], false);  // no memory cgroup at all
  s.units[0].memory.limit.reset();                    // cgroup present, no limit
  auto unlimited = status_json(s, "0.1.0")["units"][0];
  EXPECT_EQ(unlimited["limit_enforced"], false);
  EXPECT_EQ(unlimited["limit_bytes"], 2_GiB);  // the configured one
  EXPECT_TRUE(unlimited["cgroup_memory"]["limit_bytes"].is_null());
}

TEST(StatusJson, IsValidJsonText) {
  auto text = status_json(scene(), "0.1.0").dump();
  EXPECT_EQ(nlohmann::json::parse(text)["units"][0]["processes"][0]["comm"], "bash");
}

}  // namespace
}  // namespace mobasher
