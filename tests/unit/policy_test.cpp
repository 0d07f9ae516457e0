// The restart policy on hand-built snapshots and a fake clock (the snapshots' times).
#include "agent/state/policy.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <set>

#include "fixtures/policy.hpp"
#include "fixtures/snapshots.hpp"

namespace mobasher {
namespace {

using fixtures::snapshot_at;
using fixtures::UnitBuilder;

constexpr uint64_t GiB = 1ull << 30, MiB = 1ull << 20;
constexpr double kT0 = 1'800'000'000;  // a Unix time; multiples of 4 h fall on 00:00 UTC + 4k h

PolicySettings settings() {
  return fixtures::plan_policy();
}

// A running archiver with `rss` bytes, started at `start` (Unix seconds), limit 2 GiB.
UnitSample unit(const std::string& name, uint64_t rss, double start = kT0 - 60, pid_t pid = 100,
                const std::string& group = "archiver") {
  UnitBuilder b(name, group);
  b.main(pid, static_cast<uint64_t>(start), rss, "ffmpeg", start)
      .cgroup(1, rss, 2 * GiB, 0)
      .limits(2 * GiB, 1536 * MiB, 1946 * MiB);
  return b;
}

// A running archiver well below on_memory whose growth predicts its limit in `seconds`.
UnitSample predicting(const std::string& name, double seconds = 100, pid_t pid = 100) {
  UnitSample u = unit(name, 1000 * MiB, kT0 - 60, pid);
  u.seconds_to_limit = seconds;
  u.growth_bytes_per_second = 10.0 * MiB;
  return u;
}

TEST(Policy, RestartsAUnitAboveOnMemoryOnlyAfterFor) {
  Policy p(settings());
  uint64_t high = 1900 * MiB;  // 90 % of 2 GiB is 1843.2 MiB
  EXPECT_TRUE(p.decide(snapshot_at(kT0, {unit("archiver@ch1.service", high)})).decisions.empty());
  EXPECT_TRUE(
      p.decide(snapshot_at(kT0 + 25, {unit("archiver@ch1.service", high)})).decisions.empty());
  auto r = p.decide(snapshot_at(kT0 + 30, {unit("archiver@ch1.service", high)}));
  ASSERT_EQ(r.decisions.size(), 1u);
  const Decision& d = r.decisions[0];
  EXPECT_EQ(d.unit, "archiver@ch1.service");
  EXPECT_EQ(d.group, "archiver");
  EXPECT_EQ(d.cause, RestartCause::memory);
  EXPECT_EQ(d.action, ActionKind::restart);
  EXPECT_DOUBLE_EQ(d.value, static_cast<double>(high));
  EXPECT_EQ(d.threshold, static_cast<double>(static_cast<uint64_t>(2.0 * GiB * 0.9)));
  EXPECT_EQ(d.reason, "rss 1.86GiB >= 1.80GiB (90% of the 2.00GiB limit) for 30s");
  EXPECT_FALSE(d.dry_run);
  EXPECT_EQ(p.in_flight(), 1u);
}

TEST(Policy, ADipBelowOnMemoryStartsForAgain) {
  Policy p(settings());
  uint64_t high = 1900 * MiB, low = 1000 * MiB;
  p.decide(snapshot_at(kT0, {unit("archiver@ch1.service", high)}));
  p.decide(snapshot_at(kT0 + 20, {unit("archiver@ch1.service", low)}));
  EXPECT_TRUE(
      p.decide(snapshot_at(kT0 + 40, {unit("archiver@ch1.service", high)})).decisions.empty());
  EXPECT_EQ(p.decide(snapshot_at(kT0 + 70, {unit("archiver@ch1.service", high)})).decisions.size(),
            1u);
}

TEST(Policy, TheRealCgroupLimitIsWhatPercentagesReferTo) {
  Policy p(settings());
  UnitSample u = unit("archiver@ch1.service", 950 * MiB);
  u.memory.limit = 1 * GiB;  // the unit's MemoryMax= is 1G, not the group's 2G
  p.decide(snapshot_at(kT0, {u}));
  auto r = p.decide(snapshot_at(kT0 + 30, {u}));
  ASSERT_EQ(r.decisions.size(), 1u);
  EXPECT_EQ(r.decisions[0].threshold, static_cast<double>(static_cast<uint64_t>(GiB * 0.9)));
}

TEST(Policy, PredictedExhaustionRestartsBeforeTheLimit) {
  Policy p(settings());
  UnitSample u = unit("archiver@ch1.service", 1200 * MiB);
  u.growth_bytes_per_second = 2.0 * MiB;
  u.seconds_to_limit = 424;  // within predict (600 s)
  p.decide(snapshot_at(kT0, {u}));
  auto r = p.decide(snapshot_at(kT0 + 30, {u}));
  ASSERT_EQ(r.decisions.size(), 1u);
  EXPECT_EQ(r.decisions[0].cause, RestartCause::predicted);
  EXPECT_DOUBLE_EQ(r.decisions[0].value, 424);
  EXPECT_EQ(r.decisions[0].reason,
            "limit 2.00GiB predicted in 7m04s (growth 2.00MiB/s) <= predict 10m");
  UnitSample slow = unit("archiver@ch2.service", 1200 * MiB);
  slow.seconds_to_limit = 601;
  p.decide(snapshot_at(kT0 + 40, {slow}));
  EXPECT_TRUE(p.decide(snapshot_at(kT0 + 80, {slow})).decisions.empty());
}

TEST(Policy, OnlyUnitsOfConfiguredSystemdGroupsAreTouched) {
  PolicySettings s = settings();
  PolicyGroup scripts;
  scripts.name = "scripts";
  scripts.systemd = false;  // process-matched: no unit to restart
  scripts.on_memory = Size{1, std::nullopt};
  s.groups.push_back(scripts);
  Policy p(s);
  uint64_t high = 1900 * MiB;
  std::vector<UnitSample> units = {unit("sshd.service", high, kT0 - 86400, 10, "other"),
                                   unit("ffmpeg-script", high, kT0 - 86400, 11, "scripts")};
  for (double t = kT0; t < kT0 + 3600; t += 5)
    EXPECT_TRUE(p.decide(snapshot_at(t, units)).decisions.empty()) << t;
}

TEST(Policy, DownUnitsAreNotRestarted) {
  Policy p(settings());
  UnitSample down =
      UnitBuilder("archiver@ch1.service", "archiver").cgroup(1, 1900 * MiB, 2 * GiB, 0);
  p.decide(snapshot_at(kT0, {down}));
  EXPECT_TRUE(p.decide(snapshot_at(kT0 + 60, {down})).decisions.empty());
}

TEST(Policy, OneUnitPerGroupAtATimeAndEmergenciesWaitOnlyForItAndTheEmergencyGap) {
  Policy p(settings());
  uint64_t high = 1900 * MiB;
  std::vector<UnitSample> six;
  for (int i = 1; i <= 6; ++i)
    six.push_back(
        unit("archiver@ch" + std::to_string(i) + ".service", high + i * MiB, kT0 - 60, 100 + i));
  p.decide(snapshot_at(kT0, six));
  auto r = p.decide(snapshot_at(kT0 + 30, six));
  ASSERT_EQ(r.decisions.size(), 1u);
  EXPECT_EQ(r.decisions[0].unit, "archiver@ch6.service");  // the fullest first
  for (double t = kT0 + 35; t < kT0 + 300; t += 5)
    EXPECT_TRUE(p.decide(snapshot_at(t, six)).decisions.empty()) << "in flight at " << t;
  p.finished("archiver@ch6.service", true, kT0 + 300);
  // never the cooldown (2 m): ch6 is seen active again at +300, then emergency_gap (5 s)
  EXPECT_TRUE(p.decide(snapshot_at(kT0 + 300, six)).decisions.empty());
  EXPECT_TRUE(p.decide(snapshot_at(kT0 + 304, six)).decisions.empty());
  r = p.decide(snapshot_at(kT0 + 305, six));
  ASSERT_EQ(r.decisions.size(), 1u);
  EXPECT_EQ(r.decisions[0].unit, "archiver@ch5.service");
}

TEST(Policy, SixLeakingUnitsAreRestartedOneAtATimeNeverTogether) {
  Policy p(settings());
  std::set<std::string> restarted;
  std::string flying;
  double flying_until = 0;
  for (double t = kT0; t < kT0 + 3600; t += 5) {
    std::vector<UnitSample> units;
    for (int i = 1; i <= 6; ++i) {
      std::string name = "archiver@ch" + std::to_string(i) + ".service";
      units.push_back(unit(name, restarted.count(name) ? 300 * MiB : 1900 * MiB, kT0 - 60, i));
    }
    if (!flying.empty() && t >= flying_until) {
      p.finished(flying, true, t);
      restarted.insert(flying);
      flying.clear();
    }
    auto r = p.decide(snapshot_at(t, units));
    ASSERT_LE(r.decisions.size(), 1u);
    if (!r.decisions.empty()) {
      ASSERT_TRUE(flying.empty()) << "two at once at " << t;
      flying = r.decisions[0].unit;
      flying_until = t + 20;
    }
  }
  EXPECT_EQ(restarted.size(), 6u);
}

TEST(Policy, GroupsAreIndependentAndMaxConcurrentHoldsAllButMemoryEmergencies) {
  PolicySettings s = settings();
  s.max_concurrent = 2;
  Policy p(s);
  uint64_t high = 1900 * MiB;
  std::vector<UnitSample> units = {unit("archiver@ch1.service", high, kT0 - 60, 1),
                                   unit("recorder@ch1.service", high, kT0 - 60, 2, "recorder")};
  units[1].memory.limit = 1536 * MiB;
  p.decide(snapshot_at(kT0, units));
  EXPECT_EQ(p.decide(snapshot_at(kT0 + 30, units)).decisions.size(), 2u);

  // Memory emergencies wait only for their own group: max_concurrent 1 does not hold them ...
  s.max_concurrent = 1;
  Policy one(s);
  one.decide(snapshot_at(kT0, units));
  EXPECT_EQ(one.decide(snapshot_at(kT0 + 30, units)).decisions.size(), 2u);
  // ... but it holds predicted restarts.
  std::vector<UnitSample> growing = {predicting("archiver@ch1.service", 100, 1),
                                     predicting("recorder@ch1.service", 100, 2)};
  growing[1].group = "recorder";
  Policy two(s);
  two.decide(snapshot_at(kT0, growing));
  EXPECT_EQ(two.decide(snapshot_at(kT0 + 30, growing)).decisions.size(), 1u);
}

TEST(Policy, PerUnitHourlyLimitHoldsAndIsReportedOnce) {
  PolicySettings s = settings();
  s.cooldown = 60;
  Policy p(s);
  uint64_t high = 1900 * MiB;
  int restarts = 0, held = 0;
  for (double t = kT0; t < kT0 + 3000; t += 5) {
    auto r = p.decide(snapshot_at(t, {unit("archiver@ch1.service", high)}));
    for (const auto& d : r.decisions) {
      ++restarts;
      p.finished(d.unit, true, t + 5);
    }
    for (const auto& h : r.held) {
      ++held;
      EXPECT_EQ(h.why, "3 restarts of this unit in the last hour (max_per_unit_per_hour 3)");
      EXPECT_EQ(h.unit, "archiver@ch1.service");
    }
  }
  EXPECT_EQ(restarts, 3);
  EXPECT_EQ(held, 1);
  // an hour after the first, one more is allowed
  p.decide(snapshot_at(kT0 + 3620, {unit("archiver@ch1.service", high)}));
  EXPECT_EQ(
      p.decide(snapshot_at(kT0 + 3660, {unit("archiver@ch1.service", high)})).decisions.size(), 1u);
}

TEST(Policy, GlobalHourlyCap) {
  PolicySettings s = settings();
  s.max_per_hour = 2;
  s.cooldown = 0;
  Policy p(s);
  int restarts = 0;
  std::vector<Held> held;
  for (double t = kT0; t < kT0 + 1800; t += 5) {
    std::vector<UnitSample> units;
    for (int i = 1; i <= 4; ++i)
      units.push_back(predicting("archiver@ch" + std::to_string(i) + ".service", 100, i));
    auto r = p.decide(snapshot_at(t, units));
    for (const auto& d : r.decisions) ++restarts, p.finished(d.unit, true, t);
    // memory emergencies are not held by max_per_hour (max_per_unit_per_hour is their guard)
    held.insert(held.end(), r.held.begin(), r.held.end());
  }
  EXPECT_EQ(restarts, 2);
  ASSERT_FALSE(held.empty());
  EXPECT_EQ(held[0].why, "2 restarts on this host in the last hour (max_per_hour 2)");
}

TEST(Policy, AFailedActionBacksOffDoubling) {
  PolicySettings s = settings();
  s.retry_backoff = 300;
  s.max_retry_backoff = 900;
  s.max_per_unit_per_hour = 60;
  s.cooldown = 0;
  Policy p(s);
  std::vector<double> starts;
  for (double t = kT0; t < kT0 + 3 * 3600; t += 5) {
    auto r = p.decide(snapshot_at(t, {predicting("archiver@ch1.service")}));
    for (const auto& d : r.decisions) starts.push_back(t), p.finished(d.unit, false, t + 10);
  }
  ASSERT_GE(starts.size(), 5u);
  // back-offs 300, 600, 900, 900 after each failure (+ 10 s of the failed attempt)
  EXPECT_NEAR(starts[1] - starts[0], 310, 5);
  EXPECT_NEAR(starts[2] - starts[1], 610, 5);
  EXPECT_NEAR(starts[3] - starts[2], 910, 5);
  EXPECT_NEAR(starts[4] - starts[3], 910, 5);
}

TEST(Policy, DryRunDecidesAndStartsTheCooldownWithoutAnythingInFlight) {
  PolicySettings s = settings();
  s.dry_run = true;
  Policy p(s);
  p.decide(snapshot_at(kT0, {predicting("archiver@ch1.service")}));
  auto r = p.decide(snapshot_at(kT0 + 30, {predicting("archiver@ch1.service")}));
  ASSERT_EQ(r.decisions.size(), 1u);
  EXPECT_TRUE(r.decisions[0].dry_run);
  EXPECT_EQ(p.in_flight(), 0u);
  // the prediction stays (nothing was done): cooldown (2 m), then `for` again
  for (double t = kT0 + 35; t < kT0 + 150; t += 5)
    EXPECT_TRUE(p.decide(snapshot_at(t, {predicting("archiver@ch1.service")})).decisions.empty());
  EXPECT_TRUE(
      p.decide(snapshot_at(kT0 + 155, {predicting("archiver@ch1.service")})).decisions.size() ==
      1u);
}

TEST(Policy, DisabledDecidesNothing) {
  PolicySettings s = settings();
  s.enabled = false;
  Policy p(s);
  for (double t = kT0; t < kT0 + 600; t += 5)
    EXPECT_TRUE(
        p.decide(snapshot_at(t, {unit("archiver@ch1.service", 1900 * MiB)})).decisions.empty());
}

TEST(PolicyAge, TurnsAreSpreadOverTheCycleAndKept) {
  double A = 4 * 3600;
  // unit 2 of 6 has its turn 80 min past each multiple of 4 h
  double start = 1'800'000'000 - 5000;
  double due = age_due(start, A, 2, 6);
  EXPECT_LE(due - start, A);
  EXPECT_GE(due - start, A / 2);
  EXPECT_NEAR(std::fmod(due, A), 2 * A / 6, 1e-6);
  // restarted at its turn: the next turn is exactly one cycle later
  EXPECT_NEAR(age_due(due + 2, A, 2, 6) - due, A, 1e-6);
  // started just before its turn: waits until max_age/2, then takes the turn a cycle later
  double off = std::floor(start / A) * A + 2 * A / 6 - 60;
  double first = age_due(off, A, 2, 6);
  EXPECT_NEAR(first - off, A / 2, 1e-6);
  EXPECT_NEAR(std::fmod(age_due(first, A, 2, 6), A), 2 * A / 6, 1e-6);
}

TEST(PolicyAge, RestartedJustAfterItsTurnKeepsIt) {
  // /proc start times come from the whole-second btime: a process started 0.3 s after its turn
  // can read as started 0.5 s before it. Seen in actions_test.sh age: restarted at max_age/2.
  double A = 30, turn = 1'800'000'010;  // unit 1 of 3: 10 s past each multiple of 30 s
  EXPECT_NEAR(age_due(turn - 0.5, A, 1, 3), turn + A, 1e-6);
  EXPECT_NEAR(age_due(turn + 0.3, A, 1, 3), turn + A, 1e-6);
  // more than the slack before its turn: off its turn, as before
  EXPECT_NEAR(age_due(turn - 5, A, 1, 3), turn - 5 + A / 2, 1e-6);
}

TEST(PolicyAge, UnitsStartedTogetherNeverRestartTogether) {
  // Six archivers booted at the same moment; age restarts over a day, each taking 30 s.
  PolicySettings s = settings();
  s.groups[0].on_memory.reset();
  s.groups[0].predict_seconds.reset();
  Policy p(s);
  double boot = kT0 + 1234;
  std::map<std::string, double> start;
  for (int i = 1; i <= 6; ++i) start["archiver@ch" + std::to_string(i) + ".service"] = boot;
  std::vector<std::pair<double, std::string>> restarts;
  std::string flying;
  double flying_until = 0;
  for (double t = boot; t < boot + 24 * 3600; t += 5) {
    if (!flying.empty() && t >= flying_until) {
      start[flying] = t;
      p.finished(flying, true, t);
      flying.clear();
    }
    std::vector<UnitSample> units;
    int pid = 1;
    for (const auto& [name, st] : start) units.push_back(unit(name, 500 * MiB, st, pid++));
    auto r = p.decide(snapshot_at(t, units));
    ASSERT_LE(r.decisions.size(), 1u);
    for (const auto& d : r.decisions) {
      EXPECT_EQ(d.cause, RestartCause::age);
      EXPECT_LE(t - start[d.unit], 4 * 3600 + 5) << d.unit;
      ASSERT_TRUE(flying.empty());
      flying = d.unit;
      flying_until = t + 30;
      restarts.emplace_back(t, d.unit);
    }
  }
  // every unit restarts about 6 times a day, none older than max_age
  std::map<std::string, int> per_unit;
  for (const auto& [t, u] : restarts) ++per_unit[u];
  EXPECT_EQ(per_unit.size(), 6u);
  for (const auto& [u, n] : per_unit) {
    EXPECT_GE(n, 5) << u;
    EXPECT_LE(n, 8) << u;
  }
  // after the first cycle the turns are spread: 40 min (4 h / 6) between two restarts
  std::vector<double> later;
  for (const auto& [t, u] : restarts)
    if (t > boot + 8 * 3600) later.push_back(t);
  ASSERT_GE(later.size(), 10u);
  for (size_t i = 1; i < later.size(); ++i) EXPECT_NEAR(later[i] - later[i - 1], 2400, 10);
}

TEST(PolicyAge, MinGapSpacesAgeRestartsOfAGroup) {
  PolicySettings s = settings();
  s.min_gap = 600;
  Policy p(s);
  // two units, both far over their age: one now, the other min_gap after the first started
  std::vector<UnitSample> units = {unit("archiver@ch1.service", 1, kT0 - 86400, 1),
                                   unit("archiver@ch2.service", 1, kT0 - 86400, 2)};
  auto r = p.decide(snapshot_at(kT0, units));
  ASSERT_EQ(r.decisions.size(), 1u);
  p.finished(r.decisions[0].unit, true, kT0 + 30);
  std::string other = r.decisions[0].unit == units[0].unit ? units[1].unit : units[0].unit;
  for (auto& u : units)  // the restarted one runs again, young
    if (u.unit != other) u = unit(u.unit, 1, kT0 + 30, 10);
  EXPECT_TRUE(p.decide(snapshot_at(kT0 + 595, units)).decisions.empty());
  r = p.decide(snapshot_at(kT0 + 600, units));
  ASSERT_EQ(r.decisions.size(), 1u);
  EXPECT_EQ(r.decisions[0].unit, other);
}

TEST(PolicyAge, MemoryEmergencyJumpsTheAgeQueue) {
  Policy p(settings());
  std::vector<UnitSample> units = {unit("archiver@ch1.service", 500 * MiB, kT0 - 86400, 1),
                                   unit("archiver@ch2.service", 1900 * MiB, kT0 - 60, 2)};
  p.decide(snapshot_at(kT0 - 30, {units[1]}));  // ch2 above on_memory since kT0 - 30
  auto r = p.decide(snapshot_at(kT0, units));
  ASSERT_EQ(r.decisions.size(), 1u);
  EXPECT_EQ(r.decisions[0].unit, "archiver@ch2.service");
  EXPECT_EQ(r.decisions[0].cause, RestartCause::memory);
}

TEST(PolicyOverlap, SlotsHandOverToTheOtherSlot) {
  EXPECT_EQ(other_slot("archiver@ch1:a.service"), "archiver@ch1:b.service");
  EXPECT_EQ(other_slot("archiver@ch1:b.service"), "archiver@ch1:a.service");
  EXPECT_EQ(other_slot("archiver@ch1.service"), std::nullopt);
  EXPECT_EQ(other_slot(":a.service"), std::nullopt);
  EXPECT_EQ(logical_unit("archiver@ch1:b.service"), "archiver@ch1.service");
  EXPECT_EQ(logical_unit("archiver@ch1.service"), "archiver@ch1.service");

  PolicySettings s = settings();
  s.handover = HandoverStrategy::overlap;
  Policy p(s);
  UnitSample a = unit("archiver@ch1:a.service", 1900 * MiB);
  p.decide(snapshot_at(kT0, {a}));
  auto r = p.decide(snapshot_at(kT0 + 30, {a}));
  ASSERT_EQ(r.decisions.size(), 1u);
  EXPECT_EQ(r.decisions[0].action, ActionKind::handover);
  EXPECT_EQ(r.decisions[0].target, "archiver@ch1:b.service");
  // during the hand-over both slots run: neither is a candidate
  UnitSample b = unit("archiver@ch1:b.service", 1900 * MiB, kT0 + 31, 200);
  for (double t = kT0 + 35; t < kT0 + 200; t += 5)
    EXPECT_TRUE(p.decide(snapshot_at(t, {a, b})).decisions.empty());
  p.finished("archiver@ch1:a.service", true, kT0 + 200);
  // the hourly limit counts the channel, not the slot: slot b inherits a's restarts
  PolicySettings one = s;
  one.max_per_unit_per_hour = 1;
  p.set_settings(one);
  p.decide(snapshot_at(kT0 + 400, {b}));
  auto held = p.decide(snapshot_at(kT0 + 440, {b}));
  EXPECT_TRUE(held.decisions.empty());
  ASSERT_EQ(held.held.size(), 1u);
  EXPECT_EQ(held.held[0].unit, "archiver@ch1:b.service");
}

TEST(PolicyOverlap, AnInterruptedHandOverIsFinished) {
  PolicySettings s = settings();
  s.handover = HandoverStrategy::overlap;
  Policy p(s);  // a fresh agent: nothing in flight, but both slots run
  UnitSample a = unit("archiver@ch1:a.service", 500 * MiB, kT0 - 3600, 1);
  UnitSample b = unit("archiver@ch1:b.service", 500 * MiB, kT0 - 20, 2);
  auto r = p.decide(snapshot_at(kT0, {a, b}));
  ASSERT_EQ(r.decisions.size(), 1u);
  EXPECT_EQ(r.decisions[0].unit, "archiver@ch1:a.service");
  EXPECT_EQ(r.decisions[0].target, "archiver@ch1:b.service");
  EXPECT_NE(r.decisions[0].reason.find("interrupted hand-over"), std::string::npos);
}

TEST(PolicyOverlap, AUnitThatIsNoSlotIsRestarted) {
  PolicySettings s = settings();
  s.handover = HandoverStrategy::overlap;
  Policy p(s);
  p.decide(snapshot_at(kT0, {unit("archiver@ch1.service", 1900 * MiB)}));
  auto r = p.decide(snapshot_at(kT0 + 30, {unit("archiver@ch1.service", 1900 * MiB)}));
  ASSERT_EQ(r.decisions.size(), 1u);
  EXPECT_EQ(r.decisions[0].action, ActionKind::restart);
  EXPECT_NE(r.decisions[0].reason.find("not a slot instance"), std::string::npos);
}

TEST(PolicyState, RateLimitsSurviveAnAgentRestart) {
  PolicySettings s = settings();
  s.max_per_unit_per_hour = 2;
  Policy p(s);
  p.decide(snapshot_at(kT0, {predicting("archiver@ch1.service")}));
  ASSERT_EQ(p.decide(snapshot_at(kT0 + 30, {predicting("archiver@ch1.service")})).decisions.size(),
            1u);
  p.finished("archiver@ch1.service", false, kT0 + 40);
  nlohmann::json saved = nlohmann::json::parse(p.to_json().dump());

  Policy q(s);
  q.load_json(saved);
  q.decide(snapshot_at(kT0 + 150, {predicting("archiver@ch1.service")}));
  auto r = q.decide(snapshot_at(kT0 + 190, {predicting("archiver@ch1.service")}));
  EXPECT_TRUE(r.decisions.empty());
  ASSERT_EQ(r.held.size(), 1u);
  EXPECT_NE(r.held[0].why.find("backing off after 1 failed attempt"), std::string::npos);

  EXPECT_THROW(q.load_json({{"version", 2}}), nlohmann::json::exception);
  EXPECT_THROW(q.load_json({{"version", 1}, {"units", {{"x", {{"actions", "no"}}}}}}),
               nlohmann::json::exception);
}

TEST(Policy, ABackOffIsReportedOnceNotEveryScan) {
  PolicySettings s = settings();
  s.retry_backoff = 600;
  Policy p(s);
  p.decide(snapshot_at(kT0, {predicting("archiver@ch1.service")}));
  ASSERT_EQ(p.decide(snapshot_at(kT0 + 30, {predicting("archiver@ch1.service")})).decisions.size(),
            1u);
  p.finished("archiver@ch1.service", false, kT0 + 31);
  size_t held = 0;
  for (double t = kT0 + 35; t < kT0 + 600; t += 5)
    held += p.decide(snapshot_at(t, {predicting("archiver@ch1.service")})).held.size();
  EXPECT_EQ(held, 1u);
}

TEST(Policy, AnEmergencyOfOneGroupGoesBeforeAnAgeRestartOfAnother) {
  Policy p(settings());  // max_concurrent 1
  UnitSample old = unit("archiver@ch1.service", 500 * MiB, kT0 - 86400, 1);
  UnitSample full = unit("recorder@ch1.service", 1900 * MiB, kT0 - 60, 2, "recorder");
  p.decide(snapshot_at(kT0 - 30, {full}));
  auto r = p.decide(snapshot_at(kT0, {old, full}));
  ASSERT_EQ(r.decisions.size(), 1u);
  EXPECT_EQ(r.decisions[0].unit, "recorder@ch1.service");
}

TEST(PolicyOverlap, AnInterruptedHandOverDoesNotWaitForMinGap) {
  PolicySettings s = settings();
  s.handover = HandoverStrategy::overlap;
  Policy p(s);
  // an age hand-over of ch2 just started (min_gap 10 m is running for the group)
  UnitSample ch2 = unit("archiver@ch2:a.service", 500 * MiB, kT0 - 86400, 5);
  auto first = p.decide(snapshot_at(kT0, {ch2}));
  ASSERT_EQ(first.decisions.size(), 1u);
  p.finished("archiver@ch2:a.service", true, kT0 + 40);
  UnitSample a = unit("archiver@ch1:a.service", 500 * MiB, kT0 - 3600, 1);
  UnitSample b = unit("archiver@ch1:b.service", 500 * MiB, kT0 - 20, 2);
  UnitSample ch2b = unit("archiver@ch2:b.service", 500 * MiB, kT0 + 5, 6);
  EXPECT_TRUE(p.decide(snapshot_at(kT0 + 60, {a, b, ch2b})).decisions.empty());  // cooldown
  auto r = p.decide(snapshot_at(kT0 + 170, {a, b, ch2b}));                       // < min_gap
  ASSERT_EQ(r.decisions.size(), 1u);
  EXPECT_EQ(r.decisions[0].unit, "archiver@ch1:a.service");
}

TEST(PolicyState, AClockSteppedBackDoesNotHoldRestartsForever) {
  PolicySettings s = settings();
  s.max_per_unit_per_hour = 1;
  Policy p(s);
  p.decide(snapshot_at(kT0 + 86400, {unit("archiver@ch1.service", 1900 * MiB, kT0 + 86000)}));
  ASSERT_EQ(
      p.decide(snapshot_at(kT0 + 86430, {unit("archiver@ch1.service", 1900 * MiB, kT0 + 86000)}))
          .decisions.size(),
      1u);
  p.finished("archiver@ch1.service", true, kT0 + 86440);
  // the clock is stepped back a day: the action is "now", and an hour later one more is allowed
  double t = kT0;
  for (; t < kT0 + 3700; t += 5) {
    auto r = p.decide(snapshot_at(t, {unit("archiver@ch1.service", 1900 * MiB, kT0 - 100)}));
    if (!r.decisions.empty()) break;
  }
  EXPECT_LT(t, kT0 + 3700);
  EXPECT_GE(t, kT0 + 3600);
}

}  // namespace
}  // namespace mobasher
