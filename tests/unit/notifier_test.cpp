#include "exporters/alerting/notifier.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <boost/asio/io_context.hpp>
#include <chrono>
#include <nlohmann/json.hpp>
#include <thread>

#include "fixtures/fixture_tree.hpp"
#include "fixtures/loopback_http.hpp"
#include "fixtures/notifications.hpp"

namespace mobasher {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using fixtures::firing;
using fixtures::FixtureTree;
using fixtures::kT0;
using fixtures::LoopbackHttp;
using fixtures::repeat;
using fixtures::resolved;
using nlohmann::json;
using ::testing::ElementsAre;
using ::testing::IsEmpty;
using ::testing::SizeIs;

// Runs io one handler at a time until pred holds; false if it did not within `limit`.
template <class Pred>
bool run_until(boost::asio::io_context& io, Pred pred, std::chrono::milliseconds limit = 10s) {
  auto deadline = std::chrono::steady_clock::now() + limit;
  while (!pred()) {
    if (std::chrono::steady_clock::now() >= deadline) return false;
    io.restart();
    if (io.run_one_for(20ms) == 0 && io.stopped())
      std::this_thread::sleep_for(1ms);  // no work here: the awaited event is the server's
  }
  return true;
}

// A port nothing listens on (until a LoopbackHttp is started on it).
uint16_t closed_port() {
  LoopbackHttp probe;
  return probe.port();
}

std::string url_of(uint16_t port) {
  return "http://127.0.0.1:" + std::to_string(port) + "/api/v2/alerts";
}

// The agent's own format unless said otherwise: its body says status and kind.
WebhookConfig hook(const std::string& name, const std::string& url,
                   const std::string& format = "json") {
  WebhookConfig w;
  w.name = name;
  w.url = url;
  w.format = *parse_enum<WebhookFormat>(format);
  w.timeout = 2s;
  return w;
}

// What a "json" receiver was told, one line per request: "ch1 firing", "ch1 resolved".
std::vector<std::string> deliveries(const LoopbackHttp& server) {
  std::vector<std::string> out;
  for (const auto& body : server.bodies()) {
    json j = json::parse(body);
    out.push_back(j["labels"]["channel"].get<std::string>() + " " + j["status"].get<std::string>());
  }
  return out;
}

std::vector<std::string> files_in(const fs::path& dir) {
  std::vector<std::string> out;
  std::error_code ec;
  for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec))
    out.push_back(it->path().filename());
  std::sort(out.begin(), out.end());
  return out;
}

class NotifierTest : public ::testing::Test {
 protected:
  std::unique_ptr<Notifier> make(std::vector<WebhookConfig> hooks, NotificationCounts counts = {}) {
    cfg_.webhooks = std::move(hooks);
    return std::make_unique<Notifier>(io_, cfg_, state_dir(),
                                      PayloadContext{"", "http://host-a:9842/", "1.2.3", 0},
                                      std::move(counts), [this] { return now_; });
  }
  fs::path state_dir() const { return fx_.root() / "state"; }
  fs::path outbox(const std::string& receiver = "am") const {
    return outbox_dir(state_dir(), receiver);
  }
  uint64_t count(const Notifier& n, const std::string& result,
                 const std::string& receiver = "am") const {
    auto r = n.counts().find(receiver);
    if (r == n.counts().end()) return 0;
    auto c = r->second.find(result);
    return c == r->second.end() ? 0 : c->second;
  }

  FixtureTree fx_;
  boost::asio::io_context io_;
  AlertsConfig cfg_;
  double now_ = kT0 + 31.5;  // what the notifier's clock says
};

TEST_F(NotifierTest, DeliversInOrderOneAtATimeAndRemovesTheFiles) {
  LoopbackHttp server;
  auto n = make({hook("am", server.url("/api/v2/alerts"), "alertmanager-api")});
  n->notify({firing("ch1"), firing("ch2"), resolved("ch1", kT0 + 90)});

  ASSERT_TRUE(run_until(io_, [&] { return count(*n, "sent") == 3; }));
  std::vector<std::string> told;
  for (const auto& body : server.bodies()) {
    json a = json::parse(body)[0];
    told.push_back(a["labels"]["channel"].get<std::string>() + " ends " +
                   a["endsAt"].get<std::string>());
  }
  EXPECT_THAT(told, ElementsAre("ch1 ends 2027-01-15T08:04:31.500Z",  // now + 240 s
                                "ch2 ends 2027-01-15T08:04:31.500Z",
                                "ch1 ends 2027-01-15T08:01:30.000Z"));  // when it resolved
  EXPECT_EQ(server.max_unanswered(), 1);
  auto requests = server.requests();
  EXPECT_EQ(requests[0].method, "POST");
  EXPECT_EQ(requests[0].target, "/api/v2/alerts");
  EXPECT_EQ(requests[0].headers["content-type"], "application/json");
  EXPECT_EQ(n->counts().at("am"),
            (std::map<std::string, uint64_t>{
                {"sent", 3}, {"failed", 0}, {"rejected", 0}, {"dropped", 0}, {"corrupt", 0}}));
  EXPECT_EQ(n->queue_lengths().at("am"), 0u);
  EXPECT_THAT(files_in(outbox()), IsEmpty());
}

TEST_F(NotifierTest, TheBodyIsMadeWhenSentWithTheReceiversFormat) {
  LoopbackHttp am, hook_rx;
  auto n = make({hook("am", am.url(), "alertmanager-api"),
                 hook("hook", hook_rx.url(), "alertmanager-webhook")});
  now_ = kT0 + 100;
  n->notify({firing("ch1")});
  ASSERT_TRUE(
      run_until(io_, [&] { return am.request_count() == 1 && hook_rx.request_count() == 1; }));

  json api = json::parse(am.bodies()[0]);
  EXPECT_EQ(api[0]["endsAt"], "2027-01-15T08:05:40.000Z");  // the clock's now + 240 s
  EXPECT_EQ(api[0]["generatorURL"], "http://host-a:9842/");
  json v4 = json::parse(hook_rx.bodies()[0]);
  EXPECT_EQ(v4["version"], "4");
  EXPECT_EQ(v4["receiver"], "hook");  // each receiver gets its own name
  EXPECT_EQ(v4["alerts"][0]["labels"]["channel"], "ch1");
}

TEST_F(NotifierTest, TheReceiversHeadersAndTokenAreSent) {
  LoopbackHttp server;
  fx_.write("token", "s3cret\n");
  auto h = hook("am", server.url("/hook?tenant=a"));
  h.headers = {{"X-Tenant", "a"}};
  h.bearer_token_file = (fx_.root() / "token").string();
  auto n = make({h});
  n->notify({firing("ch1")});
  ASSERT_TRUE(run_until(io_, [&] { return count(*n, "sent") == 1; }));
  auto r = server.requests().at(0);
  EXPECT_EQ(r.target, "/hook?tenant=a");
  EXPECT_EQ(r.headers["x-tenant"], "a");
  EXPECT_EQ(r.headers["authorization"], "Bearer s3cret");
}

TEST_F(NotifierTest, NotifyWritesTheOutboxBeforeAnyDelivery) {
  LoopbackHttp server;
  auto n = make({hook("am", server.url())});
  n->notify({firing("ch1"), resolved("ch1", kT0 + 90)});
  // Nothing has run on io_ yet: both are on disk and queued.
  EXPECT_THAT(files_in(outbox()), SizeIs(2));
  EXPECT_EQ(n->queue_lengths().at("am"), 2u);
  ASSERT_TRUE(run_until(io_, [&] { return count(*n, "sent") == 2; }));
  EXPECT_THAT(files_in(outbox()), IsEmpty());
}

TEST_F(NotifierTest, ServerErrorsAreRetriedWithGrowingBackoffThenTheNextIsSent) {
  LoopbackHttp server;
  server.script_statuses({503, 503, 200});
  auto n = make({hook("am", server.url())});
  n->notify({firing("ch1"), resolved("ch1", kT0 + 90)});

  ASSERT_TRUE(run_until(
      io_, [&] { return count(*n, "sent") == 2; }, 15s));
  EXPECT_EQ(count(*n, "failed"), 2u);
  auto requests = server.requests();
  ASSERT_EQ(requests.size(), 4u);
  EXPECT_EQ(requests[1].body, requests[0].body);
  EXPECT_EQ(requests[2].body, requests[0].body);
  EXPECT_THAT(deliveries(server),
              ElementsAre("ch1 firing", "ch1 firing", "ch1 firing", "ch1 resolved"));
  // Timers never fire early: the waits are at least 1 s, then 2 s. After a success the next
  // one goes at once (no back-off left over).
  EXPECT_GE(requests[1].received - requests[0].received, 950ms);
  EXPECT_GE(requests[2].received - requests[1].received, 1950ms);
  EXPECT_LT(requests[3].received - requests[2].received, 900ms);
  EXPECT_EQ(n->queue_lengths().at("am"), 0u);
}

TEST_F(NotifierTest, BackoffStopsGrowingAtMaxBackoff) {
  LoopbackHttp server;
  server.script_statuses({500, 500, 500, 500, 200});
  cfg_.max_backoff = 1s;
  auto n = make({hook("am", server.url())});
  n->notify({firing("ch1")});
  // Uncapped, the waits would be 1+2+4+8 = 15 s; capped at 1 s they are 4 s.
  ASSERT_TRUE(run_until(
      io_, [&] { return count(*n, "sent") == 1; }, 9s));
  EXPECT_EQ(count(*n, "failed"), 4u);
  EXPECT_EQ(server.request_count(), 5u);
}

class RetriedStatus : public NotifierTest, public ::testing::WithParamInterface<int> {};

TEST_P(RetriedStatus, CountsAFailureAndSendsTheSameBodyAgain) {
  LoopbackHttp server;
  server.script_statuses({GetParam()});
  auto n = make({hook("am", server.url())});
  n->notify({firing("ch1"), firing("ch2")});
  ASSERT_TRUE(run_until(io_, [&] { return count(*n, "sent") == 2; }));
  EXPECT_EQ(count(*n, "failed"), 1u);
  EXPECT_EQ(count(*n, "rejected"), 0u);
  EXPECT_THAT(deliveries(server), ElementsAre("ch1 firing", "ch1 firing", "ch2 firing"));
  EXPECT_THAT(files_in(outbox()), IsEmpty());
}

INSTANTIATE_TEST_SUITE_P(Notifier, RetriedStatus, ::testing::Values(408, 429, 500, 503));

class RejectedStatus : public NotifierTest, public ::testing::WithParamInterface<int> {};

TEST_P(RejectedStatus, KeepsItAsRejectedAndSendsTheNextAtOnce) {
  LoopbackHttp server;
  server.script_statuses({GetParam()});
  auto n = make({hook("am", server.url())});
  n->notify({firing("ch1"), firing("ch2")});
  ASSERT_TRUE(run_until(io_, [&] { return count(*n, "sent") == 1; }));
  EXPECT_EQ(count(*n, "rejected"), 1u);
  EXPECT_EQ(count(*n, "failed"), 0u);
  EXPECT_THAT(deliveries(server), ElementsAre("ch1 firing", "ch2 firing"));  // never again
  EXPECT_THAT(files_in(outbox()), ElementsAre("00000000000000000001.rejected"));
  EXPECT_EQ(n->queue_lengths().at("am"), 0u);
}

INSTANTIATE_TEST_SUITE_P(Notifier, RejectedStatus, ::testing::Values(400, 401, 403, 404, 413, 422));

TEST_F(NotifierTest, AReceiverThatNeverAnswersTimesOutAndIsRetried) {
  LoopbackHttp server;
  server.script({{LoopbackHttp::kHang, ""}});
  auto h = hook("am", server.url());
  h.timeout = 300ms;
  auto n = make({h});
  n->notify({firing("ch1")});
  ASSERT_TRUE(run_until(io_, [&] { return count(*n, "sent") == 1; }));
  EXPECT_EQ(count(*n, "failed"), 1u);
  EXPECT_THAT(deliveries(server), ElementsAre("ch1 firing", "ch1 firing"));
}

TEST_F(NotifierTest, NotificationsQueuedWhileTheReceiverIsDownArriveInOrderWhenItComesUp) {
  uint16_t port = closed_port();
  auto n = make({hook("am", url_of(port))});
  n->notify({firing("ch1"), resolved("ch1", kT0 + 90)});
  ASSERT_TRUE(run_until(io_, [&] { return count(*n, "failed") >= 1; }));
  EXPECT_EQ(count(*n, "sent"), 0u);
  EXPECT_EQ(n->queue_lengths().at("am"), 2u);
  EXPECT_THAT(files_in(outbox()), SizeIs(2));

  LoopbackHttp server(port);
  ASSERT_TRUE(run_until(io_, [&] { return count(*n, "sent") == 2; }));
  EXPECT_THAT(deliveries(server), ElementsAre("ch1 firing", "ch1 resolved"));
  EXPECT_EQ(n->queue_lengths().at("am"), 0u);
  EXPECT_THAT(files_in(outbox()), IsEmpty());
}

// Fault matrix (issue 15): a receiver whose name does not resolve, one that redirects and one
// that hangs each fail on their own; the working receiver gets every notification meanwhile, and
// the failing ones keep theirs queued (nothing lost, nothing stuck behind them).
TEST_F(NotifierTest, AReceiverFailingDnsRedirectingOrHangingHoldsUpNoOtherReceiver) {
  LoopbackHttp good, redirecting, hanging;
  redirecting.set_default({307, ""});  // a Location-less redirect: not followed, retried
  hanging.set_default({LoopbackHttp::kHang, ""});
  auto slow = hook("slow", url_of(hanging.port()));
  slow.timeout = 1s;
  auto n = make({hook("dns", "http://no-such-receiver.invalid:9093/api/v2/alerts"),
                 hook("redirect", url_of(redirecting.port())), slow, hook("am", good.url())});
  n->notify({firing("ch1"), firing("ch2"), resolved("ch1", kT0 + 90)});
  ASSERT_TRUE(run_until(io_, [&] { return count(*n, "sent") == 3; }));
  EXPECT_THAT(deliveries(good), ElementsAre("ch1 firing", "ch2 firing", "ch1 resolved"));
  ASSERT_TRUE(run_until(io_, [&] {
    return count(*n, "failed", "dns") >= 1 && count(*n, "failed", "redirect") >= 1 &&
           count(*n, "failed", "slow") >= 1;
  }));
  for (const char* r : {"dns", "redirect", "slow"}) {
    EXPECT_EQ(count(*n, "sent", r), 0u) << r;
    EXPECT_EQ(n->queue_lengths().at(r), 3u) << r;  // kept for the next attempt, in order
    EXPECT_THAT(files_in(outbox(r)), SizeIs(3)) << r;
  }
}

TEST_F(NotifierTest, ANewNotifierDeliversWhatThePreviousOneLeftFirst) {
  uint16_t port = closed_port();
  {
    auto before = make({hook("am", url_of(port))});
    before->notify({firing("ch1"), firing("ch2")});
    ASSERT_TRUE(run_until(io_, [&] { return count(*before, "failed") >= 1; }));
  }  // the agent stops with both undelivered

  LoopbackHttp server(port);
  auto after = make({hook("am", url_of(port))});
  EXPECT_EQ(after->queue_lengths().at("am"), 2u);
  after->notify({resolved("ch1", kT0 + 90)});
  ASSERT_TRUE(run_until(io_, [&] { return count(*after, "sent") == 3; }));
  EXPECT_THAT(deliveries(server), ElementsAre("ch1 firing", "ch2 firing", "ch1 resolved"));
  EXPECT_THAT(files_in(outbox()), IsEmpty());
}

TEST_F(NotifierTest, OldEntriesAreSentAtConstructionWithoutANotify) {
  LoopbackHttp server;
  {
    std::string err;
    Outbox left(outbox(), 10);
    left.push(firing("ch1"), false, err);
    ASSERT_EQ(err, "");
  }
  auto n = make({hook("am", server.url())});
  ASSERT_TRUE(run_until(io_, [&] { return count(*n, "sent") == 1; }));
  EXPECT_THAT(deliveries(server), ElementsAre("ch1 firing"));
}

TEST_F(NotifierTest, CorruptOutboxFileIsCountedSetAsideAndTheRestDelivered) {
  LoopbackHttp server;
  fs::path dir = outbox().lexically_relative(fx_.root());
  fx_.write(dir / "00000000000000000001.json", "{garbage");
  fx_.write(dir / "00000000000000000002.json",
            json{{"seq", 2}, {"notification", firing("ch2").to_json()}}.dump());
  auto n = make({hook("am", server.url())});
  EXPECT_EQ(count(*n, "corrupt"), 1u);
  EXPECT_EQ(n->queue_lengths().at("am"), 1u);
  ASSERT_TRUE(run_until(io_, [&] { return count(*n, "sent") == 1; }));
  EXPECT_THAT(deliveries(server), ElementsAre("ch2 firing"));
  EXPECT_THAT(files_in(outbox()), ElementsAre("00000000000000000001.corrupt"));
}

TEST_F(NotifierTest, CountsHaveEveryResultAndCarryOverFromTheNotifierReplaced) {
  NotificationCounts carried = {{"am", {{"sent", 5}, {"failed", 2}}}, {"gone", {{"sent", 7}}}};
  auto n = make({hook("am", url_of(closed_port())), hook("new", url_of(closed_port()))}, carried);
  EXPECT_EQ(n->counts().at("am"),
            (std::map<std::string, uint64_t>{
                {"sent", 5}, {"failed", 2}, {"rejected", 0}, {"dropped", 0}, {"corrupt", 0}}));
  EXPECT_EQ(n->counts().at("new").size(), 5u);
  EXPECT_EQ(n->counts().at("gone").at("sent"), 7u);  // counters never go back
  EXPECT_EQ(n->queue_lengths(), (std::map<std::string, size_t>{{"am", 0}, {"new", 0}}));
}

TEST_F(NotifierTest, FullOutboxDropsTheOldestButNotTheOneInFlight) {
  uint16_t port = closed_port();
  cfg_.outbox_max = 2;
  auto n = make({hook("am", url_of(port))});
  n->notify({firing("ch1")});  // posted at once: in flight until io_ runs
  n->notify({firing("ch2"), firing("ch3")});
  EXPECT_EQ(count(*n, "dropped"), 1u);
  EXPECT_EQ(n->queue_lengths().at("am"), 2u);

  ASSERT_TRUE(run_until(io_, [&] { return count(*n, "failed") >= 1; }));
  LoopbackHttp server(port);
  ASSERT_TRUE(run_until(io_, [&] { return count(*n, "sent") == 2; }));
  EXPECT_THAT(deliveries(server), ElementsAre("ch1 firing", "ch3 firing"));
}

TEST_F(NotifierTest, AnUnusableReceiverKeepsItsOutboxAndTheOthersStillDeliver) {
  LoopbackHttp server;
  auto bad = hook("bad", "http://127.0.0.1:9/x");
  bad.timeout = 0ms;  // the client refuses it
  auto n = make({bad, hook("am", server.url())});
  n->notify({firing("ch1")});
  ASSERT_TRUE(run_until(io_, [&] { return count(*n, "sent") == 1; }));
  EXPECT_EQ(n->queue_lengths().at("bad"), 1u);
  EXPECT_THAT(files_in(outbox("bad")), SizeIs(1));
  EXPECT_EQ(count(*n, "failed", "bad"), 0u);
}

TEST_F(NotifierTest, AnUnwritableStateDirStillDeliversFromMemory) {
  LoopbackHttp server;
  fx_.write("state", "a regular file where the state directory should be");
  auto n = make({hook("am", server.url())});
  n->notify({firing("ch1"), resolved("ch1", kT0 + 90)});
  EXPECT_EQ(n->queue_lengths().at("am"), 2u);
  ASSERT_TRUE(run_until(io_, [&] { return count(*n, "sent") == 2; }));
  EXPECT_THAT(deliveries(server), ElementsAre("ch1 firing", "ch1 resolved"));
}

TEST_F(NotifierTest, DestroyedWhileAPostIsInFlight) {
  LoopbackHttp server;
  server.set_default({LoopbackHttp::kHang, ""});
  auto n = make({hook("am", server.url())});
  n->notify({firing("ch1")});
  ASSERT_TRUE(run_until(io_, [&] { return server.request_count() == 1; }));
  n.reset();
  io_.restart();
  io_.run_for(50ms);  // whatever was pending must not touch the notifier
  EXPECT_EQ(server.request_count(), 1u);
}

TEST_F(NotifierTest, DestroyedDuringBackoff) {
  LoopbackHttp server;
  server.set_default({503, "down"});
  auto n = make({hook("am", server.url())});
  n->notify({firing("ch1")});
  ASSERT_TRUE(run_until(io_, [&] { return count(*n, "failed") == 1; }));
  n.reset();
  io_.restart();
  io_.run_for(50ms);  // the cancelled back-off timer must not touch the notifier
  EXPECT_EQ(server.request_count(), 1u);
}

// ---- keep-alive for Alertmanager's API ----

TEST_F(NotifierTest, KeepAliveResendsFiringAlertsEveryMinuteToAlertmanagerApiOnly) {
  LoopbackHttp am, json_rx;
  now_ = kT0 + 100;
  auto n = make({hook("am", am.url(), "alertmanager-api"), hook("json", json_rx.url(), "json")});
  int asked = 0;
  auto firing_now = [&] {
    ++asked;
    return std::vector<Notification>{repeat("ch1", now_)};
  };

  // Due at once after a start: Alertmanager may have let the alerts expire meanwhile.
  n->keep_alive(firing_now);
  EXPECT_EQ(asked, 1);
  EXPECT_EQ(n->queue_lengths(), (std::map<std::string, size_t>{{"am", 1}, {"json", 0}}));
  ASSERT_TRUE(run_until(io_, [&] { return count(*n, "sent") == 1; }));
  EXPECT_EQ(json::parse(am.bodies()[0])[0]["endsAt"], "2027-01-15T08:05:40.000Z");  // +240 s

  n->keep_alive(firing_now);  // same second
  now_ = kT0 + 159;
  n->keep_alive(firing_now);
  EXPECT_EQ(asked, 1);
  EXPECT_EQ(n->queue_lengths().at("am"), 0u);
  now_ = kT0 + 160;
  n->keep_alive(firing_now);
  EXPECT_EQ(asked, 2);
  ASSERT_TRUE(run_until(io_, [&] { return count(*n, "sent") == 2; }));
  EXPECT_EQ(json::parse(am.bodies()[1])[0]["endsAt"], "2027-01-15T08:06:40.000Z");
  EXPECT_EQ(json_rx.request_count(), 0u);
  EXPECT_EQ(count(*n, "sent", "json"), 0u);
}

TEST_F(NotifierTest, KeepAliveGoesOnWhenTheWallClockStepsBack) {
  LoopbackHttp am;
  now_ = kT0 + 3600;
  auto n = make({hook("am", am.url(), "alertmanager-api")});
  int asked = 0;
  auto firing_now = [&] {
    ++asked;
    return std::vector<Notification>{repeat("ch1", now_)};
  };
  n->keep_alive(firing_now);
  ASSERT_EQ(asked, 1);
  now_ = kT0 + 60;  // NTP stepped the clock back by almost an hour
  n->keep_alive(firing_now);
  // Waiting for the old time to come back would let Alertmanager expire the alert (240 s).
  EXPECT_EQ(asked, 2);
  now_ = kT0 + 120;
  n->keep_alive(firing_now);
  EXPECT_EQ(asked, 3);
}

TEST_F(NotifierTest, KeepAliveAsksForTheFiringAlertsOnceForAllReceivers) {
  LoopbackHttp a, b;
  auto n = make({hook("a", a.url(), "alertmanager-api"), hook("b", b.url(), "alertmanager-api")});
  int asked = 0;
  now_ += 60;
  n->keep_alive([&] {
    ++asked;
    return std::vector<Notification>{repeat("ch1", now_), repeat("ch2", now_)};
  });
  EXPECT_EQ(asked, 1);
  ASSERT_TRUE(run_until(io_, [&] { return a.request_count() == 2 && b.request_count() == 2; }));
}

TEST_F(NotifierTest, KeepAliveWithNothingFiringSendsNothing) {
  LoopbackHttp am;
  auto n = make({hook("am", am.url(), "alertmanager-api")});
  now_ += 60;
  n->keep_alive([] { return std::vector<Notification>{}; });
  EXPECT_EQ(n->queue_lengths().at("am"), 0u);
}

TEST_F(NotifierTest, KeepAliveRepeatsDoNotPileUpWhileTheReceiverIsDown) {
  uint16_t port = closed_port();
  auto n = make({hook("am", url_of(port), "alertmanager-api")});
  for (int minute = 1; minute <= 3; ++minute) {
    now_ = kT0 + 31.5 + 60 * minute;
    n->keep_alive([&] { return std::vector<Notification>{repeat("ch1", now_)}; });
    ASSERT_TRUE(run_until(io_, [&] { return count(*n, "failed") >= 1; }));
    EXPECT_EQ(n->queue_lengths().at("am"), 1u) << "minute " << minute;
  }
  EXPECT_THAT(files_in(outbox()), ElementsAre("00000000000000000001.json"));  // minute 1's
  LoopbackHttp server(port);
  ASSERT_TRUE(run_until(io_, [&] { return count(*n, "sent") == 1; }));
  ASSERT_EQ(server.request_count(), 1u);
  // The body is made when sent: it ends 240 s after minute 3, not after minute 1.
  EXPECT_EQ(json::parse(server.bodies()[0])[0]["endsAt"], "2027-01-15T08:07:31.500Z");
}

// ---- outbox directory names ----

TEST(OutboxDir, ReceiverNameMadeSafeForAPath) {
  EXPECT_EQ(outbox_dir("/s", "127.0.0.1:9093"), fs::path("/s/outbox/127.0.0.1%3A9093"));
  EXPECT_EQ(outbox_dir("/s", "team a/alerts"), fs::path("/s/outbox/team%20a%2Falerts"));
  EXPECT_EQ(outbox_dir("/s", "am-1_x.y"), fs::path("/s/outbox/am-1_x.y"));
  EXPECT_EQ(outbox_dir("/s", ".."), fs::path("/s/outbox/%2E%2E"));
}

TEST(OutboxDir, DistinctReceiversNeverShareADirectory) {
  // Names are unique in the config, but two receivers sharing an outbox would send each
  // other's notifications and delete each other's files.
  EXPECT_NE(outbox_dir("/s", "127.0.0.1:9093"), outbox_dir("/s", "127.0.0.1_9093"));
  EXPECT_NE(outbox_dir("/s", ".").lexically_normal(), fs::path("/s/outbox/"));
  EXPECT_NE(outbox_dir("/s", "..").lexically_normal(), fs::path("/s/"));
}

}  // namespace
}  // namespace mobasher
