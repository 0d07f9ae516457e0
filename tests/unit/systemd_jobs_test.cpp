// The D-Bus client's bookkeeping without a bus (agent/actions/systemd_jobs): admission, a unit
// verb from its call to its job's JobRemoved, job timeouts, a lost connection, the properties
// fan-out, and the texts each request ends with. Times are made up: t(1.5) is 1.5 s in.
#include "agent/actions/systemd_jobs.hpp"

#include <gtest/gtest.h>

namespace mobasher::actions {
namespace {

using namespace std::chrono_literals;
using namespace std::string_literals;

const std::string kJob = "/org/freedesktop/systemd1/job/42";
const std::string kLost = "bus connection lost (unix:path=/x): Connection reset by peer";

SteadyTime t(double seconds) {
  return SteadyTime(1000s) +
         std::chrono::round<SteadyTime::duration>(std::chrono::duration<double>(seconds));
}

// Counts the completions of the requests it hands out.
struct Calls {
  int done = 0;
  std::function<void(CallResult)> unit() {
    return [this](CallResult) { ++done; };
  }
  std::function<void(PropertiesResult)> properties() {
    return [this](PropertiesResult) { ++done; };
  }
};

TEST(SystemdVerb, MethodAndWord) {
  EXPECT_STREQ(method_of(Verb::kStart), "StartUnit");
  EXPECT_STREQ(method_of(Verb::kStop), "StopUnit");
  EXPECT_STREQ(method_of(Verb::kRestart), "RestartUnit");
  EXPECT_STREQ(word_of(Verb::kStart), "start");
  EXPECT_STREQ(word_of(Verb::kStop), "stop");
  EXPECT_STREQ(word_of(Verb::kRestart), "restart");
}

TEST(SystemdRequests, ARefusedUnitOrAFullQueueIsSaidWithoutAnOp) {
  SystemdRequests r(2);
  EXPECT_EQ(r.unit_refusal(false), "refused: not an allowed unit");
  EXPECT_EQ(r.unit_refusal(true), std::nullopt);
  Calls c;
  r.add_unit(Verb::kStart, "a.service", 10s, c.unit(), t(0));
  uint64_t props = r.add_properties({"a.service"}, c.properties(), t(0));
  EXPECT_EQ(r.accepted(), 2u);
  EXPECT_EQ(r.unit_refusal(true), "queue full (2 requests pending)");
  EXPECT_EQ(r.unit_refusal(false), "refused: not an allowed unit") << "refusal is said first";
  EXPECT_EQ(r.properties_refusal(), "queue full (2 requests pending)");
  ASSERT_TRUE(r.fail_properties(props, "x", t(1)).has_value());
  EXPECT_EQ(r.accepted(), 1u);
  EXPECT_EQ(r.properties_refusal(), std::nullopt) << "accepted again once one ended";
  EXPECT_EQ(unit_error(Verb::kRestart, "a.service", "refused: not an allowed unit"),
            "restart a.service: refused: not an allowed unit");
}

TEST(SystemdRequests, ReplyThenJobRemovedDone) {
  SystemdRequests r(64);
  Calls c;
  uint64_t op = r.add_unit(Verb::kRestart, "archiver@ch1.service", 10s, c.unit(), t(0));
  r.call_sent(op, 7);
  EXPECT_EQ(r.replied(op, kJob, t(0.1)), std::nullopt) << "waits for its job";
  EXPECT_TRUE(r.job_removed("/org/freedesktop/systemd1/job/41", "done", t(1)).empty());
  auto ends = r.job_removed(kJob, "done", t(1.5));
  ASSERT_EQ(ends.size(), 1u);
  const UnitEnd& e = ends[0];
  EXPECT_EQ(e.verb, Verb::kRestart);
  EXPECT_EQ(e.unit, "archiver@ch1.service");
  EXPECT_EQ(e.job, kJob);
  EXPECT_EQ(e.call, 0u) << "the reply came: nothing to cancel";
  EXPECT_TRUE(e.result.ok);
  EXPECT_EQ(e.result.job_result, "done");
  EXPECT_EQ(e.result.error, "");
  EXPECT_DOUBLE_EQ(e.result.seconds, 1.5);
  e.done(e.result);
  EXPECT_EQ(c.done, 1);
  EXPECT_EQ(r.accepted(), 0u);
  EXPECT_TRUE(r.job_removed(kJob, "done", t(2)).empty()) << "ended once";
  EXPECT_EQ(r.next_deadline(), std::nullopt);
}

TEST(SystemdRequests, AJobThatEndsOtherwiseIsAnErrorNamingUnitJobAndResult) {
  SystemdRequests r(64);
  for (const char* result : {"failed", "canceled", "timeout", "dependency", "skipped"}) {
    uint64_t op = r.add_unit(Verb::kStart, "fail@x.service", 10s, nullptr, t(0));
    r.call_sent(op, 1);
    r.replied(op, kJob, t(0));
    auto ends = r.job_removed(kJob, result, t(1));
    ASSERT_EQ(ends.size(), 1u);
    EXPECT_FALSE(ends[0].result.ok);
    EXPECT_EQ(ends[0].result.job_result, result);
    EXPECT_EQ(ends[0].result.error,
              "start fail@x.service: job " + kJob + " ended with result \"" + result + "\"");
  }
}

TEST(SystemdRequests, JobRemovedBeforeTheReplyEndsTheOpAtTheReply) {
  SystemdRequests r(64);
  uint64_t op = r.add_unit(Verb::kStop, "a.service", 10s, nullptr, t(0));
  r.call_sent(op, 3);
  EXPECT_TRUE(r.job_removed(kJob, "done", t(0.2)).empty()) << "no path known yet: remembered";
  auto e = r.replied(op, kJob, t(0.3));
  ASSERT_TRUE(e.has_value());
  EXPECT_TRUE(e->result.ok);
  EXPECT_EQ(e->job, kJob);
  EXPECT_DOUBLE_EQ(e->result.seconds, 0.3);
  // used up: a second op with the same path (a new systemd) waits for its own signal
  uint64_t again = r.add_unit(Verb::kStop, "a.service", 10s, nullptr, t(1));
  EXPECT_EQ(r.replied(again, kJob, t(1.1)), std::nullopt);
}

TEST(SystemdRequests, EarlySignalsOfOtherClientsAreBounded) {
  SystemdRequests r(64);
  for (int i = 0; i < 200; ++i)
    r.job_removed("/org/freedesktop/systemd1/job/" + std::to_string(i), "done", t(0));
  uint64_t oldest = r.add_unit(Verb::kStart, "a.service", 10s, nullptr, t(1));
  EXPECT_EQ(r.replied(oldest, "/org/freedesktop/systemd1/job/0", t(1)), std::nullopt)
      << "forgotten: only the last " << SystemdRequests::kRecentJobs << " are kept";
  uint64_t newest = r.add_unit(Verb::kStart, "b.service", 10s, nullptr, t(1));
  EXPECT_TRUE(r.replied(newest, "/org/freedesktop/systemd1/job/199", t(1)).has_value());
  uint64_t edge = r.add_unit(Verb::kStart, "c.service", 10s, nullptr, t(1));
  EXPECT_TRUE(r.replied(edge, "/org/freedesktop/systemd1/job/72", t(1)).has_value())
      << "200 - 128 = 72 is the oldest kept";
}

TEST(SystemdRequests, TimeoutWaitingForTheReplyNamesTheMethodAndTheCallToCancel) {
  SystemdRequests r(64);
  uint64_t op = r.add_unit(Verb::kRestart, "a.service", 1s, nullptr, t(0));
  r.call_sent(op, 9);
  EXPECT_EQ(r.next_deadline(), t(1));
  EXPECT_TRUE(r.expire(t(0.999)).empty());
  auto ends = r.expire(t(1));
  ASSERT_EQ(ends.size(), 1u);
  EXPECT_EQ(ends[0].call, 9u) << "the call is still awaited: the client cancels it";
  EXPECT_EQ(ends[0].result.job_result, "");
  EXPECT_EQ(ends[0].result.error,
            "restart a.service: timed out after 1s waiting for the reply to RestartUnit");
  EXPECT_EQ(r.replied(op, kJob, t(2)), std::nullopt) << "a late reply finds nothing";
}

TEST(SystemdRequests, TimeoutWaitingForTheJobLeavesTheJobToSystemd) {
  SystemdRequests r(64);
  uint64_t slow = r.add_unit(Verb::kStart, "slow@x.service", 1500ms, nullptr, t(0));
  uint64_t quick = r.add_unit(Verb::kStop, "b.service", 20s, nullptr, t(0.5));
  r.replied(slow, kJob, t(0.1));
  r.replied(quick, "/org/freedesktop/systemd1/job/43", t(0.6));
  EXPECT_EQ(r.next_deadline(), t(1.5)) << "the earliest";
  auto ends = r.expire(t(1.6));
  ASSERT_EQ(ends.size(), 1u);
  EXPECT_EQ(ends[0].unit, "slow@x.service");
  EXPECT_EQ(ends[0].call, 0u);
  EXPECT_EQ(ends[0].result.error,
            "start slow@x.service: timed out after 1s500ms waiting for job " + kJob);
  EXPECT_DOUBLE_EQ(ends[0].result.seconds, 1.6);
  EXPECT_EQ(r.next_deadline(), t(20.5));
  EXPECT_TRUE(r.job_removed(kJob, "canceled", t(3)).empty()) << "its end completes nothing";
  EXPECT_EQ(r.accepted(), 1u);
}

TEST(SystemdRequests, AnErrorReplyEndsWithTheErrorAfterTheUnit) {
  SystemdRequests r(64);
  uint64_t op = r.add_unit(Verb::kRestart, "does-not-exist.service", 10s, nullptr, t(0));
  r.call_sent(op, 5);
  auto e = r.reply_failed(
      op, "org.freedesktop.systemd1.NoSuchUnit: Unit does-not-exist.service not found.", t(0.01));
  ASSERT_TRUE(e.has_value());
  EXPECT_FALSE(e->result.ok);
  EXPECT_EQ(e->result.job_result, "");
  EXPECT_EQ(e->result.error,
            "restart does-not-exist.service: org.freedesktop.systemd1.NoSuchUnit: Unit "
            "does-not-exist.service not found.");
  EXPECT_EQ(e->call, 0u) << "answered: nothing to cancel";
  EXPECT_EQ(r.fail_unit(op, "again", t(1)), std::nullopt) << "ended once";
}

TEST(SystemdRequests, ACallThatCouldNotBeSentEndsWithoutAJob) {
  SystemdRequests r(64);
  uint64_t op = r.add_unit(Verb::kStart, "a.service", 10s, nullptr, t(0));
  auto e = r.fail_unit(op, "bus not connected (unix:path=/x): Connection refused", t(0));
  ASSERT_TRUE(e.has_value());
  EXPECT_EQ(e->result.error,
            "start a.service: bus not connected (unix:path=/x): Connection refused");
  EXPECT_EQ(e->job, "");
  EXPECT_EQ(e->call, 0u);
  EXPECT_EQ(r.accepted(), 0u);
}

TEST(SystemdRequests, ALostBusFailsEverythingAndForgetsEarlySignals) {
  SystemdRequests r(64);
  Calls c;
  uint64_t sent = r.add_unit(Verb::kRestart, "a.service", 10s, c.unit(), t(0));
  r.call_sent(sent, 1);
  uint64_t waiting = r.add_unit(Verb::kStart, "slow@busloss.service", 10s, c.unit(), t(0));
  r.replied(waiting, kJob, t(0.1));
  uint64_t props = r.add_properties({"a.service"}, c.properties(), t(0));
  r.properties_call_sent(props);
  r.job_removed("/org/freedesktop/systemd1/job/99", "done", t(0.2));  // not ours (yet)

  auto [units, properties] = r.fail_all(kLost, t(2));
  ASSERT_EQ(units.size(), 2u);
  EXPECT_EQ(units[0].result.error, "restart a.service: " + kLost);
  EXPECT_EQ(units[1].result.error,
            "start slow@busloss.service: " + kLost + " while waiting for job " + kJob);
  EXPECT_EQ(units[1].result.job_result, "");
  ASSERT_EQ(properties.size(), 1u);
  EXPECT_EQ(properties[0].result.error, "properties: " + kLost);
  EXPECT_TRUE(properties[0].result.units.empty());
  EXPECT_EQ(r.accepted(), 0u);
  for (auto& e : units) e.done(e.result);
  properties[0].done(properties[0].result);
  EXPECT_EQ(c.done, 3);

  uint64_t next = r.add_unit(Verb::kStart, "b.service", 10s, nullptr, t(3));
  EXPECT_EQ(r.replied(next, "/org/freedesktop/systemd1/job/99", t(3)), std::nullopt)
      << "job numbers of the old connection are forgotten";
}

TEST(SystemdRequests, DropAllEndsNothing) {
  SystemdRequests r(64);
  Calls c;
  r.add_unit(Verb::kStart, "a.service", 10s, c.unit(), t(0));
  r.add_properties({"a.service"}, c.properties(), t(0));
  EXPECT_EQ(r.drop_all(), 2u);
  EXPECT_EQ(r.accepted(), 0u);
  EXPECT_EQ(r.next_deadline(), std::nullopt);
  EXPECT_EQ(c.done, 0);
}

TEST(SystemdRequests, PropertiesOfSeveralUnitsInTheOrderAsked) {
  SystemdRequests r(64);
  uint64_t op = r.add_properties({"a.service", "missing.service", "b.socket"}, nullptr, t(0));
  ASSERT_EQ(r.units_asked(op).size(), 3u);
  for (int i = 0; i < 5; ++i) r.properties_call_sent(op);  // Unit + Service, Unit + Service, Unit
  EXPECT_EQ(r.properties_sent(op, t(0)), std::nullopt);
  EXPECT_EQ(r.properties_answer(op, 2, {{"ActiveState", "active"s}}, t(0.1)), std::nullopt);
  EXPECT_EQ(r.properties_answer(op, 0, {{"ActiveState", "active"s}, {"MainPID", 7u}}, t(0.1)),
            std::nullopt);
  EXPECT_EQ(r.properties_answer(op, 0, {{"Result", "success"s}}, t(0.1)), std::nullopt);
  EXPECT_EQ(r.properties_answer(op, 1, {{"LoadState", "not-found"s}}, t(0.1)), std::nullopt);
  // a unit nobody installed has no Service interface: that error is not a failure
  auto end = r.properties_error(
      op, 1, true, "org.freedesktop.DBus.Error.UnknownInterface: Unknown interface", t(0.25));
  ASSERT_TRUE(end.has_value());
  EXPECT_EQ(end->result.error, "");
  EXPECT_EQ(end->asked, 3u);
  EXPECT_DOUBLE_EQ(end->seconds, 0.25);
  const auto& units = end->result.units;
  ASSERT_EQ(units.size(), 3u);
  EXPECT_EQ(units[0].unit, "a.service");
  EXPECT_EQ(units[0].main_pid, 7u);
  EXPECT_EQ(units[0].result, "success");
  EXPECT_EQ(units[1].unit, "missing.service");
  EXPECT_EQ(units[1].load_state, "not-found");
  EXPECT_EQ(units[2].unit, "b.socket");
  EXPECT_EQ(units[2].active_state, "active");
}

TEST(SystemdRequests, AUnitWhoseReadFailedIsLeftOutAndNamed) {
  SystemdRequests r(64);
  uint64_t op = r.add_properties({"no-suffix", "a.service", "b.service"}, nullptr, t(0));
  for (int i = 0; i < 5; ++i) r.properties_call_sent(op);
  r.properties_error(op, 0, false, "org.freedesktop.DBus.Error.InvalidArgs: bad name", t(0));
  r.properties_answer(op, 1, {{"LoadState", "loaded"s}}, t(0));
  r.properties_error(op, 1, true, "bad GetAll reply: Bad message", t(0));
  r.properties_answer(op, 2, {{"LoadState", "loaded"s}}, t(0));
  auto end = r.properties_answer(op, 2, {{"Result", "success"s}}, t(0));
  ASSERT_TRUE(end.has_value());
  EXPECT_EQ(end->result.error,
            "no-suffix: org.freedesktop.DBus.Error.InvalidArgs: bad name; "
            "a.service: bad GetAll reply: Bad message");
  ASSERT_EQ(end->result.units.size(), 1u);
  EXPECT_EQ(end->result.units[0].unit, "b.service");
}

TEST(SystemdRequests, NoUnitsEndAtOnceAndAFailedRequestNamesWhy) {
  SystemdRequests r(64);
  uint64_t none = r.add_properties({}, nullptr, t(0));
  auto empty = r.properties_sent(none, t(0));
  ASSERT_TRUE(empty.has_value());
  EXPECT_EQ(empty->result.error, "");
  EXPECT_TRUE(empty->result.units.empty());

  uint64_t op = r.add_properties({"a.service", "b.service"}, nullptr, t(0));
  r.properties_call_sent(op);
  auto failed = r.fail_properties(op, "b.service: bad unit name: Invalid argument", t(0));
  ASSERT_TRUE(failed.has_value());
  EXPECT_EQ(failed->result.error, "properties: b.service: bad unit name: Invalid argument");
  EXPECT_TRUE(failed->result.units.empty());
  EXPECT_EQ(r.properties_answer(op, 0, {{"LoadState", "loaded"s}}, t(1)), std::nullopt)
      << "an answer still on its way finds nothing";
  EXPECT_EQ(r.accepted(), 0u);
}

}  // namespace
}  // namespace mobasher::actions
