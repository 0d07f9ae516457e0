// The unit tracker and the agent's own actions: expected restarts, systemd's NRestarts, the idle
// slot of a hand-over; and the events one apply() emits.
#include <gtest/gtest.h>

#include "fixtures/tracker.hpp"

namespace mobasher {
namespace {

using namespace fixtures;
using namespace std::chrono_literals;

// --- restarts the agent caused, and systemd's NRestarts ---------------------------------------

UnitSample with_nrestarts(UnitSample u, uint32_t n) {
  u.systemd = UnitSample::Systemd{"active", "running", "success", n};
  return u;
}

TEST(UnitTrackerActions, AnExpectedRestartCountsItsCauseNotExternal) {
  UnitTracker t;
  track(t, kT0, archiver(100, 1000, 1_GiB));
  t.expect_restart(kUnit, RestartCause::memory, kT0 + 60);
  UnitSample u = track(t, kT0 + 5, archiver(200, 2000, 100_MiB));
  EXPECT_EQ(restarts(u, RestartCause::memory), 1u);
  EXPECT_EQ(restarts(u, RestartCause::external), 0u);
  // consumed: the next one is external again
  u = track(t, kT0 + 10, archiver(300, 3000, 100_MiB));
  EXPECT_EQ(restarts(u, RestartCause::memory), 1u);
  EXPECT_EQ(restarts(u, RestartCause::external), 1u);
}

TEST(UnitTrackerActions, AnExpiredExpectationIsNoCause) {
  UnitTracker t;
  track(t, kT0, archiver(100, 1000, 1_GiB));
  t.expect_restart(kUnit, RestartCause::age, kT0 + 10);
  track(t, kT0 + 5, archiver(100, 1000, 1_GiB));
  UnitSample u = track(t, kT0 + 15, archiver(200, 2000, 100_MiB));
  EXPECT_EQ(restarts(u, RestartCause::age), 0u);
  EXPECT_EQ(restarts(u, RestartCause::external), 1u);
}

TEST(UnitTrackerActions, AnExpectationLastsOnTheBootClockWhateverTheWallClockDoes) {
  UnitTracker t;
  Snapshot s0 = stepped(0, 0, archiver(100, 1000, 1_GiB));
  t.apply(s0);
  t.expect_restart(kUnit, RestartCause::memory, kT0 + 60);
  // The wall clock jumps 2 h ahead between the decision and the restart (5 s on the boot clock).
  Snapshot s1 = stepped(5, 7200, archiver(200, 2000, 100_MiB));
  t.apply(s1);
  EXPECT_EQ(restarts(s1.units.at(0), RestartCause::memory), 1u);
  EXPECT_EQ(restarts(s1.units.at(0), RestartCause::external), 0u);
  // ...or 2 h back: an expectation that ended on the boot clock is over.
  t.expect_restart(kUnit, RestartCause::age, kT0 + 10);
  Snapshot s2 = stepped(15, -7200, archiver(300, 3000, 100_MiB));
  t.apply(s2);
  EXPECT_EQ(restarts(s2.units.at(0), RestartCause::age), 0u);
  EXPECT_EQ(restarts(s2.units.at(0), RestartCause::external), 1u);
}

TEST(UnitTrackerActions, TheNewSlotOfAHandOverCountsOnFirstSight) {
  UnitTracker t;
  t.expect_restart(kUnit, RestartCause::age, kT0 + 60);  // never seen before
  UnitSample u = track(t, kT0 + 5, archiver(200, 2000, 100_MiB));
  EXPECT_EQ(restarts(u, RestartCause::age), 1u);
  EXPECT_EQ(total_restarts(u), 1u);
  // without an expectation a first sight is no restart
  UnitTracker fresh;
  EXPECT_EQ(total_restarts(track(fresh, kT0, archiver(200, 2000, 100_MiB))), 0u);
}

TEST(UnitTrackerActions, NRestartsTurnsAnExternalRestartIntoSystemd) {
  UnitTracker t;
  track(t, kT0, with_nrestarts(archiver(100, 1000, 1_GiB), 0));
  // same scan
  UnitSample u = track(t, kT0 + 5, with_nrestarts(archiver(200, 2000, 100_MiB), 1));
  EXPECT_EQ(restarts(u, RestartCause::systemd), 1u);
  EXPECT_EQ(restarts(u, RestartCause::external), 0u);
  // NRestarts a scan late
  track(t, kT0 + 10, with_nrestarts(archiver(300, 3000, 100_MiB), 1));
  u = track(t, kT0 + 15, with_nrestarts(archiver(300, 3000, 100_MiB), 2));
  EXPECT_EQ(restarts(u, RestartCause::systemd), 2u);
  EXPECT_EQ(restarts(u, RestartCause::external), 0u);
}

TEST(UnitTrackerActions, RestartsBetweenScansAreCountedFromNRestarts) {
  UnitTracker t;
  track(t, kT0, with_nrestarts(archiver(100, 1000, 1_GiB), 4));  // baseline, not counted
  UnitSample u = track(t, kT0 + 5, with_nrestarts(archiver(200, 2000, 100_MiB), 7));
  EXPECT_EQ(restarts(u, RestartCause::systemd), 3u);  // one seen, two missed
  EXPECT_EQ(total_restarts(u), 3u);
}

TEST(UnitTrackerActions, AnOomKillRestartedBySystemdStaysOom) {
  UnitTracker t;
  UnitBuilder a = archiver(100, 1000, 1_GiB);
  a.cgroup(7, 1_GiB, 2_GiB, 0);
  track(t, kT0, with_nrestarts(a, 0));
  UnitBuilder killed = archiver(100, 1000, 1_GiB);
  killed.cgroup(7, 1_GiB, 2_GiB, 1);
  track(t, kT0 + 5, with_nrestarts(killed, 0));
  UnitBuilder b = archiver(200, 2000, 100_MiB);
  b.cgroup(8, 100_MiB, 2_GiB, 0);
  UnitSample u = track(t, kT0 + 10, with_nrestarts(b, 1));
  EXPECT_EQ(restarts(u, RestartCause::oom), 1u);
  EXPECT_EQ(restarts(u, RestartCause::systemd), 0u);
  EXPECT_EQ(total_restarts(u), 1u);
}

TEST(UnitTrackerActions, ANRestartsResetIsNoRestart) {
  UnitTracker t;
  track(t, kT0, with_nrestarts(archiver(100, 1000, 1_GiB), 5));
  t.expect_restart(kUnit, RestartCause::memory, kT0 + 60);
  // the agent's RestartUnit resets NRestarts to 0
  UnitSample u = track(t, kT0 + 5, with_nrestarts(archiver(200, 2000, 100_MiB), 0));
  EXPECT_EQ(restarts(u, RestartCause::memory), 1u);
  EXPECT_EQ(total_restarts(u), 1u);
  u = track(t, kT0 + 10, with_nrestarts(archiver(300, 3000, 100_MiB), 1));
  EXPECT_EQ(restarts(u, RestartCause::systemd), 1u);
  EXPECT_EQ(total_restarts(u), 2u);
}

TEST(UnitTrackerActions, ARestartWaitingForNRestartsIsNeverCountedTwice) {
  UnitTracker t;
  track(t, kT0, with_nrestarts(archiver(100, 1000, 1_GiB), 0));
  // seen from the processes first: not counted yet (NRestarts may still say systemd)
  UnitSample u = track(t, kT0 + 5, with_nrestarts(archiver(200, 2000, 100_MiB), 0));
  EXPECT_EQ(total_restarts(u), 0u);
  u = track(t, kT0 + 10, with_nrestarts(archiver(200, 2000, 100_MiB), 1));
  EXPECT_EQ(restarts(u, RestartCause::systemd), 1u);
  EXPECT_EQ(restarts(u, RestartCause::external), 0u);
  // NRestarts never rises: external once the match window (30 s) has passed
  track(t, kT0 + 15, with_nrestarts(archiver(300, 3000, 100_MiB), 1));
  u = track(t, kT0 + 40, with_nrestarts(archiver(300, 3000, 100_MiB), 1));
  EXPECT_EQ(restarts(u, RestartCause::external), 0u);
  u = track(t, kT0 + 50, with_nrestarts(archiver(300, 3000, 100_MiB), 1));
  EXPECT_EQ(restarts(u, RestartCause::external), 1u);
  EXPECT_EQ(total_restarts(u), 2u);
}

TEST(UnitTrackerActions, NRestartsAfterAGapOnlyRebases) {
  UnitTracker t;
  track(t, kT0, with_nrestarts(archiver(100, 1000, 1_GiB), 2));
  // the bus was down for a while: no properties; a restart is counted from the processes
  UnitSample u = track(t, kT0 + 60, archiver(200, 2000, 100_MiB));
  EXPECT_EQ(restarts(u, RestartCause::external), 1u);
  u = track(t, kT0 + 65, with_nrestarts(archiver(200, 2000, 100_MiB), 3));
  EXPECT_EQ(total_restarts(u), 1u);  // the same restart: not counted again as systemd
}

TEST(UnitTrackerActions, TheIdleSlotKeepsItsCountersWhileTheOtherRuns) {
  TrackerOptions o;
  o.forget_after = std::chrono::seconds(600);
  UnitTracker t(o);
  auto slot = [](const std::string& name, pid_t pid) {
    UnitBuilder b(name, "archiver");
    b.main(pid, static_cast<uint64_t>(pid) * 10, 100_MiB);
    return UnitSample(b);
  };
  t.expect_restart("archiver@ch1:a.service", RestartCause::age, kT0 + 60);
  Snapshot s1 = snapshot_at(kT0, {slot("archiver@ch1:a.service", 100)});
  t.apply(s1);
  ASSERT_EQ(restarts(s1.units[0], RestartCause::age), 1u);
  // a hands over to b; b runs for 4 h, a is away
  t.expect_restart("archiver@ch1:b.service", RestartCause::age, kT0 + 120);
  for (double when = kT0 + 60; when < kT0 + 4 * 3600; when += 60) {
    Snapshot s = snapshot_at(when, {slot("archiver@ch1:b.service", 200)});
    t.apply(s);
  }
  // b hands back to a: a's counter continues at 2, not 1
  t.expect_restart("archiver@ch1:a.service", RestartCause::age, kT0 + 4 * 3600 + 60);
  Snapshot back = snapshot_at(kT0 + 4 * 3600 + 5, {slot("archiver@ch1:a.service", 300),
                                                   slot("archiver@ch1:b.service", 200)});
  t.apply(back);
  EXPECT_EQ(restarts(back.units[0], RestartCause::age), 2u);
}

}  // namespace
}  // namespace mobasher
