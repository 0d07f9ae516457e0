// A memory emergency whose unit would reach its limit before a hold ends is not held: not by
// emergency_gap, not by waiting for the last restarted unit to come back, not by
// max_per_unit_per_hour. Only the group's action in flight (one at a time) still holds it.
// (The CI run of 2026-12-06: six units at 2.9 MiB/s, the sixth OOM-killed 0.8 s before its
// emergency_gap ended.)
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "agent/state/policy.hpp"
#include "fixtures/policy.hpp"
#include "fixtures/snapshots.hpp"

namespace mobasher {
namespace {

using fixtures::snapshot_at;
using fixtures::UnitBuilder;

constexpr uint64_t GiB = 1ull << 30, MiB = 1ull << 20;
constexpr double kT0 = 500'000;  // seconds since boot

// An archiver above on_memory (90 % of 2 GiB), its limit `to_limit` seconds away when known.
UnitSample full(int channel, std::optional<double> to_limit, uint64_t rss = 1900 * MiB) {
  UnitBuilder b("archiver@ch" + std::to_string(channel) + ".service", "archiver");
  b.main(100 + channel, kT0 - 600, rss, "ffmpeg", kT0 - 600)
      .cgroup(1, rss, 2 * GiB, 0)
      .limits(2 * GiB, 1536 * MiB, 1946 * MiB);
  UnitSample u = b;
  u.seconds_to_limit = to_limit;
  if (to_limit) u.growth_bytes_per_second = 1.0 * MiB;
  return u;
}

// ch2 restarted and done at kT0 + 31, seen active again at kT0 + 32: the gap runs to kT0 + 37.
Policy after_one_restart(std::vector<UnitSample> units) {
  Policy p(fixtures::plan_policy());
  p.decide(snapshot_at(kT0, units));
  auto r = p.decide(snapshot_at(kT0 + 30, units));
  EXPECT_EQ(r.decisions.size(), 1u);
  if (!r.decisions.empty()) p.finished(r.decisions[0].unit, true, kT0 + 31);
  EXPECT_TRUE(p.decide(snapshot_at(kT0 + 32, units)).decisions.empty());
  return p;
}

PolicySettings cooldown_60() {
  PolicySettings s = fixtures::plan_policy();
  s.cooldown = 60;
  return s;
}

// u, above on_memory, scanned every 5 s for 30 min, each restart done 1 s after it was decided.
int restarts_in_half_an_hour(Policy& p, const UnitSample& u) {
  int restarts = 0;
  for (double t = kT0; t < kT0 + 1800; t += 5) {
    for (const auto& d : p.decide(snapshot_at(t, {u})).decisions) {
      ++restarts;
      p.finished(d.unit, true, t + 1);
    }
  }
  return restarts;
}

TEST(PolicyImminent, EmergencyGapHoldsAUnitWithTimeToSpare) {
  std::vector<UnitSample> units = {full(1, 600), full(2, 300)};
  Policy p = after_one_restart(units);
  EXPECT_TRUE(p.decide(snapshot_at(kT0 + 33, units)).decisions.empty());
  auto r = p.decide(snapshot_at(kT0 + 37, units));
  ASSERT_EQ(r.decisions.size(), 1u);
  EXPECT_EQ(r.decisions[0].unit, "archiver@ch1.service");
  EXPECT_EQ(r.decisions[0].reason.find("not held"), std::string::npos);
}

TEST(PolicyImminent, EmergencyGapDoesNotHoldAUnitWhoseLimitComesFirst) {
  std::vector<UnitSample> units = {full(1, 600), full(2, 300)};
  Policy p = after_one_restart(units);
  units[0].seconds_to_limit = 12;  // 4 s of gap left + 10 s for the restart itself: too late
  auto r = p.decide(snapshot_at(kT0 + 33, units));
  ASSERT_EQ(r.decisions.size(), 1u);
  EXPECT_EQ(r.decisions[0].unit, "archiver@ch1.service");
  EXPECT_EQ(r.decisions[0].cause, RestartCause::memory);
  EXPECT_NE(
      r.decisions[0].reason.find("not held by emergency_gap: the limit would come first (in ~12s)"),
      std::string::npos)
      << r.decisions[0].reason;
}

TEST(PolicyImminent, UnknownGrowthAt95PercentOfTheLimitIsImminent) {
  std::vector<UnitSample> units = {full(1, std::nullopt, 1900 * MiB), full(2, 300)};
  units[0].growth_bytes_per_second = 50.0 * MiB;  // a start-up ramp: no prediction rests on it
  Policy p = after_one_restart(units);
  EXPECT_TRUE(p.decide(snapshot_at(kT0 + 33, units)).decisions.empty());  // 92.8 %: waits
  units[0] = full(1, std::nullopt, 1950 * MiB);                           // 95.2 %
  auto r = p.decide(snapshot_at(kT0 + 34, units));
  ASSERT_EQ(r.decisions.size(), 1u);
  EXPECT_EQ(r.decisions[0].unit, "archiver@ch1.service");
}

TEST(PolicyImminent, WithoutAPredictionAFlatUnitIsNotImminentAGrowingOneAt95PercentIs) {
  std::vector<UnitSample> units = {full(1, std::nullopt, 1950 * MiB), full(2, 300)};
  units[0].growth_bytes_per_second = 0.0;  // known flat at 95.2 %: not heading for the limit
  Policy p = after_one_restart(units);
  EXPECT_TRUE(p.decide(snapshot_at(kT0 + 33, units)).decisions.empty());
  units[0].growth_bytes_per_second = 0.1 * MiB;  // growing, no prediction yet: at 95 %, imminent
  auto r = p.decide(snapshot_at(kT0 + 34, units));
  ASSERT_EQ(r.decisions.size(), 1u);
  EXPECT_EQ(r.decisions[0].unit, "archiver@ch1.service");
}

TEST(PolicyImminent, TheHourlyCapHoldsAUnitThatDoesNotGrow) {
  Policy p(cooldown_60());
  UnitSample flat = full(1, std::nullopt, 1990 * MiB);  // 97 %, and not growing
  flat.growth_bytes_per_second = 0.0;
  EXPECT_EQ(restarts_in_half_an_hour(p, flat), 3);  // max_per_unit_per_hour: no restart loop
}

TEST(PolicyImminent, WaitingForTheLastUnitToComeBackDoesNotHoldAUnitWhoseLimitComesFirst) {
  std::vector<UnitSample> units = {full(1, 600), full(2, 300)};
  Policy p(fixtures::plan_policy());
  p.decide(snapshot_at(kT0, units));
  ASSERT_EQ(p.decide(snapshot_at(kT0 + 30, units)).decisions.size(), 1u);  // ch2
  p.finished("archiver@ch2.service", true, kT0 + 31);
  UnitSample starting = units[1];
  starting.systemd = UnitSample::Systemd{"activating", "start", "success", 0};
  EXPECT_TRUE(p.decide(snapshot_at(kT0 + 32, {units[0], starting})).decisions.empty());
  units[0].seconds_to_limit = 20;  // ch2 may take up to recover_wait (60 s) to come back
  auto r = p.decide(snapshot_at(kT0 + 33, {units[0], starting}));
  ASSERT_EQ(r.decisions.size(), 1u);
  EXPECT_EQ(r.decisions[0].unit, "archiver@ch1.service");
  EXPECT_NE(r.decisions[0].reason.find("not held by waiting for the last restarted unit"),
            std::string::npos)
      << r.decisions[0].reason;
}

TEST(PolicyImminent, TheGroupsActionInFlightStillHolds) {
  std::vector<UnitSample> units = {full(1, 600), full(2, 300)};
  Policy p(fixtures::plan_policy());
  p.decide(snapshot_at(kT0, units));
  ASSERT_EQ(p.decide(snapshot_at(kT0 + 30, units)).decisions.size(), 1u);  // ch2, in flight
  units[0].seconds_to_limit = 1;
  EXPECT_TRUE(p.decide(snapshot_at(kT0 + 31, units)).decisions.empty());  // one at a time
  p.finished("archiver@ch2.service", true, kT0 + 32);
  EXPECT_EQ(p.decide(snapshot_at(kT0 + 32, units)).decisions.size(), 1u);
}

TEST(PolicyImminent, TheHourlyCapDoesNotHoldAUnitAboutToReachItsLimit) {
  Policy p(cooldown_60());
  ASSERT_EQ(restarts_in_half_an_hour(p, full(1, 600)), 3);  // max_per_unit_per_hour
  auto r = p.decide(snapshot_at(kT0 + 1800, {full(1, 5)}));
  ASSERT_EQ(r.decisions.size(), 1u);
  EXPECT_NE(r.decisions[0].reason.find("not held by max_per_unit_per_hour"), std::string::npos)
      << r.decisions[0].reason;
}

}  // namespace
}  // namespace mobasher
