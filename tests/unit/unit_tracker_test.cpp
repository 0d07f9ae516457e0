#include "agent/state/unit_tracker.hpp"

#include <gtest/gtest.h>

#include "fixtures/tracker.hpp"

namespace mobasher {
namespace {

using namespace fixtures;
using namespace std::chrono_literals;

TEST(UnitTracker, FirstSightHasNoRestartsAndEveryCauseAtZero) {
  UnitTracker t;
  auto u = track(t, kT0, archiver(101, 5000, 1_GiB).cgroup(7, 1_GiB, 2_GiB, 0));
  EXPECT_EQ(u.restarts.size(), kRestartCauses.size());
  EXPECT_EQ(total_restarts(u), 0u);
  EXPECT_EQ(u.oom_kills_total, 0u);
  EXPECT_EQ(t.tracked_units(), 1u);
}

TEST(UnitTracker, RestartWhenTheMainProcessChanges) {
  UnitTracker t;
  track(t, kT0, archiver(101, 5000, 1_GiB).cgroup(7, 1_GiB, 2_GiB, 0));
  auto same = track(t, kT0 + 5, archiver(101, 5000, 1_GiB).cgroup(7, 1_GiB, 2_GiB, 0));
  EXPECT_EQ(total_restarts(same), 0u);
  // systemd restarted it: new main pid and start time, new cgroup, no OOM anywhere.
  auto after = track(t, kT0 + 10, archiver(180, 9000, 100_MiB).cgroup(8, 100_MiB, 2_GiB, 0));
  EXPECT_EQ(restarts(after, RestartCause::external), 1u);
  EXPECT_EQ(total_restarts(after), 1u);
  auto later = track(t, kT0 + 15, archiver(180, 9000, 110_MiB).cgroup(8, 110_MiB, 2_GiB, 0));
  EXPECT_EQ(restarts(later, RestartCause::external), 1u);
}

TEST(UnitTracker, PidReuseWithAnotherStartTimeIsARestart) {
  UnitTracker t;
  track(t, kT0, archiver(101, 5000, 1_GiB).cgroup(7, 1_GiB, 2_GiB, 0));
  auto u = track(t, kT0 + 5, archiver(101, 7000, 1_GiB).cgroup(7, 1_GiB, 2_GiB, 0));
  EXPECT_EQ(restarts(u, RestartCause::external), 1u);
}

TEST(UnitTracker, ChildChurnIsNotARestart) {
  UnitTracker t;
  track(t, kT0, archiver(101, 5000, 1_GiB).cgroup(7, 1_GiB, 2_GiB, 0));
  UnitBuilder b(kUnit, "archiver");
  b.main(101, 5000, 4_MiB).child(555, 8000, 500_MiB).cgroup(7, 1_GiB, 2_GiB, 0);
  EXPECT_EQ(total_restarts(track(t, kT0 + 5, b)), 0u);
}

TEST(UnitTracker, OomCauseWhenTheOomCounterRose) {
  UnitTracker t;
  track(t, kT0, archiver(101, 5000, 1900_MiB).cgroup(7, 2_GiB, 2_GiB, 0));
  // The kernel killed the main process inside the same cgroup; systemd restarted it.
  auto u = track(t, kT0 + 5, archiver(181, 9000, 50_MiB).cgroup(7, 50_MiB, 2_GiB, 1));
  EXPECT_EQ(restarts(u, RestartCause::oom), 1u);
  EXPECT_EQ(restarts(u, RestartCause::external), 0u);
  EXPECT_EQ(u.oom_kills_total, 1u);
}

TEST(UnitTracker, OomKillsStayMonotonicAcrossCgroupRecreation) {
  UnitTracker t;
  EXPECT_EQ(track(t, kT0, archiver(101, 5000, 1_GiB).cgroup(7, 1_GiB, 2_GiB, 2)).oom_kills_total,
            2u);
  // systemd recreated the cgroup (new inode): the raw counter starts again at 0.
  auto u = track(t, kT0 + 5, archiver(101, 5000, 1_GiB).cgroup(8, 1_GiB, 2_GiB, 0));
  EXPECT_EQ(u.oom_kills_total, 2u);
  u = track(t, kT0 + 10, archiver(101, 5000, 1_GiB).cgroup(8, 1_GiB, 2_GiB, 1));
  EXPECT_EQ(u.oom_kills_total, 3u);
  // A counter reset without an inode change (inode numbers can be reused) is a new cgroup too.
  u = track(t, kT0 + 15, archiver(101, 5000, 1_GiB).cgroup(8, 1_GiB, 2_GiB, 0));
  EXPECT_EQ(u.oom_kills_total, 3u);
  u = track(t, kT0 + 20, archiver(101, 5000, 1_GiB).cgroup(8, 1_GiB, 2_GiB, 2));
  EXPECT_EQ(u.oom_kills_total, 5u);
}

TEST(UnitTracker, OomInARemovedCgroupIsWitnessedByTheNodeCounter) {
  UnitTracker t;
  track(t, kT0, archiver(101, 5000, 1900_MiB).cgroup(7, 2_GiB, 2_GiB, 0), 10);
  // Between two scans: OOM kill, systemd removed the old cgroup and made a new one.
  auto u = track(t, kT0 + 5, archiver(182, 9000, 40_MiB).cgroup(9, 40_MiB, 2_GiB, 0), 11);
  EXPECT_EQ(restarts(u, RestartCause::oom), 1u);
  EXPECT_EQ(u.oom_kills_total, 1u);
}

TEST(UnitTracker, GrowthSlopeAndSecondsToLimit) {
  UnitTracker t;
  UnitSample u;
  // 1 MiB/s from 1 GiB, sampled every 5 s for 5 minutes (predict_window); limit 2 GiB.
  for (int i = 0; i <= 60; ++i) {
    double s = 5.0 * i;
    u = track(t, kT0 + s, archiver(101, 5000, 1_GiB + static_cast<uint64_t>(s) * 1_MiB));
    if (i < 60) {
      EXPECT_FALSE(u.seconds_to_limit.has_value()) << "before predict_window, " << s;
    }
  }
  ASSERT_TRUE(u.growth_bytes_per_second.has_value());
  EXPECT_NEAR(*u.growth_bytes_per_second, 1048576.0, 1.0);
  ASSERT_TRUE(u.seconds_to_limit.has_value());
  // At 1 GiB + 300 MiB, 724 MiB remain: 724 s.
  EXPECT_NEAR(*u.seconds_to_limit, 724.0, 0.01);
}

// A start-up ramp (400 MiB in the first minute), then flat for good: the whole window still
// grows, the newest half does not, and nothing is predicted at any time.
TEST(UnitTracker, AStartUpRampThatGoesFlatIsNeverPredicted) {
  UnitTracker t;
  UnitSample u;
  bool grew = false;
  for (int i = 0; i <= 24 * 60 / 5 * 2; ++i) {  // 2 h
    double s = 5.0 * i;
    uint64_t rss = 100_MiB + static_cast<uint64_t>(std::min(s, 60.0) / 60.0 * 400.0) * 1_MiB;
    u = track(t, kT0 + s, archiver(101, 5000, rss));
    grew = grew || (u.growth_bytes_per_second && *u.growth_bytes_per_second > 0.1 * 1_MiB);
    ASSERT_FALSE(u.seconds_to_limit.has_value()) << "predicted at " << s << " s";
  }
  EXPECT_TRUE(grew);  // the full-window growth did see the ramp
}

TEST(UnitTracker, AShortPredictWindowStillSeesARampAsOne) {
  // predict_window 10 s, scans every 0.5 s: +100 MiB in 2.5 s, then flat (a real ffmpeg start).
  UnitTracker t;
  UnitSample u;
  bool grew = false;
  for (int i = 0; i <= 120; ++i) {  // 60 s
    double s = 0.5 * i;
    uint64_t rss = 8_MiB + static_cast<uint64_t>(std::min(s, 2.5) * 40.0) * 1_MiB;
    UnitSample in = archiver(101, 5000, rss).cgroup(7, rss, 256_MiB, 0);
    in.predict_window = 10;
    u = track(t, kT0 + s, std::move(in));
    grew = grew || (u.growth_bytes_per_second && *u.growth_bytes_per_second > 1_MiB);
    ASSERT_FALSE(u.seconds_to_limit.has_value()) << "predicted at " << s << " s";
  }
  EXPECT_TRUE(grew);
  // The same window with a steady leak of 2 MiB/s is predicted once the growth gauge has its 15 s.
  UnitTracker leak;
  for (int i = 0; i <= 40; ++i) {
    double s = 0.5 * i;
    uint64_t rss = 8_MiB + static_cast<uint64_t>(s * 2.0 * 1_MiB);
    UnitSample in = archiver(101, 5000, rss).cgroup(7, rss, 256_MiB, 0);
    in.predict_window = 10;
    u = track(leak, kT0 + s, std::move(in));
    EXPECT_EQ(u.seconds_to_limit.has_value(), s >= 15) << "at " << s << " s";
  }
  ASSERT_TRUE(u.seconds_to_limit.has_value());
  EXPECT_NEAR(*u.seconds_to_limit, (256.0 - 8 - 40) / 2, 1.0);
}

TEST(UnitTracker, AWallClockStepMovesNeitherGrowthNorPrediction) {
  for (double step : {3600.0, -3600.0, 86400.0 * 365}) {
    UnitTracker t;
    UnitSample u;
    for (int i = 0; i <= 120; ++i) {  // 1 MiB/s for 10 min; the wall clock steps at 5 min
      double s = 5.0 * i;
      uint64_t rss = 1_GiB + static_cast<uint64_t>(s) * 1_MiB;
      Snapshot snap = stepped(s, s + (s >= 300 ? step : 0), archiver(101, 5000, rss));
      t.apply(snap);
      u = snap.units.at(0);
      if (s < 15) continue;
      ASSERT_TRUE(u.growth_bytes_per_second.has_value()) << "step " << step << " at " << s;
      EXPECT_NEAR(*u.growth_bytes_per_second, 1_MiB, 1) << "step " << step << " at " << s;
    }
    ASSERT_TRUE(u.seconds_to_limit.has_value()) << "step " << step;
    EXPECT_NEAR(*u.seconds_to_limit, 2048.0 - 1024 - 600, 0.01) << "step " << step;
    EXPECT_EQ(t.tracked_units(), 1u) << "step " << step;
  }
}

TEST(UnitTracker, SeededSamplesMoveOntoTheBootClock) {
  // The history dated 10 min of 1 MiB/s on the wall clock; the boot clock reads 1000 s less.
  UnitSeed seed;
  for (int i = 0; i < 60; ++i)
    seed.samples.emplace_back(kT0 - 600 + 10.0 * i, 1_GiB + 10.0 * i * 1_MiB);
  UnitTracker t;
  t.seed(kUnit, seed, -1000);
  Snapshot snap = stepped(-1000, 0, archiver(101, 5000, 1_GiB + 600_MiB));
  t.apply(snap);
  const UnitSample& u = snap.units.at(0);
  ASSERT_TRUE(u.growth_bytes_per_second.has_value());
  EXPECT_NEAR(*u.growth_bytes_per_second, 1_MiB, 1);
  ASSERT_TRUE(u.seconds_to_limit.has_value());
  EXPECT_NEAR(*u.seconds_to_limit, 2048.0 - 1024 - 600, 0.01);
}

TEST(UnitTracker, SecondsToLimitUsesTheCgroupLimitWhenSet) {
  UnitTracker t;
  UnitSample u;
  for (int i = 0; i <= 60; ++i) {
    double s = 5.0 * i;
    uint64_t rss = 1_GiB + static_cast<uint64_t>(s) * 1_MiB;
    u = track(t, kT0 + s, archiver(101, 5000, rss).cgroup(7, rss, 1536_MiB, 0));
  }
  ASSERT_TRUE(u.seconds_to_limit.has_value());
  EXPECT_NEAR(*u.seconds_to_limit, 1536.0 - 1024 - 300, 0.01);
}

TEST(UnitTracker, NoGrowthNoPrediction) {
  UnitTracker t;
  UnitSample u;
  for (int i = 0; i <= 12; ++i) u = track(t, kT0 + 5.0 * i, archiver(101, 5000, 1_GiB));
  ASSERT_TRUE(u.growth_bytes_per_second.has_value());
  EXPECT_NEAR(*u.growth_bytes_per_second, 0.0, 1e-6);
  EXPECT_FALSE(u.seconds_to_limit.has_value());
  // Shrinking: negative slope, still no prediction.
  for (int i = 13; i <= 30; ++i)
    u = track(t, kT0 + 5.0 * i, archiver(101, 5000, 1_GiB - static_cast<uint64_t>(i) * 1_MiB));
  ASSERT_TRUE(u.growth_bytes_per_second.has_value());
  EXPECT_LT(*u.growth_bytes_per_second, 0.0);
  EXPECT_FALSE(u.seconds_to_limit.has_value());
}

TEST(UnitTracker, TooFewSamplesGiveNoSlope) {
  UnitTracker t;
  UnitSample u;
  for (int i = 0; i < 3; ++i)
    u = track(t, kT0 + 5.0 * i, archiver(101, 5000, 1_GiB + static_cast<uint64_t>(i) * 1_MiB));
  EXPECT_FALSE(u.growth_bytes_per_second.has_value());
  EXPECT_FALSE(u.seconds_to_limit.has_value());
}

TEST(UnitTracker, RestartStartsTheGrowthAgain) {
  UnitTracker t;
  for (int i = 0; i <= 12; ++i)
    track(t, kT0 + 5.0 * i, archiver(101, 5000, 1_GiB + static_cast<uint64_t>(i) * 5_MiB));
  auto u = track(t, kT0 + 65, archiver(190, 9000, 50_MiB));
  EXPECT_EQ(restarts(u, RestartCause::external), 1u);
  EXPECT_FALSE(u.growth_bytes_per_second.has_value());
  EXPECT_FALSE(u.seconds_to_limit.has_value());
}

TEST(UnitTracker, SamplesAreBoundedByCount) {
  // Flat for 10 samples, then +1 MiB per 5 s: only the last 5 samples may make the slope.
  TrackerOptions o;
  o.max_samples = 5;
  UnitTracker t(o);
  UnitSample u;
  for (int i = 0; i < 10; ++i) u = track(t, kT0 + 5.0 * i, archiver(101, 5000, 1_GiB));
  for (int i = 1; i <= 5; ++i)
    u = track(t, kT0 + 45 + 5.0 * i, archiver(101, 5000, 1_GiB + static_cast<uint64_t>(i) * 1_MiB));
  ASSERT_TRUE(u.growth_bytes_per_second.has_value());
  EXPECT_NEAR(*u.growth_bytes_per_second, 1048576.0 / 5, 1.0);
}

TEST(UnitTracker, SamplesAreBoundedByTheGrowthWindow) {
  TrackerOptions o;
  o.growth_window = 30s;
  UnitTracker t(o);
  UnitSample u;
  for (int i = 0; i < 10; ++i) u = track(t, kT0 + 5.0 * i, archiver(101, 5000, 1_GiB));
  for (int i = 1; i <= 6; ++i)
    u = track(t, kT0 + 45 + 5.0 * i, archiver(101, 5000, 1_GiB + static_cast<uint64_t>(i) * 1_MiB));
  ASSERT_TRUE(u.growth_bytes_per_second.has_value());
  // Samples of the last 30 s: 45..75 s; 45 s is flat, then linear: slope close to 1 MiB / 5 s.
  EXPECT_GT(*u.growth_bytes_per_second, 0.9 * 1048576.0 / 5);
}

TEST(UnitTracker, MeasureWorkingSetUsesTheCgroup) {
  TrackerOptions o;
  o.measure = Measure::working_set;
  UnitTracker t(o);
  UnitSample u;
  for (int i = 0; i <= 12; ++i) {
    // RSS flat, cgroup working set growing 2 MiB/s.
    u = track(
        t, kT0 + 5.0 * i,
        archiver(101, 5000, 1_GiB).cgroup(7, 1_GiB + static_cast<uint64_t>(i) * 10_MiB, 2_GiB, 0));
  }
  ASSERT_TRUE(u.growth_bytes_per_second.has_value());
  EXPECT_NEAR(*u.growth_bytes_per_second, 2.0 * 1048576, 1.0);
}

TEST(UnitTracker, StateRoundTripsThroughJson) {
  UnitTracker a;
  track(a, kT0, archiver(101, 5000, 1_GiB).cgroup(7, 1_GiB, 2_GiB, 3));
  track(a, kT0 + 5, archiver(180, 9000, 1_GiB).cgroup(8, 1_GiB, 2_GiB, 1));  // oom restart
  EXPECT_TRUE(a.dirty());
  nlohmann::json j = a.to_json();
  a.mark_saved();
  EXPECT_FALSE(a.dirty());

  UnitTracker b;
  b.load_json(nlohmann::json::parse(j.dump()));
  EXPECT_EQ(b.tracked_units(), 1u);
  EXPECT_EQ(b.to_json(), j);
  // Same main, same cgroup: nothing new; the counters carried over.
  auto u = track(b, kT0 + 10, archiver(180, 9000, 1_GiB).cgroup(8, 1_GiB, 2_GiB, 1));
  EXPECT_EQ(u.oom_kills_total, 4u);
  EXPECT_EQ(restarts(u, RestartCause::oom), 1u);
  EXPECT_EQ(total_restarts(u), 1u);
  // The remembered main process still detects the next restart.
  u = track(b, kT0 + 15, archiver(300, 12000, 1_GiB).cgroup(9, 1_GiB, 2_GiB, 0));
  EXPECT_EQ(restarts(u, RestartCause::external), 1u);
  EXPECT_EQ(u.oom_kills_total, 4u);
}

TEST(UnitTracker, LoadRejectsBadState) {
  UnitTracker t;
  EXPECT_THROW(t.load_json(nlohmann::json{{"version", 2}, {"units", nlohmann::json::object()}}),
               nlohmann::json::exception);
  EXPECT_THROW(t.load_json(nlohmann::json::object()), nlohmann::json::exception);
  nlohmann::json bad_cause = {{"version", 1},
                              {"units",
                               {{kUnit,
                                 {{"generation", 1},
                                  {"oom_base", 0},
                                  {"oom_last_raw", 0},
                                  {"last_seen", kT0},
                                  {"restarts", {{"gremlins", 1}}}}}}}};
  EXPECT_THROW(t.load_json(bad_cause), nlohmann::json::exception);
}

TEST(UnitTracker, VanishedUnitsAreForgottenAfterAWhile) {
  TrackerOptions o;
  o.forget_after = 60s;
  UnitTracker t(o);
  track(t, kT0, archiver(101, 5000, 1_GiB));
  Snapshot empty = snapshot_at(kT0 + 30, {});
  t.apply(empty);
  EXPECT_EQ(t.tracked_units(), 1u);
  Snapshot later = snapshot_at(kT0 + 61, {});
  t.apply(later);
  EXPECT_EQ(t.tracked_units(), 0u);
}

TEST(UnitTracker, NumberOfUnitsIsBounded) {
  TrackerOptions o;
  o.max_units = 3;
  UnitTracker t(o);
  std::vector<UnitSample> units;
  for (int i = 0; i < 10; ++i) {
    UnitBuilder b("archiver@ch" + std::to_string(i) + ".service", "archiver");
    units.push_back(b.main(100 + i, 5000, 1_MiB));
  }
  Snapshot s = snapshot_at(kT0, units);
  t.apply(s);
  EXPECT_EQ(t.tracked_units(), 3u);
}

}  // namespace
}  // namespace mobasher

namespace mobasher {
namespace {

// An orphaned child (ffmpeg finishing its file after the main exited) is reparented outside the
// unit and looks like a main process: that alone is no restart, and the real new main that
// follows is counted once.
TEST(UnitTracker, ChildOutlivingTheMainIsNotASecondRestart) {
  UnitTracker t;
  track(t, kT0, archiver(101, 5000, 1_GiB).cgroup(7, 1_GiB, 2_GiB, 0));
  UnitBuilder orphan(kUnit, "archiver");
  orphan.main(102, 5010, 900_MiB, "ffmpeg").cgroup(7, 1_GiB, 2_GiB, 0);  // 101 gone, 102 left
  EXPECT_EQ(total_restarts(track(t, kT0 + 5, orphan)), 0u);
  UnitBuilder both(kUnit, "archiver");
  both.main(102, 5010, 900_MiB, "ffmpeg").main(180, 9000, 4_MiB).cgroup(7, 1_GiB, 2_GiB, 0);
  auto u = track(t, kT0 + 10, both);
  EXPECT_EQ(restarts(u, RestartCause::external), 1u);
  auto later = track(t, kT0 + 15, archiver(180, 9000, 100_MiB).cgroup(7, 100_MiB, 2_GiB, 0));
  EXPECT_EQ(total_restarts(later), 1u);
}

// The kill is seen in one scan (a child died, the main exits a moment later), the restart in the
// next: the restart is still the OOM kill's.
TEST(UnitTracker, OomSeenOneScanBeforeTheRestartIsItsCause) {
  UnitTracker t;
  track(t, kT0, archiver(101, 5000, 1_GiB).cgroup(7, 1_GiB, 2_GiB, 0));
  auto killed = track(t, kT0 + 5, archiver(101, 5000, 1_GiB).cgroup(7, 2_GiB, 2_GiB, 1));
  EXPECT_EQ(killed.oom_kills_total, 1u);
  EXPECT_EQ(total_restarts(killed), 0u);
  auto u = track(t, kT0 + 10, archiver(180, 9000, 100_MiB).cgroup(8, 100_MiB, 2_GiB, 0));
  EXPECT_EQ(restarts(u, RestartCause::oom), 1u);
  EXPECT_EQ(restarts(u, RestartCause::external), 0u);
  EXPECT_EQ(u.oom_kills_total, 1u);
}

// One node OOM kill explains one restart, not every unit that restarted in that scan.
TEST(UnitTracker, OneNodeOomKillExplainsOneRestart) {
  UnitTracker t;
  auto unit = [](const std::string& name, pid_t pid, uint64_t start, uint64_t gen) {
    UnitBuilder b(name, "archiver");
    b.main(pid, start, 100_MiB).cgroup(gen, 100_MiB, 2_GiB, 0);
    return UnitSample(b);
  };
  Snapshot s0 = snapshot_at(
      kT0, {unit("archiver@a.service", 101, 10, 1), unit("archiver@b.service", 201, 20, 2)}, 5);
  t.apply(s0);
  Snapshot s1 = snapshot_at(
      kT0 + 5, {unit("archiver@a.service", 301, 30, 3), unit("archiver@b.service", 401, 40, 4)}, 6);
  t.apply(s1);
  uint64_t oom = 0, external = 0, kills = 0;
  for (auto& u : s1.units) {
    oom += restarts(u, RestartCause::oom);
    external += restarts(u, RestartCause::external);
    kills += u.oom_kills_total;
  }
  EXPECT_EQ(oom, 1u);
  EXPECT_EQ(external, 1u);
  EXPECT_EQ(kills, 1u);
}

// A unit without a cgroup OOM counter (a /proc-matched one) never takes node OOM kills.
TEST(UnitTracker, UnitWithoutCgroupNeverTakesNodeOomKills) {
  UnitTracker t;
  track(t, kT0, archiver(101, 5000, 1_GiB).no_cgroup(), 5);
  auto u = track(t, kT0 + 5, archiver(180, 9000, 1_GiB).no_cgroup(), 9);
  EXPECT_EQ(restarts(u, RestartCause::external), 1u);
  EXPECT_EQ(u.oom_kills_total, 0u);
}

// measure = working_set: a scan without the cgroup adds no RSS sample to the working-set series.
TEST(UnitTracker, WorkingSetSeriesNeverMixesInRss) {
  TrackerOptions o;
  o.measure = Measure::working_set;
  UnitTracker t(o);
  UnitSample u;
  for (int i = 0; i <= 12; ++i) {
    auto b = archiver(101, 5000, 1_GiB);  // RSS 1 GiB, flat
    if (i % 3 == 0)
      b.no_cgroup();  // every third scan: cgroup unreadable
    else
      b.cgroup(7, 100_MiB + static_cast<uint64_t>(i) * 10_MiB, 2_GiB, 0);
    u = track(t, kT0 + 5.0 * i, b);
  }
  ASSERT_TRUE(u.growth_bytes_per_second.has_value());
  EXPECT_NEAR(*u.growth_bytes_per_second, 2.0 * 1048576, 1.0);
}

}  // namespace
}  // namespace mobasher
