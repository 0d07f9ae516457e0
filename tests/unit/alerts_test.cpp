#include "agent/state/alerts.hpp"

#include <gtest/gtest.h>

#include "fixtures/fixture_tree.hpp"
#include "fixtures/snapshots.hpp"

namespace mobasher {
namespace {

using namespace fixtures;

constexpr double kT0 = 1'800'000'000;
const std::string kUnit = "archiver@ch1.service";
constexpr uint64_t kWarn = 1536_MiB, kCrit = 1945_MiB;

// A unit whose processes hold `rss` bytes (4 MiB main + an ffmpeg with the rest).
UnitSample archiver(uint64_t rss, pid_t main_pid = 101) {
  UnitBuilder b(kUnit, "archiver");
  b.main(main_pid, 5000 + static_cast<uint64_t>(main_pid), 4_MiB)
      .child(main_pid + 1, 6000, rss - 4_MiB);
  b.limits(2_GiB, kWarn, kCrit);
  b.cgroup(7, rss, 2_GiB, 0);
  return b;
}

AlertSettings settings(double for_seconds = 30, double repeat_seconds = 4 * 3600) {
  AlertSettings s;
  s.for_duration = Duration(static_cast<int64_t>(for_seconds * 1000));
  s.repeat_interval = Duration(static_cast<int64_t>(repeat_seconds * 1000));
  s.instance = "host-a";
  s.groups = {"archiver", "recorder"};
  return s;
}

UnitEvent oom_kill(uint64_t increase, uint64_t total) {
  return {UnitEvent::Kind::oom_kill, kUnit, RestartCause::external, increase, total};
}
UnitEvent restart(RestartCause cause, uint64_t increase) {
  return {UnitEvent::Kind::restart, kUnit, cause, increase, increase};
}

struct Step {
  std::vector<Notification> notes;
  Snapshot snap;
};

// events: what the tracker decided in this scan (restarts, OOM kills).
Step eval(AlertEvaluator& e, double t, std::vector<UnitSample> units, NodeSample node = {},
          std::vector<UnitEvent> events = {}) {
  Step s{{}, snapshot_at(t, std::move(units))};
  s.snap.node = node;
  s.snap.events = std::move(events);
  s.notes = e.evaluate(s.snap);
  return s;
}

std::vector<std::string> described(const std::vector<Notification>& ns) {
  std::vector<std::string> out;
  for (const auto& n : ns) out.push_back(n.alertname + " " + to_string(n.kind));
  return out;
}

AlertPhase phase(const Step& s, const std::string& alert) {
  return phase_of(s.snap.units.at(0).alerts, alert);
}

TEST(Alerts, MemoryHighFiresAfterForWithLabelsAndHumanAnnotations) {
  AlertEvaluator e(settings());
  auto below = eval(e, kT0, {archiver(1500_MiB)});
  EXPECT_TRUE(below.notes.empty());
  EXPECT_EQ(phase(below, "MobasherUnitMemoryHigh"), AlertPhase::inactive);

  auto pending = eval(e, kT0 + 5, {archiver(1560_MiB)});
  EXPECT_TRUE(pending.notes.empty());
  EXPECT_EQ(phase(pending, "MobasherUnitMemoryHigh"), AlertPhase::pending);
  EXPECT_TRUE(eval(e, kT0 + 34, {archiver(1560_MiB)}).notes.empty());  // 29 s < for

  auto fired = eval(e, kT0 + 35, {archiver(1560_MiB)});
  ASSERT_EQ(described(fired.notes), std::vector<std::string>{"MobasherUnitMemoryHigh firing"});
  EXPECT_EQ(phase(fired, "MobasherUnitMemoryHigh"), AlertPhase::firing);
  const Notification& n = fired.notes[0];
  EXPECT_EQ(n.status(), NotificationStatus::firing);
  EXPECT_EQ(n.labels, (std::map<std::string, std::string>{{"alertname", "MobasherUnitMemoryHigh"},
                                                          {"severity", "warning"},
                                                          {"unit", kUnit},
                                                          {"group", "archiver"},
                                                          {"channel", "ch1"},
                                                          {"instance", "host-a"}}));
  EXPECT_DOUBLE_EQ(n.starts_at, kT0 + 5);  // when it became pending, as Prometheus does
  EXPECT_FALSE(n.ends_at);
  EXPECT_DOUBLE_EQ(n.value, static_cast<double>(1560_MiB));
  EXPECT_DOUBLE_EQ(n.threshold, static_cast<double>(kWarn));
  EXPECT_EQ(n.annotations.at("summary"),
            "archiver@ch1.service: memory 1.52GiB at or above the warning threshold 1.50GiB");
  EXPECT_NE(n.annotations.at("description").find("limit 2.00GiB (76.2% used)"), std::string::npos)
      << n.annotations.at("description");
  EXPECT_EQ(n.fingerprint, label_fingerprint(n.labels));
}

TEST(Alerts, ForZeroFiresOnTheFirstScan) {
  AlertEvaluator e(settings(0));
  auto s = eval(e, kT0, {archiver(1560_MiB)});
  EXPECT_EQ(described(s.notes), std::vector<std::string>{"MobasherUnitMemoryHigh firing"});
}

TEST(Alerts, DroppingBelowTheThresholdBeforeForResetsPending) {
  AlertEvaluator e(settings());
  eval(e, kT0, {archiver(1560_MiB)});
  auto gone = eval(e, kT0 + 10, {archiver(1400_MiB)});  // below the 95 % hold too
  EXPECT_EQ(phase(gone, "MobasherUnitMemoryHigh"), AlertPhase::inactive);
  eval(e, kT0 + 20, {archiver(1560_MiB)});
  EXPECT_TRUE(eval(e, kT0 + 45, {archiver(1560_MiB)}).notes.empty());  // pending anew since +20
  EXPECT_EQ(eval(e, kT0 + 50, {archiver(1560_MiB)}).notes.size(), 1u);
}

TEST(Alerts, HoveringAtTheThresholdFiresOnceAndDoesNotFlap) {
  AlertEvaluator e(settings(0));
  int firing = 0, resolved = 0;
  for (int i = 0; i < 100; ++i) {  // 1.49 / 1.51 GiB alternating, within the 5 % band
    auto s = eval(e, kT0 + 5 * i, {archiver(i % 2 ? 1546_MiB : 1526_MiB)});
    for (auto& n : s.notes)
      (n.kind == NotificationKind::resolved ? resolved : firing) +=
          n.kind != NotificationKind::repeat;
  }
  EXPECT_EQ(firing, 1);
  EXPECT_EQ(resolved, 0);
  // 95 % of 1.5 GiB is 1459.2 MiB: 1460 MiB still holds, 1459 MiB resolves.
  EXPECT_TRUE(eval(e, kT0 + 600, {archiver(1460_MiB)}).notes.empty());
  auto r = eval(e, kT0 + 605, {archiver(1459_MiB)});
  ASSERT_EQ(described(r.notes), std::vector<std::string>{"MobasherUnitMemoryHigh resolved"});
  EXPECT_DOUBLE_EQ(*r.notes[0].ends_at, kT0 + 605);
  EXPECT_DOUBLE_EQ(r.notes[0].starts_at, kT0 + 5);
  EXPECT_DOUBLE_EQ(r.notes[0].value, static_cast<double>(1459_MiB));  // the value now
  EXPECT_EQ(r.notes[0].annotations.at("summary").rfind("resolved: ", 0), 0u);
}

TEST(Alerts, RepeatsEveryRepeatIntervalWhileFiring) {
  AlertEvaluator e(settings(0, 3600));
  eval(e, kT0, {archiver(1560_MiB)});
  EXPECT_TRUE(eval(e, kT0 + 3599, {archiver(1560_MiB)}).notes.empty());
  EXPECT_EQ(described(eval(e, kT0 + 3600, {archiver(1560_MiB)}).notes),
            std::vector<std::string>{"MobasherUnitMemoryHigh repeat"});
  EXPECT_TRUE(eval(e, kT0 + 3605, {archiver(1560_MiB)}).notes.empty());
  EXPECT_EQ(eval(e, kT0 + 7200, {archiver(1560_MiB)}).notes.size(), 1u);
}

TEST(Alerts, NoResolvedNotificationWhenResolveIsOff) {
  auto s = settings(0);
  s.resolve = false;
  AlertEvaluator e(s);
  eval(e, kT0, {archiver(1560_MiB)});
  auto r = eval(e, kT0 + 5, {archiver(1_GiB)});
  EXPECT_TRUE(r.notes.empty());
  EXPECT_EQ(phase(r, "MobasherUnitMemoryHigh"), AlertPhase::inactive);
}

TEST(Alerts, CriticalFiresWithHighAndResolvesFirst) {
  AlertEvaluator e(settings(0));
  auto s = eval(e, kT0, {archiver(1950_MiB)});
  EXPECT_EQ(described(s.notes), (std::vector<std::string>{"MobasherUnitMemoryHigh firing",
                                                          "MobasherUnitMemoryCritical firing"}));
  EXPECT_EQ(s.notes[1].labels.at("severity"), "critical");
  auto down = eval(e, kT0 + 5, {archiver(1700_MiB)});
  EXPECT_EQ(described(down.notes), std::vector<std::string>{"MobasherUnitMemoryCritical resolved"});
}

TEST(Alerts, WorkingSetMeasureUsesTheCgroupNotRss) {
  auto s = settings(0);
  s.measure = Measure::working_set;
  AlertEvaluator e(s);
  UnitSample u = archiver(100_MiB);  // processes small, cgroup charged with page cache
  u.memory.usage = 1600_MiB;
  u.memory.inactive_file = 10_MiB;
  auto r = eval(e, kT0, {u});
  ASSERT_EQ(described(r.notes), std::vector<std::string>{"MobasherUnitMemoryHigh firing"});
  EXPECT_DOUBLE_EQ(r.notes[0].value, static_cast<double>(1590_MiB));
}

TEST(Alerts, ExhaustionPredictedWithinTheHorizon) {
  AlertEvaluator e(settings(0));
  UnitSample u = archiver(1_GiB);
  u.predict_seconds = 600;
  u.growth_bytes_per_second = 2_MiB;
  u.seconds_to_limit = 700;
  EXPECT_TRUE(eval(e, kT0, {u}).notes.empty());
  u.seconds_to_limit = 590;
  auto f = eval(e, kT0 + 5, {u});
  ASSERT_EQ(described(f.notes),
            std::vector<std::string>{"MobasherUnitMemoryExhaustionPredicted firing"});
  EXPECT_EQ(f.notes[0].annotations.at("summary"),
            "archiver@ch1.service: memory limit 2.00GiB predicted in ~9m50s");
  u.seconds_to_limit = 625;  // inside the 5 % band (630 s): holds
  EXPECT_TRUE(eval(e, kT0 + 10, {u}).notes.empty());
  u.seconds_to_limit.reset();  // growth stopped
  EXPECT_EQ(described(eval(e, kT0 + 15, {u}).notes),
            std::vector<std::string>{"MobasherUnitMemoryExhaustionPredicted resolved"});
}

TEST(Alerts, OomKillFiresAtOnceAndResolvesAfterFifteenQuietMinutes) {
  AlertEvaluator e(settings());  // `for` does not delay event alerts
  UnitSample u = archiver(1_GiB);
  u.oom_kills_total = 2;  // no event: nothing fires
  EXPECT_TRUE(eval(e, kT0, {u}).notes.empty());
  u.oom_kills_total = 3;
  auto f = eval(e, kT0 + 5, {u}, {}, {oom_kill(1, 3)});
  ASSERT_EQ(described(f.notes), std::vector<std::string>{"MobasherUnitOOMKilled firing"});
  EXPECT_EQ(f.notes[0].labels.at("severity"), "critical");
  EXPECT_NE(f.notes[0].annotations.at("description").find("3 OOM kills in all"), std::string::npos);
  EXPECT_TRUE(eval(e, kT0 + 5 + 899, {u}).notes.empty());
  EXPECT_EQ(described(eval(e, kT0 + 5 + 900, {u}).notes),
            std::vector<std::string>{"MobasherUnitOOMKilled resolved"});
}

TEST(Alerts, RestartLoopAtThreeRestartsInFifteenMinutes) {
  AlertEvaluator e(settings());
  UnitSample u = archiver(100_MiB);
  eval(e, kT0, {u});
  for (int i = 1; i <= 2; ++i)
    EXPECT_TRUE(eval(e, kT0 + 60 * i, {u}, {}, {restart(RestartCause::external, 1)}).notes.empty());
  auto f = eval(e, kT0 + 180, {u}, {}, {restart(RestartCause::oom, 1)});  // causes add up
  ASSERT_EQ(described(f.notes), std::vector<std::string>{"MobasherUnitRestartLoop firing"});
  EXPECT_DOUBLE_EQ(f.notes[0].value, 3);
  // The first restart (at +60) leaves the window at +960: two left, resolved.
  EXPECT_TRUE(eval(e, kT0 + 959, {u}).notes.empty());
  EXPECT_EQ(described(eval(e, kT0 + 960, {u}).notes),
            std::vector<std::string>{"MobasherUnitRestartLoop resolved"});
}

TEST(Alerts, UnitWithoutProcessesIsDownAfterFor) {
  AlertEvaluator e(settings(30));
  eval(e, kT0, {archiver(100_MiB)});
  UnitSample empty = archiver(100_MiB);
  empty.processes.clear();
  eval(e, kT0 + 5, {empty});
  auto f = eval(e, kT0 + 35, {empty});
  ASSERT_EQ(described(f.notes), std::vector<std::string>{"MobasherUnitDown firing"});
  EXPECT_EQ(described(eval(e, kT0 + 40, {archiver(100_MiB)}).notes),
            std::vector<std::string>{"MobasherUnitDown resolved"});
}

TEST(Alerts, VanishedUnitIsDownUntilItReturnsAndItsOtherAlertsResolve) {
  AlertEvaluator e(settings(0));
  eval(e, kT0, {archiver(1560_MiB)});  // MemoryHigh firing
  auto gone = eval(e, kT0 + 5, {});    // systemd removed the cgroup: stopped or failed
  EXPECT_EQ(described(gone.notes), (std::vector<std::string>{"MobasherUnitMemoryHigh resolved",
                                                             "MobasherUnitDown firing"}));
  EXPECT_EQ(gone.notes[1].labels.at("channel"), "ch1");  // labels remembered from before
  EXPECT_NE(gone.notes[1].annotations.at("description").find("cgroup is gone"), std::string::npos);
  EXPECT_TRUE(eval(e, kT0 + 3600, {}).notes.empty());
  EXPECT_EQ(described(eval(e, kT0 + 3605, {archiver(100_MiB)}).notes),
            std::vector<std::string>{"MobasherUnitDown resolved"});
}

TEST(Alerts, VanishedUnitIsForgottenAfterADayOrWhenItsGroupIsRemoved) {
  AlertEvaluator e(settings(0));
  eval(e, kT0, {archiver(100_MiB)});
  eval(e, kT0 + 5, {});
  EXPECT_EQ(described(eval(e, kT0 + 86400, {}).notes),  // still down, said again every 4h
            std::vector<std::string>{"MobasherUnitDown repeat"});
  auto forgotten = eval(e, kT0 + 86401, {});
  ASSERT_EQ(described(forgotten.notes), std::vector<std::string>{"MobasherUnitDown resolved"});
  EXPECT_EQ(forgotten.notes[0].annotations.at("summary"),
            "resolved: archiver@ch1.service is no longer tracked");
  EXPECT_EQ(e.tracked_alerts(), 0u);

  AlertEvaluator g(settings(0));
  eval(g, kT0, {archiver(100_MiB)});
  eval(g, kT0 + 5, {});
  auto s = settings(0);
  s.groups = {"recorder"};  // a reload dropped the archiver group
  g.set_settings(s);
  EXPECT_EQ(described(eval(g, kT0 + 10, {}).notes),
            std::vector<std::string>{"MobasherUnitDown resolved"});
}

// Sep 15: a unit whose cgroup has no limit (v2 "max", v1 ~2^63) runs on the configured
// memory_limit, which nothing enforces.
UnitSample unlimited(uint64_t rss) {
  UnitSample u = archiver(rss);
  u.memory.limit.reset();
  return u;
}

TEST(Alerts, NoMemoryLimitFiresAfterForAndResolvesWhenTheCgroupGetsALimit) {
  AlertEvaluator e(settings(30));
  auto pending = eval(e, kT0, {unlimited(100_MiB)});
  EXPECT_TRUE(pending.notes.empty());
  EXPECT_EQ(phase(pending, "MobasherUnitNoMemoryLimit"), AlertPhase::pending);
  EXPECT_TRUE(eval(e, kT0 + 29, {unlimited(100_MiB)}).notes.empty());

  auto fired = eval(e, kT0 + 30, {unlimited(100_MiB)});
  ASSERT_EQ(described(fired.notes), std::vector<std::string>{"MobasherUnitNoMemoryLimit firing"});
  EXPECT_EQ(phase(fired, "MobasherUnitNoMemoryLimit"), AlertPhase::firing);
  const Notification& n = fired.notes[0];
  EXPECT_EQ(n.labels,
            (std::map<std::string, std::string>{{"alertname", "MobasherUnitNoMemoryLimit"},
                                                {"severity", "warning"},
                                                {"unit", kUnit},
                                                {"group", "archiver"},
                                                {"channel", "ch1"},
                                                {"instance", "host-a"}}));
  EXPECT_DOUBLE_EQ(n.value, static_cast<double>(2_GiB));  // the configured fallback
  EXPECT_DOUBLE_EQ(*n.limit, static_cast<double>(2_GiB));
  EXPECT_EQ(n.annotations.at("summary"),
            "archiver@ch1.service: no memory limit, the configured 2.00GiB is not enforced");
  EXPECT_EQ(n.annotations.at("description"),
            "archiver@ch1.service (channel ch1) runs with no memory limit on its cgroup: nothing "
            "stops its memory before the host runs out, and the agent measures it against the "
            "configured memory_limit of 2.00GiB instead. Set MemoryMax= on the unit "
            "(docs/alerts.md).");

  // Restarted with MemoryMax=2G: the new cgroup has its limit.
  auto limited = eval(e, kT0 + 35, {archiver(100_MiB)});
  ASSERT_EQ(described(limited.notes),
            std::vector<std::string>{"MobasherUnitNoMemoryLimit resolved"});
  EXPECT_DOUBLE_EQ(*limited.notes[0].ends_at, kT0 + 35);
  EXPECT_EQ(phase(limited, "MobasherUnitNoMemoryLimit"), AlertPhase::inactive);
}

TEST(Alerts, NoMemoryLimitNotForAUnitWithALimitOrWithoutProcesses) {
  AlertEvaluator e(settings(0));
  auto limited = eval(e, kT0, {archiver(100_MiB)});
  EXPECT_TRUE(limited.notes.empty());
  EXPECT_EQ(phase(limited, "MobasherUnitNoMemoryLimit"), AlertPhase::inactive);

  AlertEvaluator stopped(settings(0));
  UnitSample empty = unlimited(100_MiB);
  empty.processes.clear();  // nothing runs: MobasherUnitDown's business, not this one's
  auto s = eval(stopped, kT0, {empty});
  EXPECT_EQ(described(s.notes), std::vector<std::string>{"MobasherUnitDown firing"});
  EXPECT_EQ(phase(s, "MobasherUnitNoMemoryLimit"), AlertPhase::inactive);
}

TEST(Alerts, NoMemoryLimitResolvesWhenTheUnitStopsOrVanishes) {
  AlertEvaluator e(settings(0));
  ASSERT_EQ(described(eval(e, kT0, {unlimited(100_MiB)}).notes),
            std::vector<std::string>{"MobasherUnitNoMemoryLimit firing"});
  UnitSample empty = unlimited(100_MiB);
  empty.processes.clear();
  EXPECT_EQ(
      described(eval(e, kT0 + 5, {empty}).notes),
      (std::vector<std::string>{"MobasherUnitDown firing", "MobasherUnitNoMemoryLimit resolved"}));

  AlertEvaluator g(settings(0));
  eval(g, kT0, {unlimited(100_MiB)});
  EXPECT_EQ(
      described(eval(g, kT0 + 5, {}).notes),
      (std::vector<std::string>{"MobasherUnitDown firing", "MobasherUnitNoMemoryLimit resolved"}));
}

// A `match` group's unit (processes matched by name) has no memory cgroup: no limit either.
TEST(Alerts, NoMemoryLimitForAUnitWithoutAMemoryCgroup) {
  AlertEvaluator e(settings(0));
  UnitBuilder b("archiver@ch9", "archiver");
  b.main(901, 9000, 50_MiB, "ffmpeg").limits(2_GiB, kWarn, kCrit).no_cgroup();
  b.sample().channel = "ch9";
  auto s = eval(e, kT0, {b});
  ASSERT_EQ(described(s.notes), std::vector<std::string>{"MobasherUnitNoMemoryLimit firing"});
  EXPECT_NE(s.notes[0].annotations.at("description").find("runs with no memory cgroup"),
            std::string::npos)
      << s.notes[0].annotations.at("description");
}

TEST(Alerts, NodeMemoryLowAndSwapHighWithThresholdsInTheSnapshot) {
  AlertEvaluator e(settings(0));
  NodeSample n;
  n.mem_total = 32_GiB;
  n.mem_available = 3_GiB;  // below 10 % (3.2 GiB)
  n.swap_total = 8_GiB;
  n.swap_free = 1_GiB;  // 7 GiB used of 8, above 80 % (6.4 GiB)
  auto f = eval(e, kT0, {}, n);
  EXPECT_EQ(described(f.notes), (std::vector<std::string>{"MobasherNodeMemoryLow firing",
                                                          "MobasherNodeSwapHigh firing"}));
  EXPECT_EQ(*f.snap.node.memory_available_min, static_cast<uint64_t>(3.2 * (1ull << 30)));
  EXPECT_EQ(*f.snap.node.swap_used_max, static_cast<uint64_t>(6.4 * (1ull << 30)));
  EXPECT_EQ(phase_of(f.snap.node.alerts, "MobasherNodeMemoryLow"), AlertPhase::firing);
  EXPECT_EQ(f.notes[0].labels,
            (std::map<std::string, std::string>{{"alertname", "MobasherNodeMemoryLow"},
                                                {"severity", "critical"},
                                                {"instance", "host-a"}}));
  n.mem_available = 3300_MiB;  // above 3.2 GiB, within 5 %: holds
  n.swap_free = 1800_MiB;      // 6.24 GiB used: above 95 % of 6.4 GiB, holds
  EXPECT_TRUE(eval(e, kT0 + 5, {}, n).notes.empty());
  n.mem_available = 4_GiB;
  n.swap_free = 4_GiB;
  EXPECT_EQ(described(eval(e, kT0 + 10, {}, n).notes),
            (std::vector<std::string>{"MobasherNodeMemoryLow resolved",
                                      "MobasherNodeSwapHigh resolved"}));
}

TEST(Alerts, NoSwapMeansNoSwapAlertAndNoThreshold) {
  AlertEvaluator e(settings(0));
  NodeSample n;
  n.mem_total = 32_GiB;
  n.mem_available = 16_GiB;
  n.swap_total = 0;
  n.swap_free = 0;
  auto s = eval(e, kT0, {}, n);
  EXPECT_TRUE(s.notes.empty());
  EXPECT_FALSE(s.snap.node.swap_used_max);
  EXPECT_EQ(phase_of(s.snap.node.alerts, "MobasherNodeSwapHigh"), AlertPhase::inactive);
}

TEST(Alerts, StateSurvivesARestartSoAResolveStillArrives) {
  AlertEvaluator before(settings(0));
  eval(before, kT0, {archiver(1560_MiB)});
  ASSERT_TRUE(before.dirty());
  auto saved = before.to_json();

  AlertEvaluator after(settings(0));
  after.load_json(nlohmann::json::parse(saved.dump()));
  EXPECT_EQ(after.tracked_alerts(), 1u);
  // Still high after the restart: no second firing notification.
  EXPECT_TRUE(eval(after, kT0 + 20, {archiver(1560_MiB)}).notes.empty());
  auto r = eval(after, kT0 + 25, {archiver(1_GiB)});
  ASSERT_EQ(described(r.notes), std::vector<std::string>{"MobasherUnitMemoryHigh resolved"});
  EXPECT_DOUBLE_EQ(r.notes[0].starts_at, kT0);
}

TEST(Alerts, OomKillAlertOutlivesAnAgentRestart) {
  AlertEvaluator before(settings());
  UnitSample u = archiver(1_GiB);
  u.oom_kills_total = 1;
  eval(before, kT0, {u}, {}, {oom_kill(1, 1)});
  AlertEvaluator after(settings());
  after.load_json(before.to_json());
  // Still firing after the agent's restart, and quiet: no second notification.
  EXPECT_TRUE(eval(after, kT0 + 60, {u}).notes.empty());
  EXPECT_EQ(phase(eval(after, kT0 + 65, {u}), "MobasherUnitOOMKilled"), AlertPhase::firing);
}

TEST(Alerts, BadStateIsRejected) {
  AlertEvaluator e(settings());
  EXPECT_THROW(e.load_json(nlohmann::json{{"version", 2}}), nlohmann::json::exception);
  EXPECT_THROW(e.load_json(nlohmann::json::parse(
                   R"({"version":1,"alerts":[{"alertname":"X","unit":"u","labels":{},
                       "phase":"exploded","active_since":0,"last_notified":0,"value":0,
                       "threshold":0,"summary":"","description":""}],"units":{}})")),
               nlohmann::json::exception);
}

TEST(Alerts, FiringListsEveryFiringAlertAsARepeat) {
  AlertEvaluator e(settings(0));
  eval(e, kT0, {archiver(1950_MiB)});
  auto f = e.firing(kT0 + 1);
  ASSERT_EQ(described(f), (std::vector<std::string>{"MobasherUnitMemoryCritical repeat",
                                                    "MobasherUnitMemoryHigh repeat"}));
  EXPECT_EQ(f[0].status(), NotificationStatus::firing);
}

TEST(Alerts, NotificationRoundTripsThroughJson) {
  AlertEvaluator e(settings(0));
  auto n = eval(e, kT0, {archiver(1560_MiB)}).notes.at(0);
  n.ends_at = kT0 + 9;
  auto back = Notification::from_json(nlohmann::json::parse(n.to_json().dump()));
  EXPECT_EQ(back.to_json(), n.to_json());
  EXPECT_THROW(Notification::from_json({{"status", "maybe"}}), nlohmann::json::exception);
}

// Written by the version that kept kinds, statuses and alert names as strings: the enums read
// them and write the same bytes back (alerts.json; an outbox file's "notification").
TEST(Alerts, StateAndNotificationsOfTheEarlierVersionKeepTheirBytes) {
  const std::string state =
      R"({"alerts":[{"active_since":1800000000.5,"alertname":"MobasherUnitMemoryHigh",)"
      R"("description":"d","labels":{"alertname":"MobasherUnitMemoryHigh","severity":"warning"},)"
      R"("last_notified":1800000030.5,"phase":"firing","summary":"s","threshold":1610612736.0,)"
      R"("unit":"archiver@ch1.service","value":1635778560.0}],"units":{"archiver@ch1.service":)"
      R"({"channel":"ch1","group":"archiver","last_seen":1800000030.5,"restarts":[]}},)"
      R"("version":1})";
  AlertEvaluator e(settings());
  e.load_json(nlohmann::json::parse(state));
  EXPECT_EQ(e.tracked_alerts(), 1u);
  EXPECT_EQ(e.to_json().dump(), state);

  for (const char* kind : {"firing", "repeat", "resolved"}) {
    const std::string status = std::string(kind) == "resolved" ? "resolved" : "firing";
    const std::string note =
        R"({"alertname":"MobasherNodeMemoryLow","annotations":{"summary":"s"},"at":1800000060.0,)"
        R"("fingerprint":"0123456789abcdef","kind":")" +
        std::string(kind) +
        R"(","labels":{"alertname":"MobasherNodeMemoryLow"},)"
        R"("starts_at":1800000000.0,"status":")" +
        status + R"(","threshold":100.0,"value":50.0})";
    EXPECT_EQ(Notification::from_json(nlohmann::json::parse(note)).to_json().dump(), note);
  }
}

TEST(Alerts, FingerprintMatchesAlertmanagers) {
  // Alertmanager (prometheus/common model.LabelSet.Fingerprint): FNV-1a 64 over sorted
  // "name 0xff value 0xff"; the empty set is the FNV offset basis. Values computed with Python.
  EXPECT_EQ(label_fingerprint({}), "cbf29ce484222325");
  EXPECT_EQ(label_fingerprint({{"job", "x"}, {"alertname", "Test"}}), "7d462c951641368d");
  EXPECT_EQ(label_fingerprint({{"a", "b"}}), label_fingerprint({{"a", "b"}}));
  EXPECT_NE(label_fingerprint({{"a", "b"}}), label_fingerprint({{"a", "c"}}));
  EXPECT_NE(label_fingerprint({{"ab", ""}}), label_fingerprint({{"a", "b"}}));
}

}  // namespace
}  // namespace mobasher
