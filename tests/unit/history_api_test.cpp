// The history records the daemon writes, the /api/v1/history answer built from them, and the
// re-seeding of the tracker after an agent restart.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <fstream>

#include "agent/state/unit_tracker.hpp"
#include "exporters/history/history_api.hpp"
#include "exporters/history/history_reader.hpp"
#include "exporters/history/history_record.hpp"
#include "exporters/history/history_seed.hpp"
#include "exporters/http/publish.hpp"
#include "fixtures/fixture_tree.hpp"
#include "fixtures/snapshots.hpp"

namespace mobasher {
namespace {

using fixtures::at_unix;
using fixtures::UnitBuilder;
using nlohmann::json;
using ::testing::HasSubstr;

constexpr double kT0 = 1764583200;  // 2025-12-01T10:00:00Z

UnitSample archiver(uint64_t main_rss, uint64_t child_rss) {
  return UnitBuilder("archiver@ch1.service", "archiver")
      .main(100, 1, main_rss)
      .child(101, 2, child_rss, "ffmpeg")
      .child(102, 3, child_rss + 5, "ffmpeg")
      .child(103, 4, child_rss * 10, "bash")
      .cgroup(77, 3 * child_rss, 2ull << 30, 0)
      .limits(2ull << 30, 1536ull << 20, 2040ull << 20);
}

TEST(HistoryRecord, UnitSampleHasTheFixedStartAndEveryField) {
  UnitSample u = archiver(1000, 2000);
  std::string line = history_unit_sample(u, at_unix(kT0 + 0.5));
  EXPECT_EQ(
      line.rfind(
          R"({"ts":"2025-12-01T10:00:00.500Z","type":"sample","unit":"archiver@ch1.service",)", 0),
      0u)
      << line;
  auto j = json::parse(line);
  EXPECT_EQ(j["rss"], 1000u + 2000 + 2005 + 20000);
  EXPECT_EQ(j["usage"], 6000u);
  EXPECT_EQ(j["working_set"], 6000u);
  EXPECT_EQ(j["limit"], 2ull << 30);
  EXPECT_EQ(j["processes"], 4u);
  // The largest ffmpeg child, even though bash is larger.
  EXPECT_EQ(j["top"], json({{"pid", 102}, {"comm", "ffmpeg"}, {"rss", 2005}}));
  EXPECT_FALSE(j.contains("restarts"));  // only when non-zero
  EXPECT_FALSE(j.contains("oom_kills"));
}

TEST(HistoryRecord, CountersOnlyWhenNonZero) {
  UnitSample u = archiver(1000, 2000);
  u.restarts = {{RestartCause::age, 2}, {RestartCause::oom, 0}};
  u.oom_kills_total = 3;
  u.memory.oom_kills = 1;
  auto j = json::parse(history_unit_sample(u, at_unix(kT0)));
  EXPECT_EQ(j["restarts"], json({{"age", 2}}));
  EXPECT_EQ(j["oom_kills"], json({{"total", 3}, {"cgroup", 1}, {"generation", 77}}));
}

TEST(HistoryRecord, NoCgroupNoUsageAndNoTopWithoutChildren) {
  UnitSample u = UnitBuilder("recorder@x.service", "recorder").main(5, 1, 300).no_cgroup();
  auto j = json::parse(history_unit_sample(u, at_unix(kT0)));
  EXPECT_FALSE(j.contains("usage"));
  EXPECT_FALSE(j.contains("working_set"));
  EXPECT_FALSE(j.contains("top"));
  EXPECT_EQ(j["rss"], 300u);
}

TEST(HistoryRecord, NodeSampleAndEventsHaveNoUnit) {
  NodeSample n;
  n.mem_total = 100;
  n.mem_available = 40;
  std::string node = history_node_sample(n, at_unix(kT0));
  EXPECT_EQ(node, R"({"ts":"2025-12-01T10:00:00.000Z","type":"sample","mem_total":100,)"
                  R"("mem_available":40})");
  std::string ev = history_event("agent_start", at_unix(kT0), "", {{"version", "1"}});
  EXPECT_EQ(ev, R"({"ts":"2025-12-01T10:00:00.000Z","type":"agent_start","version":"1"})");
  std::string r =
      history_event("restart", at_unix(kT0), "a@b.service", {{"cause", "age"}, {"total", 4}});
  EXPECT_EQ(r, R"({"ts":"2025-12-01T10:00:00.000Z","type":"restart","unit":"a@b.service",)"
               R"("cause":"age","total":4})");
}

TEST(HistoryRecord, NumbersAndUnitAreReadWithoutParsing) {
  UnitSample u = archiver(1000, 2000);
  u.restarts = {{RestartCause::age, 7}};
  std::string line = history_unit_sample(u, at_unix(kT0));
  EXPECT_EQ(record_unit(line), "archiver@ch1.service");
  EXPECT_EQ(sample_number(line, "rss"), 25005.0);  // the unit's, not top's rss (2005)
  EXPECT_EQ(sample_number(line, "usage"), 6000.0);
  EXPECT_EQ(sample_number(line, "limit"), double(2ull << 30));
  EXPECT_EQ(sample_number(line, "processes"), 4.0);
  EXPECT_EQ(sample_number(line, "age"), std::nullopt);  // inside restarts, after top
  EXPECT_EQ(sample_number(line, "ss"), std::nullopt);   // a key's tail is no key
  UnitSample bare = UnitBuilder("r@x.service", "recorder").main(5, 1, 300).no_cgroup();
  std::string no_cg = history_unit_sample(bare, at_unix(kT0));
  EXPECT_EQ(sample_number(no_cg, "usage"), std::nullopt);
  EXPECT_EQ(sample_number(no_cg, "working_set"), std::nullopt);
  EXPECT_EQ(record_unit(history_node_sample(NodeSample{}, at_unix(kT0))), "");
  // systemd's escaping of "-" in an instance (\x2d) is escaped again by JSON: read back as named.
  UnitSample esc = UnitBuilder("archiver@ch\\x2d1.service", "archiver").main(5, 1, 300);
  EXPECT_EQ(record_unit(history_unit_sample(esc, at_unix(kT0))), "archiver@ch\\x2d1.service");
  EXPECT_EQ(record_unit(history_event("agent_start", at_unix(kT0), "")), "");
}

// ---- query parameters ----

TEST(HistoryQuery, DefaultsToTheLastDay) {
  auto now = at_unix(kT0);
  auto r = parse_history_query({}, now);
  EXPECT_EQ(r.since, now - std::chrono::hours(24));
  EXPECT_EQ(r.until, now);
  EXPECT_EQ(r.unit, "");
  EXPECT_EQ(r.step.count(), 0);
}

TEST(HistoryQuery, ParsesEveryParameter) {
  auto now = at_unix(kT0);
  auto r = parse_history_query({{"unit", "archiver@ch1"},
                                {"since", "6h"},
                                {"until", "2025-12-01T09:30:00Z"},
                                {"step", "5m"}},
                               now);
  EXPECT_EQ(r.unit, "archiver@ch1.service");
  EXPECT_EQ(r.since, now - std::chrono::hours(6));
  EXPECT_EQ(r.until, at_unix(kT0 - 1800));
  EXPECT_EQ(r.step.count(), 300);
}

TEST(HistoryQuery, BadParametersNameThemselves) {
  auto now = at_unix(kT0);
  auto msg = [&](QueryParams q) {
    try {
      parse_history_query(q, now);
    } catch (const HistoryQueryError& e) {
      return std::string(e.what());
    }
    return std::string("accepted");
  };
  EXPECT_THAT(msg({{"since", "yesterday"}}), HasSubstr("since=yesterday"));
  EXPECT_THAT(msg({{"step", "0s"}}), HasSubstr("step=0s"));
  EXPECT_THAT(msg({{"units", "x"}}), HasSubstr("units: unknown parameter"));
  EXPECT_THAT(msg({{"unit", "a"}, {"unit", "b"}}), HasSubstr("unit: given more than once"));
  EXPECT_THAT(msg({{"since", "1h"}, {"until", "2h"}}), HasSubstr("since is after until"));
}

// ---- the answer ----

class HistoryDir : public ::testing::Test {
 protected:
  fixtures::FixtureTree fx;
  std::filesystem::path dir() const { return fx.root() / "history"; }
  void write(const std::vector<std::string>& lines) {
    std::string all;
    for (const auto& l : lines) all += l + "\n";
    fx.write("history/current.jsonl", all);
  }
  static std::string sample(double t, const std::string& unit, uint64_t rss, uint64_t limit = 1000,
                            const std::string& extra = "") {
    UnitSample u = UnitBuilder(unit, "archiver").main(1, 1, rss).limits(limit, 0, 0);
    std::string s = history_unit_sample(u, at_unix(t));
    if (!extra.empty()) s.insert(s.size() - 1, "," + extra);
    return s;
  }
};

TEST_F(HistoryDir, BucketsTakeTheMaximumAndTheLastLimit) {
  write({sample(kT0 + 0, "a@1.service", 10, 1000), sample(kT0 + 10, "a@1.service", 30, 1000),
         sample(kT0 + 20, "a@1.service", 20, 2000),  // same 60 s bucket: rss max 30, limit 2000
         sample(kT0 + 70, "a@1.service", 5, 2000),   // next bucket
         sample(kT0 + 5, "b@1.service", 7),
         history_event("restart", at_unix(kT0 + 15), "a@1.service", {{"cause", "age"}})});
  HistoryApiRequest req{at_unix(kT0), at_unix(kT0 + 120), "", std::chrono::seconds(60)};
  json r = history_api(dir(), req);
  EXPECT_EQ(r["step_seconds"], 60.0);
  EXPECT_EQ(r["columns"],
            json({"ts", "rss", "swap", "usage", "working_set", "limit", "processes"}));
  const auto& a = r["units"]["a@1.service"];
  ASSERT_EQ(a.size(), 2u) << r.dump();
  EXPECT_EQ(a[0][0], kT0 + 20);  // the time of the bucket's last sample
  EXPECT_EQ(a[0][1], 30.0);
  EXPECT_EQ(a[0][3], nullptr);  // no cgroup: usage unknown
  EXPECT_EQ(a[0][5], 2000.0);
  EXPECT_EQ(a[1][1], 5.0);
  EXPECT_EQ(r["units"]["b@1.service"].size(), 1u);
  ASSERT_EQ(r["events"].size(), 1u);
  EXPECT_EQ(r["events"][0]["cause"], "age");
  EXPECT_EQ(r["truncated"], false);
}

TEST_F(HistoryDir, UnitFilterAndRange) {
  write({sample(kT0, "a@1.service", 1), sample(kT0 + 100, "a@1.service", 2),
         sample(kT0 + 100, "b@1.service", 3), sample(kT0 + 300, "a@1.service", 4)});
  HistoryApiRequest req{at_unix(kT0 + 50), at_unix(kT0 + 200), "a@1.service",
                        std::chrono::seconds(1)};
  json r = history_api(dir(), req);
  ASSERT_EQ(r["units"].size(), 1u);
  ASSERT_EQ(r["units"]["a@1.service"].size(), 1u);
  EXPECT_EQ(r["units"]["a@1.service"][0][1], 2.0);
}

TEST_F(HistoryDir, ResponseIsBoundedByPointsUnitsAndEvents) {
  std::vector<std::string> lines;
  for (int i = 0; i < 1000; ++i) {
    lines.push_back(sample(kT0 + i, "a@" + std::to_string(i % 5) + ".service", i));
    lines.push_back(
        history_event("alert_firing", at_unix(kT0 + i), "a@0.service", {{"alert", "X"}, {"n", i}}));
  }
  write(lines);
  HistoryApiLimits lim{10, 3, 7};
  HistoryApiRequest req{at_unix(kT0), at_unix(kT0 + 1000), "", std::chrono::seconds(1)};
  json r = history_api(dir(), req, lim);
  EXPECT_EQ(r["step_seconds"], 100.0);  // 1 s would give 1000 points: widened to fit 10
  EXPECT_EQ(r["units"].size(), 3u);
  for (const auto& [name, pts] : r["units"].items()) EXPECT_LE(pts.size(), 11u) << name;
  ASSERT_EQ(r["events"].size(), 7u);
  EXPECT_EQ(r["events"].back()["n"], 999);  // the newest are kept
  EXPECT_EQ(r["truncated"], true);
}

TEST_F(HistoryDir, ReadingLongerThanMaxTimeFailsNamingWhatToDo) {
  std::vector<std::string> lines;
  for (int i = 0; i < 10'000; ++i) lines.push_back(sample(kT0 + i, "a@1.service", i));
  write(lines);
  HistoryApiRequest req{at_unix(kT0), at_unix(kT0 + 10'000), "", {}};
  HistoryApiLimits no_time;
  no_time.max_time = std::chrono::milliseconds(0);
  try {
    history_api(dir(), req, no_time);
    FAIL() << "no HistoryTooCostly";
  } catch (const HistoryTooCostly& e) {
    // Stopped at the first check (every 4096 records), not after reading everything.
    EXPECT_EQ(std::string(e.what()),
              "history: reading 4096 records took more than 0s; ask for less (a later since=, an "
              "until=, one unit=)");
  }
  EXPECT_EQ(history_api(dir(), req)["units"]["a@1.service"].size(), 1429u);  // 10 s: all, step 7 s
}

TEST_F(HistoryDir, NoHistoryIsAnEmptyAnswer) {
  HistoryApiRequest req{at_unix(kT0), at_unix(kT0 + 10), "", {}};
  json r = history_api(dir(), req);
  EXPECT_TRUE(r["units"].empty());
  EXPECT_TRUE(r["events"].empty());
}

// ---- re-seeding after a restart of the agent ----

TEST_F(HistoryDir, SeedsTakeCountersFromTheNewestSampleAndGrowthFromTheWindow) {
  std::vector<std::string> lines;
  for (int i = 0; i < 40; ++i)  // 40 samples 15 s apart, growing by 1000 B/s
    lines.push_back(sample(kT0 + 15 * i, "a@1.service", 1'000'000 + 15'000 * i, 1000,
                           i == 39 ? R"("restarts":{"age":3,"oom":1},)"
                                     R"("oom_kills":{"total":2,"cgroup":1,"generation":55})"
                                   : R"("restarts":{"age":2})"));
  write(lines);
  SeedOptions o;
  o.growth_window = std::chrono::seconds(300);
  HistoryReadStats st;
  auto seeds = read_seeds(dir(), at_unix(kT0 + 15 * 39 + 5), o, &st);
  ASSERT_EQ(seeds.size(), 1u);
  const UnitSeed& s = seeds.at("a@1.service");
  EXPECT_EQ(s.restarts.at(RestartCause::age), 3u);
  EXPECT_EQ(s.restarts.at(RestartCause::oom), 1u);
  EXPECT_EQ(s.oom_total, 2u);
  EXPECT_EQ(s.oom_cgroup, 1u);
  EXPECT_EQ(s.oom_generation, 55u);
  EXPECT_EQ(s.samples.size(), 20u);  // 300 s window of 15 s samples (the edge included)
  EXPECT_DOUBLE_EQ(s.last_seen, kT0 + 15 * 39);

  // Fed to a fresh tracker (no units.json), the first scan already shows counters and growth.
  UnitTracker tr;
  tr.seed("a@1.service", s, 0);
  auto snap = fixtures::snapshot_at(kT0 + 15 * 40, {UnitBuilder("a@1.service", "archiver")
                                                        .main(1, 1, 1'000'000 + 15'000 * 40)
                                                        .cgroup(55, 1, 2'000'000'000, 1)
                                                        .limits(2'000'000'000, 0, 0)});
  tr.apply(snap);
  const UnitSample& u = snap.units[0];
  EXPECT_EQ(u.restarts.at(RestartCause::age), 3u);
  EXPECT_EQ(u.oom_kills_total, 2u);  // the cgroup's 1 was in the history's total already
  ASSERT_TRUE(u.growth_bytes_per_second);
  EXPECT_NEAR(*u.growth_bytes_per_second, 1000.0, 1.0);
  EXPECT_TRUE(tr.dirty());
}

TEST_F(HistoryDir, SamplesBeforeARestartEventAreLeftOut) {
  write({sample(kT0, "a@1.service", 100), sample(kT0 + 15, "a@1.service", 200),
         history_event("restart", at_unix(kT0 + 20), "a@1.service", {{"cause", "age"}}),
         sample(kT0 + 30, "a@1.service", 10)});
  auto seeds = read_seeds(dir(), at_unix(kT0 + 40), {}, nullptr);
  ASSERT_EQ(seeds.at("a@1.service").samples.size(), 1u);
  EXPECT_EQ(seeds.at("a@1.service").samples[0].second, 10.0);
}

TEST_F(HistoryDir, SeedNeverLowersPersistedCounters) {
  UnitTracker tr;
  tr.load_json(json::parse(R"({"version":1,"units":{"a@1.service":{"generation":9,"oom_base":4,
      "oom_last_raw":1,"restarts":{"age":7},"last_seen":1}}})"));
  UnitSeed s;
  s.restarts = {{RestartCause::age, 5}, {RestartCause::memory, 2}};
  s.oom_total = 3;
  s.oom_generation = 8;
  tr.seed("a@1.service", s, 0);
  auto j = tr.to_json()["units"]["a@1.service"];
  EXPECT_EQ(j["restarts"]["age"], 7);     // units.json is larger: kept
  EXPECT_EQ(j["restarts"]["memory"], 2);  // the history knows more: taken
  EXPECT_EQ(j["oom_base"], 4);
  EXPECT_EQ(j["generation"], 9);
}

TEST_F(HistoryDir, AStaleUnitsJsonDoesNotCountWhatTheHistoryCountedAgain) {
  // units.json was last saved before a restart and an OOM kill (the disk was full); the
  // history recorded both. The first scan after the agent restart must not count them again.
  UnitTracker tr;
  tr.load_json(json::parse(R"({"version":1,"units":{"a@1.service":{"generation":9,"oom_base":1,
      "oom_last_raw":1,"restarts":{"external":1,"oom":0},"last_seen":1,"main":[100,5]}}})"));
  UnitSeed s;
  s.restarts = {{RestartCause::external, 1}, {RestartCause::oom, 1}};
  s.oom_total = 3;
  s.oom_cgroup = 1;
  s.oom_generation = 12;
  tr.seed("a@1.service", s, 0);
  auto snap = fixtures::snapshot_at(kT0, {UnitBuilder("a@1.service", "archiver")
                                              .main(200, 9, 1000)
                                              .cgroup(12, 1000, 1 << 30, 1)
                                              .limits(1 << 30, 0, 0)});
  tr.apply(snap);
  EXPECT_EQ(snap.units[0].restarts.at(RestartCause::oom), 1u);
  EXPECT_EQ(snap.units[0].restarts.at(RestartCause::external), 1u);  // pid 200 is no new restart
  EXPECT_EQ(snap.units[0].oom_kills_total, 3u);                      // not 3 + 1
}

TEST_F(HistoryDir, SamplesOfADownUnitAreNotSeeded) {
  UnitSample down = UnitBuilder("a@1.service", "archiver");
  write({history_unit_sample(down, at_unix(kT0)), sample(kT0 + 15, "a@1.service", 500)});
  auto seeds = read_seeds(dir(), at_unix(kT0 + 20), {}, nullptr);
  ASSERT_EQ(seeds.at("a@1.service").samples.size(), 1u);
  EXPECT_EQ(seeds.at("a@1.service").samples[0].second, 500.0);
}

TEST_F(HistoryDir, WorkingSetMeasureSeedsWorkingSetSamples) {
  std::vector<std::string> lines;
  for (int i = 0; i < 5; ++i) {
    UnitSample u =
        UnitBuilder("a@1.service", "archiver").main(1, 1, 100).cgroup(1, 5000 + i, 1 << 30, 0);
    lines.push_back(history_unit_sample(u, at_unix(kT0 + i)));
  }
  write(lines);
  SeedOptions o;
  o.measure = Measure::working_set;
  auto seeds = read_seeds(dir(), at_unix(kT0 + 10), o, nullptr);
  ASSERT_EQ(seeds.at("a@1.service").samples.size(), 5u);
  EXPECT_EQ(seeds.at("a@1.service").samples[4].second, 5004.0);
}

// ---- a failing store is a warning, not a failure ----

TEST(HistoryHealth, AWriteErrorIsAWarningThatNamesTheFileAndTheCount) {
  auto snap = std::make_shared<Snapshot>(fixtures::snapshot_at(kT0, {archiver(1, 2)}));
  snap->node.mem_total = 1;
  AgentStats stats;
  HistoryStatus h;
  h.error = "/s/history/current.jsonl: No space left on device";
  h.error_since = at_unix(kT0 - 30);
  h.pending = 26;
  h.records_dropped = 0;
  stats.history = h;
  auto p = render(snap, stats, default_config());
  EXPECT_EQ(p->failure, "");  // still healthy: /healthz stays 200
  EXPECT_EQ(p->warning,
            "history not written since 2025-12-01T09:59:30.000Z: /s/history/current.jsonl: No "
            "space left on device (26 records pending, 0 dropped)");
  stats.history->error.clear();
  EXPECT_EQ(render(snap, stats, default_config())->warning, "");
}

}  // namespace
}  // namespace mobasher
