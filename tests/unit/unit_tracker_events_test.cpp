// The events one UnitTracker::apply() emits (Snapshot::events): decided once, read by alerts,
// the history store and the log.
#include <gtest/gtest.h>

#include "fixtures/tracker.hpp"

namespace mobasher {
namespace {

using namespace fixtures;

// "kind unit [cause] +increase =total" per event, in order.
std::vector<std::string> events_of(UnitTracker& t, double when, std::vector<UnitSample> units) {
  Snapshot s = snapshot_at(when, std::move(units));
  t.apply(s);
  std::vector<std::string> out;
  for (const auto& e : s.events) {
    std::string line = std::string(to_string(e.kind)) + " " + e.unit;
    if (e.kind == UnitEvent::Kind::restart) line += std::string(" ") + to_string(e.cause);
    if (e.kind == UnitEvent::Kind::restart || e.kind == UnitEvent::Kind::oom_kill)
      line += " +" + std::to_string(e.increase) + " =" + std::to_string(e.total);
    out.push_back(line);
  }
  return out;
}

using Lines = std::vector<std::string>;

UnitSample recorder(pid_t pid, uint64_t start) {
  UnitBuilder b("recorder@ch1.service", "recorder");
  b.main(pid, start, 4_MiB).child(pid + 1, start + 10, 100_MiB);
  return b;
}

TEST(UnitTrackerEvents, FirstScanAnnouncesEveryUnitAndNoRestart) {
  UnitTracker t;
  EXPECT_EQ(events_of(t, kT0, {archiver(101, 5000, 1_GiB), recorder(201, 6000)}),
            (Lines{"appeared archiver@ch1.service", "appeared recorder@ch1.service"}));
  EXPECT_TRUE(events_of(t, kT0 + 5, {archiver(101, 5000, 1_GiB), recorder(201, 6000)}).empty());
}

TEST(UnitTrackerEvents, ARestartCarriesItsCauseIncreaseAndTotal) {
  UnitTracker t;
  events_of(t, kT0, {archiver(101, 5000, 1_GiB).cgroup(7, 1_GiB, 2_GiB, 0)});
  EXPECT_EQ(events_of(t, kT0 + 5, {archiver(180, 9000, 100_MiB).cgroup(8, 100_MiB, 2_GiB, 0)}),
            (Lines{"restart archiver@ch1.service external +1 =1"}));
  // An OOM kill and the restart it caused, in one scan: both, the restart as oom.
  EXPECT_EQ(
      events_of(t, kT0 + 10, {archiver(300, 12000, 100_MiB).cgroup(8, 1_GiB, 2_GiB, 1)}),
      (Lines{"restart archiver@ch1.service oom +1 =1", "oom_kill archiver@ch1.service +1 =1"}));
}

TEST(UnitTrackerEvents, AnExpectedRestartIsReportedWithTheAgentsCause) {
  UnitTracker t;
  events_of(t, kT0, {archiver(101, 5000, 1_GiB)});
  t.expect_restart(kUnit, RestartCause::memory, kT0 + 60);
  EXPECT_EQ(events_of(t, kT0 + 5, {archiver(180, 9000, 100_MiB)}),
            (Lines{"restart archiver@ch1.service memory +1 =1"}));
}

TEST(UnitTrackerEvents, VanishedOnceAndAppearedAgainOnReturn) {
  UnitTracker t;
  events_of(t, kT0, {archiver(101, 5000, 1_GiB), recorder(201, 6000)});
  EXPECT_EQ(events_of(t, kT0 + 5, {archiver(101, 5000, 1_GiB)}),
            (Lines{"vanished recorder@ch1.service"}));
  EXPECT_TRUE(events_of(t, kT0 + 10, {archiver(101, 5000, 1_GiB)}).empty());
  EXPECT_EQ(events_of(t, kT0 + 15, {archiver(101, 5000, 1_GiB), recorder(201, 6000)}),
            (Lines{"appeared recorder@ch1.service"}));
}

// What happened while the agent was down is reported on its first scan, as the increase over
// what units.json recorded: the OOM kill and the restart that followed it.
TEST(UnitTrackerEvents, WhatHappenedWhileTheAgentWasDownIsReportedOnce) {
  UnitTracker before;
  events_of(before, kT0, {archiver(101, 5000, 1_GiB).cgroup(7, 1_GiB, 2_GiB, 2)});
  UnitTracker after;
  after.load_json(before.to_json());
  EXPECT_EQ(events_of(after, kT0 + 60, {archiver(101, 5000, 1_GiB).cgroup(7, 1_GiB, 2_GiB, 3)}),
            (Lines{"appeared archiver@ch1.service", "oom_kill archiver@ch1.service +1 =3"}));
  EXPECT_TRUE(
      events_of(after, kT0 + 65, {archiver(101, 5000, 1_GiB).cgroup(7, 1_GiB, 2_GiB, 3)}).empty());
}

TEST(UnitTrackerEvents, AnUntrackedUnitBeyondTheBoundHasNoEvents) {
  TrackerOptions o;
  o.max_units = 1;
  UnitTracker t(o);
  EXPECT_EQ(events_of(t, kT0, {archiver(101, 5000, 1_GiB), recorder(201, 6000)}),
            (Lines{"appeared archiver@ch1.service"}));
  EXPECT_TRUE(events_of(t, kT0 + 5, {archiver(101, 5000, 1_GiB), recorder(301, 9000)}).empty());
}

}  // namespace
}  // namespace mobasher
