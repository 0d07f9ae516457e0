#include "exporters/alerting/alert_payload.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "fixtures/notifications.hpp"

namespace mobasher {
namespace {

using fixtures::kT0;
using fixtures::NotificationBuilder;
using nlohmann::json;
using ::testing::HasSubstr;

// kT0 = 2027-01-15T08:00:00Z.
PayloadContext context(double now = kT0 + 31.5) {
  return PayloadContext{"am", "http://host-a:9842/", "1.2.3", now};
}

json body(const std::string& format, const Notification& n, const PayloadContext& ctx = context()) {
  return json::parse(alert_payload(*parse_enum<WebhookFormat>(format), n, ctx));
}

json labels_of(const Notification& n) {
  return n.labels;
}

// ---- alertmanager-api: POST /api/v2/alerts ----

TEST(AlertmanagerApi, FiringAlertEndsFourMinutesAfterItIsSent) {
  Notification n = NotificationBuilder("ch1").starts_at(kT0 + 0.25);
  json j = body("alertmanager-api", n, context(kT0 + 31.5));
  ASSERT_TRUE(j.is_array());
  ASSERT_EQ(j.size(), 1u);
  const json& a = j[0];
  EXPECT_EQ(a.size(), 5u) << a.dump(2);  // labels, annotations, startsAt, endsAt, generatorURL
  EXPECT_EQ(a["labels"], labels_of(n));
  EXPECT_EQ(a["labels"]["alertname"], "MobasherUnitMemoryHigh");
  EXPECT_EQ(a["labels"]["unit"], "archiver@ch1.service");
  EXPECT_EQ(a["annotations"]["summary"], "archiver@ch1.service: memory 1.52 GiB");
  EXPECT_EQ(a["annotations"].size(), 2u);
  EXPECT_EQ(a["startsAt"], "2027-01-15T08:00:00.250Z");
  EXPECT_EQ(a["endsAt"], "2027-01-15T08:04:31.500Z");  // now + 240 s
  EXPECT_EQ(a["generatorURL"], "http://host-a:9842/");
}

TEST(AlertmanagerApi, EndsAtFollowsTheSendTimeNotTheNotificationTime) {
  // A repeat made at kT0+60 but sent (after retries) at kT0+600 must still end 4 min later.
  Notification n = NotificationBuilder("ch1").repeat(kT0 + 60);
  EXPECT_EQ(body("alertmanager-api", n, context(kT0 + 600))[0]["endsAt"],
            "2027-01-15T08:14:00.000Z");
}

TEST(AlertmanagerApi, ResolvedAlertEndsWhenItResolved) {
  Notification n = NotificationBuilder("ch1").resolved(kT0 + 90.125);
  json a = body("alertmanager-api", n, context(kT0 + 500))[0];
  EXPECT_EQ(a["startsAt"], "2027-01-15T08:00:00.000Z");
  EXPECT_EQ(a["endsAt"], "2027-01-15T08:01:30.125Z");
  EXPECT_EQ(a["labels"], labels_of(n));
}

TEST(AlertmanagerApi, NodeAlertHasOnlyNodeLabels) {
  Notification n = NotificationBuilder::node("MobasherNodeMemoryLow");
  json a = body("alertmanager-api", n)[0];
  EXPECT_EQ(a["labels"], (json{{"alertname", "MobasherNodeMemoryLow"},
                               {"severity", "critical"},
                               {"instance", "host-a"}}));
}

// ---- alertmanager-webhook: Alertmanager's webhook v4 body ----

TEST(AlertmanagerWebhook, FiringBodyHasEveryV4Field) {
  Notification n = NotificationBuilder("ch1").starts_at(kT0 + 0.25);
  json j = body("alertmanager-webhook", n);
  EXPECT_EQ(j["version"], "4");
  EXPECT_EQ(j["groupKey"],
            "{}:{alertname=\"MobasherUnitMemoryHigh\", unit=\"archiver@ch1.service\"}");
  EXPECT_EQ(j["truncatedAlerts"], 0);
  EXPECT_EQ(j["status"], "firing");
  EXPECT_EQ(j["receiver"], "am");
  EXPECT_EQ(j["groupLabels"],
            (json{{"alertname", "MobasherUnitMemoryHigh"}, {"unit", "archiver@ch1.service"}}));
  EXPECT_EQ(j["commonLabels"], labels_of(n));
  EXPECT_EQ(j["commonAnnotations"], json(n.annotations));
  EXPECT_EQ(j["externalURL"], "http://host-a:9842/");
  ASSERT_EQ(j["alerts"].size(), 1u);
  const json& a = j["alerts"][0];
  EXPECT_EQ(a["status"], "firing");
  EXPECT_EQ(a["labels"], labels_of(n));
  EXPECT_EQ(a["annotations"], json(n.annotations));
  EXPECT_EQ(a["startsAt"], "2027-01-15T08:00:00.250Z");
  EXPECT_EQ(a["endsAt"], "0001-01-01T00:00:00Z");  // Alertmanager's "not ended"
  EXPECT_EQ(a["generatorURL"], "http://host-a:9842/");
  EXPECT_EQ(a["fingerprint"], n.fingerprint);
  EXPECT_EQ(a["fingerprint"].get<std::string>().size(), 16u);
}

TEST(AlertmanagerWebhook, ResolvedBody) {
  Notification n = NotificationBuilder("ch2").resolved(kT0 + 90);
  json j = body("alertmanager-webhook", n);
  EXPECT_EQ(j["status"], "resolved");
  EXPECT_EQ(j["alerts"][0]["status"], "resolved");
  EXPECT_EQ(j["alerts"][0]["startsAt"], "2027-01-15T08:00:00.000Z");
  EXPECT_EQ(j["alerts"][0]["endsAt"], "2027-01-15T08:01:30.000Z");
  EXPECT_EQ(j["groupKey"],
            "{}:{alertname=\"MobasherUnitMemoryHigh\", unit=\"archiver@ch2.service\"}");
}

TEST(AlertmanagerWebhook, RepeatIsAFiringBody) {
  Notification n = NotificationBuilder("ch1").repeat(kT0 + 4 * 3600);
  json j = body("alertmanager-webhook", n);
  EXPECT_EQ(j["status"], "firing");
  EXPECT_EQ(j["alerts"][0]["endsAt"], "0001-01-01T00:00:00Z");
  EXPECT_FALSE(j.contains("kind"));
}

TEST(AlertmanagerWebhook, NodeAlertGroupsByAlertnameOnly) {
  Notification n = NotificationBuilder::node("MobasherNodeSwapHigh");
  json j = body("alertmanager-webhook", n);
  EXPECT_EQ(j["groupKey"], "{}:{alertname=\"MobasherNodeSwapHigh\"}");
  EXPECT_EQ(j["groupLabels"], (json{{"alertname", "MobasherNodeSwapHigh"}}));
  EXPECT_EQ(j["commonLabels"], labels_of(n));
}

TEST(AlertmanagerWebhook, GroupKeyQuotesLabelValuesAsAlertmanagerDoes) {
  // systemd escapes '-' in an instance name as \x2d; Go's %q (model.LabelSet.String) doubles
  // the backslash.
  Notification n = NotificationBuilder("ch1").label("unit", "archiver@a\\x2db.service");
  EXPECT_EQ(body("alertmanager-webhook", n)["groupKey"],
            "{}:{alertname=\"MobasherUnitMemoryHigh\", unit=\"archiver@a\\\\x2db.service\"}");
}

TEST(AlertmanagerWebhook, FingerprintIsAlertmanagersForTheLabelSet) {
  // The vector of prometheus/common's model/signature_test.go (LabelsToSignature: the same
  // FNV-1a 64 over sorted name, 0xff, value, 0xff), 5799056148416392346 in hex.
  EXPECT_EQ(label_fingerprint({{"name", "garland, briggs"}, {"fear", "love is not enough"}}),
            "507a62d79ee76c9a");
  EXPECT_EQ(label_fingerprint({}), "cbf29ce484222325");  // the FNV-1a offset basis
}

// ---- json: the agent's own format ----

TEST(AgentJson, FiringBodyCarriesValueThresholdAndLimit) {
  Notification n = NotificationBuilder("ch1").starts_at(kT0 + 0.25);
  json j = body("json", n, context(kT0 + 31.5));
  EXPECT_EQ(j["receiver"], "am");
  EXPECT_EQ(j["status"], "firing");
  EXPECT_EQ(j["kind"], "firing");
  EXPECT_EQ(j["alertname"], "MobasherUnitMemoryHigh");
  EXPECT_EQ(j["labels"], labels_of(n));
  EXPECT_EQ(j["annotations"], json(n.annotations));
  EXPECT_EQ(j["startsAt"], "2027-01-15T08:00:00.250Z");
  EXPECT_TRUE(j["endsAt"].is_null());
  EXPECT_EQ(j["notifiedAt"], "2027-01-15T08:00:30.000Z");  // n.at, not the send time
  EXPECT_EQ(j["fingerprint"], n.fingerprint);
  EXPECT_EQ(j["value"], 1632087572.0);
  EXPECT_EQ(j["threshold"], 1610612736.0);
  EXPECT_EQ(j["limit"], 2147483648.0);
  EXPECT_EQ(j["generatorURL"], "http://host-a:9842/");
  EXPECT_EQ(j["agent"], (json{{"version", "1.2.3"}}));
}

TEST(AgentJson, ResolvedRepeatAndNoLimit) {
  json r = body("json", NotificationBuilder("ch1").resolved(kT0 + 90).no_limit());
  EXPECT_EQ(r["status"], "resolved");
  EXPECT_EQ(r["kind"], "resolved");
  EXPECT_EQ(r["endsAt"], "2027-01-15T08:01:30.000Z");
  EXPECT_EQ(r["notifiedAt"], "2027-01-15T08:01:30.000Z");
  EXPECT_TRUE(r["limit"].is_null());

  json p = body("json", NotificationBuilder("ch1").repeat(kT0 + 3600));
  EXPECT_EQ(p["status"], "firing");
  EXPECT_EQ(p["kind"], "repeat");
  EXPECT_EQ(p["notifiedAt"], "2027-01-15T09:00:00.000Z");
}

// ---- shared behaviour ----

TEST(AlertPayload, TimesAreRoundedToTheMillisecond) {
  // Unix seconds in a double are not exact: .25 s is 0.249999872 s at this magnitude.
  auto starts = [](double t) {
    return body("alertmanager-api", NotificationBuilder("ch1").starts_at(t))[0]["startsAt"];
  };
  EXPECT_EQ(starts(kT0 + 0.001), "2027-01-15T08:00:00.001Z");
  EXPECT_EQ(starts(kT0 + 0.0004), "2027-01-15T08:00:00.000Z");
  EXPECT_EQ(starts(kT0 + 59.9996), "2027-01-15T08:01:00.000Z");
  EXPECT_EQ(starts(kT0 + 3599.999), "2027-01-15T08:59:59.999Z");
}

TEST(AlertPayload, InvalidUtf8InALabelIsReplacedNotThrown) {
  // A channel name comes from a unit name, which is bytes: the body must still be JSON.
  Notification n = NotificationBuilder(
      "ch\xff"
      "1");
  for (const char* format : {"alertmanager-api", "alertmanager-webhook", "json"}) {
    SCOPED_TRACE(format);
    std::string text;
    ASSERT_NO_THROW(text = alert_payload(*parse_enum<WebhookFormat>(format), n, context()));
    EXPECT_THAT(text, HasSubstr("ch\xef\xbf\xbd"
                                "1"));  // U+FFFD
    EXPECT_NO_THROW(json::parse(text));
  }
}

TEST(AlertPayload, QuotesAndNewlinesInAnnotationsAreEscaped) {
  NotificationBuilder b("ch1");
  Notification n = b;
  n.annotations["description"] = "line 1\nsaid \"hi\"";
  json j = body("alertmanager-webhook", n);
  EXPECT_EQ(j["alerts"][0]["annotations"]["description"], "line 1\nsaid \"hi\"");
}

}  // namespace
}  // namespace mobasher
