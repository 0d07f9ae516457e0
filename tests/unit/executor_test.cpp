// The action executor on a real io_context with scripted systemd answers (the real systemd is in
// tests/integration/actions_test.sh): the order of calls, the hand-over's waits and its failures.
#include "agent/actions/executor.hpp"

#include <gtest/gtest.h>

#include <boost/asio/post.hpp>
#include <map>
#include <set>

namespace mobasher::actions {
namespace {

using namespace std::chrono_literals;

// Answers like systemd would, asynchronously; records every call as "verb unit".
struct FakeSystemd {
  boost::asio::io_context& io;
  std::vector<std::string> calls;
  std::map<std::string, std::string> state;  // unit -> ActiveState
  std::map<std::string, std::string> fail;   // "verb unit" -> error
  std::set<std::string> hang;                // "verb unit": never answered

  void job(const std::string& verb, const std::string& unit, std::function<void(CallResult)> done,
           const char* after) {
    std::string key = verb + " " + unit;
    calls.push_back(key);
    if (hang.count(key)) return;
    CallResult r;
    if (auto f = fail.find(key); f != fail.end()) {
      r.job_result = "failed";
      r.error = f->second;
    } else {
      r.ok = true;
      r.job_result = "done";
      state[unit] = after;
    }
    boost::asio::post(io, [done, r] { done(r); });
  }
  UnitOps ops() {
    return {[this](const std::string& u, auto d) { job("restart", u, std::move(d), "active"); },
            [this](const std::string& u, auto d) { job("start", u, std::move(d), "active"); },
            [this](const std::string& u, auto d) { job("stop", u, std::move(d), "inactive"); },
            [this](std::vector<std::string> units, auto done) {
              PropertiesResult r;
              for (const auto& u : units) {
                calls.push_back("properties " + u);
                UnitProperties p;
                p.unit = u;
                p.active_state = state.count(u) ? state[u] : "inactive";
                r.units.push_back(p);
              }
              boost::asio::post(io, [done, r] { done(r); });
            }};
  }
};

Decision handover() {
  Decision d;
  d.unit = "archiver@ch1:a.service";
  d.target = "archiver@ch1:b.service";
  d.group = "archiver";
  d.action = ActionKind::handover;
  d.cause = RestartCause::age;
  return d;
}

Decision restart() {
  Decision d;
  d.unit = "archiver@ch1.service";
  d.group = "archiver";
  d.cause = RestartCause::memory;
  return d;
}

struct Scene {
  boost::asio::io_context io;
  FakeSystemd sd{io, {}, {}, {}, {}};
  std::vector<ActionReport> reports;
  ExecutorSettings settings() {
    ExecutorSettings s;
    s.overlap = 30ms;
    s.start_timeout = 200ms;
    s.poll = 5ms;
    return s;
  }
  void go(Executor& ex, const Decision& d) {
    ex.execute(d);
    io.run_for(2s);
  }
};

TEST(Executor, RestartIsOneRestartUnit) {
  Scene r;
  Executor ex(r.io, r.sd.ops(), r.settings(),
              [&](const ActionReport& a) { r.reports.push_back(a); });
  r.go(ex, restart());
  ASSERT_EQ(r.reports.size(), 1u);
  EXPECT_TRUE(r.reports[0].ok);
  EXPECT_EQ(r.reports[0].result, "done");
  EXPECT_EQ(r.sd.calls, std::vector<std::string>{"restart archiver@ch1.service"});
  EXPECT_EQ(ex.active(), 0u);
}

TEST(Executor, AFailedRestartIsReportedWithSystemdsError) {
  Scene r;
  r.sd.fail["restart archiver@ch1.service"] = "restart archiver@ch1.service: job ended with failed";
  Executor ex(r.io, r.sd.ops(), r.settings(),
              [&](const ActionReport& a) { r.reports.push_back(a); });
  r.go(ex, restart());
  ASSERT_EQ(r.reports.size(), 1u);
  EXPECT_FALSE(r.reports[0].ok);
  EXPECT_EQ(r.reports[0].result, "failed");
  EXPECT_EQ(r.reports[0].error, "restart archiver@ch1.service: job ended with failed");
}

TEST(Executor, HandOverStartsWaitsOverlapsThenStopsTheOld) {
  Scene r;
  r.sd.state["archiver@ch1:a.service"] = "active";
  Executor ex(r.io, r.sd.ops(), r.settings(),
              [&](const ActionReport& a) { r.reports.push_back(a); });
  r.go(ex, handover());
  ASSERT_EQ(r.reports.size(), 1u);
  EXPECT_TRUE(r.reports[0].ok) << r.reports[0].error;
  EXPECT_GE(r.reports[0].overlap_seconds, 0.030);
  EXPECT_EQ(r.sd.calls, (std::vector<std::string>{
                            "start archiver@ch1:b.service", "properties archiver@ch1:b.service",
                            "properties archiver@ch1:b.service", "stop archiver@ch1:a.service"}));
  EXPECT_EQ(r.sd.state["archiver@ch1:a.service"], "inactive");
  EXPECT_EQ(r.sd.state["archiver@ch1:b.service"], "active");
}

TEST(Executor, ANewSlotThatFailsToStartLeavesTheOldRunning) {
  Scene r;
  r.sd.state["archiver@ch1:a.service"] = "active";
  r.sd.fail["start archiver@ch1:b.service"] = "start archiver@ch1:b.service: job ended with failed";
  Executor ex(r.io, r.sd.ops(), r.settings(),
              [&](const ActionReport& a) { r.reports.push_back(a); });
  r.go(ex, handover());
  ASSERT_EQ(r.reports.size(), 1u);
  EXPECT_FALSE(r.reports[0].ok);
  EXPECT_EQ(r.reports[0].error,
            "hand-over archiver@ch1:a.service -> archiver@ch1:b.service: start "
            "archiver@ch1:b.service: job ended with failed; archiver@ch1:a.service keeps running");
  EXPECT_EQ(r.sd.state["archiver@ch1:a.service"], "active");
  for (const auto& c : r.sd.calls) EXPECT_NE(c, "stop archiver@ch1:a.service");
}

TEST(Executor, ANewSlotThatNeverBecomesActiveTimesOutAndIsStopped) {
  Scene r;
  r.sd.state["archiver@ch1:a.service"] = "active";
  Executor ex(r.io, r.sd.ops(), r.settings(),
              [&](const ActionReport& a) { r.reports.push_back(a); });
  UnitOps ops = r.sd.ops();
  // the start job is done, but the unit stays "activating" (e.g. a slow ExecStartPre)
  ops.start = [&](const std::string& u, std::function<void(CallResult)> done) {
    r.sd.calls.push_back("start " + u);
    r.sd.state[u] = "activating";
    CallResult ok;
    ok.ok = true;
    ok.job_result = "done";
    boost::asio::post(r.io, [done, ok] { done(ok); });
  };
  Executor slow(r.io, ops, r.settings(), [&](const ActionReport& a) { r.reports.push_back(a); });
  r.go(slow, handover());
  ASSERT_EQ(r.reports.size(), 1u);
  EXPECT_FALSE(r.reports[0].ok);
  EXPECT_EQ(r.reports[0].result, "timeout");
  EXPECT_NE(r.reports[0].error.find("archiver@ch1:b.service is activating"), std::string::npos)
      << r.reports[0].error;
  EXPECT_EQ(r.sd.calls.back(), "stop archiver@ch1:b.service");
  EXPECT_EQ(r.sd.state["archiver@ch1:a.service"], "active");
}

TEST(Executor, ANewSlotWhoseOutputDoesNotGrowIsNotTakenOver) {
  Scene r;
  r.sd.state["archiver@ch1:a.service"] = "active";
  ExecutorSettings s = r.settings();
  s.output = "/srv/rec/{instance}.ts";
  std::vector<std::string> asked;
  Executor ex(
      r.io, r.sd.ops(), s, [&](const ActionReport& a) { r.reports.push_back(a); },
      [&](const std::string& path) -> std::optional<uint64_t> {
        asked.push_back(path);
        return 4096;  // never grows
      });
  r.go(ex, handover());
  ASSERT_EQ(r.reports.size(), 1u);
  EXPECT_FALSE(r.reports[0].ok);
  EXPECT_EQ(r.reports[0].result, "no_output");
  ASSERT_EQ(asked.size(), 2u);
  EXPECT_EQ(asked[0], "/srv/rec/ch1:b.ts");
  EXPECT_EQ(r.sd.state["archiver@ch1:a.service"], "active");
  EXPECT_EQ(r.sd.state["archiver@ch1:b.service"], "inactive");
}

TEST(Executor, AGrowingOutputIsTakenOver) {
  Scene r;
  ExecutorSettings s = r.settings();
  s.output = "/srv/rec/{unit}";
  uint64_t size = 0;
  Executor ex(
      r.io, r.sd.ops(), s, [&](const ActionReport& a) { r.reports.push_back(a); },
      [&](const std::string&) -> std::optional<uint64_t> { return size += 1000; });
  r.go(ex, handover());
  ASSERT_EQ(r.reports.size(), 1u);
  EXPECT_TRUE(r.reports[0].ok) << r.reports[0].error;
}

TEST(Executor, NothingIsReportedAfterTheExecutorIsGone) {
  Scene r;
  r.sd.hang.insert("restart archiver@ch1.service");
  std::function<void(CallResult)> late;
  UnitOps ops = r.sd.ops();
  ops.restart = [&](const std::string&, std::function<void(CallResult)> done) { late = done; };
  {
    Executor ex(r.io, ops, r.settings(), [&](const ActionReport& a) { r.reports.push_back(a); });
    ex.execute(restart());
    EXPECT_EQ(ex.active(), 1u);
  }
  CallResult ok;
  ok.ok = true;
  ASSERT_TRUE(late);
  late(ok);  // the D-Bus answer arrives after the daemon dropped the executor
  r.io.run_for(50ms);
  EXPECT_TRUE(r.reports.empty());
}

TEST(Executor, OutputPathPlaceholders) {
  EXPECT_EQ(output_path("/a/{instance}/{unit}.log", "recorder@ch2:a.service"),
            "/a/ch2:a/recorder@ch2:a.service.log");
  EXPECT_EQ(output_path("/a/x", "recorder@ch2.service"), "/a/x");
}

}  // namespace
}  // namespace mobasher::actions
