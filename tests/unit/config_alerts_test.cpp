// The "alerts" section of the config: thresholds, outbox and webhooks; errors name FILE:LINE:
// key.path like every other config error.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "agent/config/config.hpp"
#include "fixtures/fixture_tree.hpp"

namespace mobasher {
namespace {

using namespace std::chrono_literals;
using fixtures::FixtureTree;
using ::testing::HasSubstr;
using ::testing::Not;

using Headers = std::vector<std::pair<std::string, std::string>>;

class AlertsConfigFile : public ::testing::Test {
 protected:
  std::string path() const { return (fx_.root() / "agent.json").string(); }
  Config load(const std::string& text) {
    fx_.write("agent.json", text);
    return load_config_file(path());
  }
  // The ConfigError message ("" if it loaded).
  std::string error_of(const std::string& text) {
    try {
      load(text);
    } catch (const ConfigError& e) {
      return e.what();
    }
    ADD_FAILURE() << "no ConfigError for:\n" << text;
    return "";
  }
  // "FILE:LINE: key.path: " as the message must contain it.
  std::string where(int line, const std::string& key) const {
    return "config error: " + path() + ":" + std::to_string(line) + ": " + key + ": ";
  }
  std::string file(const std::string& name, const std::string& content = "secret\n") {
    fx_.write(name, content);
    return (fx_.root() / name).string();
  }
  FixtureTree fx_;
};

TEST_F(AlertsConfigFile, EveryKeyOfTheContract) {
  std::string token = file("token"), ca = file("ca.pem", "-----BEGIN CERTIFICATE-----\n");
  Config c = load(R"({ "alerts": {
  "for": "1m", "repeat_interval": "2h", "resolve": false, "max_backoff": "30s",
  "instance": "host-a",
  "node_memory_available_min": "12%",
  "node_swap_used_max": "1G",
  "outbox_max": 50,
  "webhooks": [
    { "name": "am", "url": "http://127.0.0.1:9093/api/v2/alerts", "format": "alertmanager-api",
      "timeout": "5s", "headers": { "X-Tenant": "a", "X-Scope-OrgID": "mobasher" },
      "bearer_token_file": ")" +
                  token + R"(", "ca_file": ")" + ca + R"(",
      "insecure_skip_verify": true },
    { "url": "https://hooks.example/slack", "format": "alertmanager-webhook" },
    { "name": "audit", "url": "http://audit.local:8080/in", "format": "json" }
  ] } })");
  const AlertsConfig& a = c.alerts;
  EXPECT_EQ(a.for_duration, 1min);
  EXPECT_EQ(a.repeat_interval, 2h);
  EXPECT_FALSE(a.resolve);
  EXPECT_EQ(a.max_backoff, 30s);
  EXPECT_EQ(a.instance, "host-a");
  EXPECT_EQ(a.node_memory_available_min, (Size{0, 12.0}));
  EXPECT_EQ(a.node_swap_used_max, (Size{1ull << 30, std::nullopt}));
  EXPECT_EQ(a.outbox_max, 50u);
  ASSERT_EQ(a.webhooks.size(), 3u);

  const WebhookConfig& am = a.webhooks[0];
  EXPECT_EQ(am.name, "am");
  EXPECT_EQ(am.url, "http://127.0.0.1:9093/api/v2/alerts");
  EXPECT_EQ(am.format, WebhookFormat::alertmanager_api);
  EXPECT_EQ(am.timeout, 5s);
  EXPECT_EQ(am.headers, (Headers{{"X-Scope-OrgID", "mobasher"}, {"X-Tenant", "a"}}));
  EXPECT_EQ(am.bearer_token_file, token);
  EXPECT_EQ(am.ca_file, ca);
  EXPECT_TRUE(am.insecure_skip_verify);

  const WebhookConfig& slack = a.webhooks[1];
  EXPECT_EQ(slack.name, "hooks.example:443");  // HOST:PORT of the url
  EXPECT_EQ(slack.format, WebhookFormat::alertmanager_webhook);
  EXPECT_EQ(a.webhooks[2].name, "audit");
  EXPECT_EQ(a.webhooks[2].format, WebhookFormat::json);
}

TEST_F(AlertsConfigFile, Defaults) {
  Config c =
      load(R"({ "alerts": { "webhooks": [ { "url": "http://am.local/api/v2/alerts" } ] } })");
  const AlertsConfig& a = c.alerts;
  EXPECT_EQ(a.instance, "");  // the agent fills in the host name
  EXPECT_EQ(a.node_memory_available_min, (Size{0, 10.0}));
  EXPECT_EQ(a.node_swap_used_max, (Size{0, 80.0}));
  EXPECT_EQ(a.outbox_max, 1000u);
  EXPECT_EQ(a.max_backoff, 5min);
  ASSERT_EQ(a.webhooks.size(), 1u);
  const WebhookConfig& w = a.webhooks[0];
  EXPECT_EQ(w.name, "am.local:80");
  EXPECT_EQ(w.format, WebhookFormat::alertmanager_api);
  EXPECT_EQ(w.timeout, 10s);
  EXPECT_TRUE(w.headers.empty());
  EXPECT_EQ(w.bearer_token_file, "");
  EXPECT_EQ(w.ca_file, "");
  EXPECT_FALSE(w.insecure_skip_verify);
}

TEST_F(AlertsConfigFile, DefaultNameIsHostColonPort) {
  Config c = load(R"({ "alerts": { "webhooks": [
    { "url": "http://127.0.0.1:9093/api/v2/alerts" },
    { "url": "https://Hooks.Example:8443/x?y=1" },
    { "url": "http://[::1]:9093/api/v2/alerts" } ] } })");
  ASSERT_EQ(c.alerts.webhooks.size(), 3u);
  EXPECT_EQ(c.alerts.webhooks[0].name, "127.0.0.1:9093");
  EXPECT_EQ(c.alerts.webhooks[1].name, "Hooks.Example:8443");
  EXPECT_EQ(c.alerts.webhooks[2].name, "[::1]:9093");  // bracketed, as in the URL
}

TEST_F(AlertsConfigFile, NodeThresholdsTakeBytesOrPercent) {
  Config c = load(R"({ "alerts": { "node_memory_available_min": 536870912,
                                   "node_swap_used_max": "100%" } })");
  EXPECT_EQ(c.alerts.node_memory_available_min, (Size{512ull << 20, std::nullopt}));
  EXPECT_EQ(c.alerts.node_swap_used_max, (Size{0, 100.0}));
}

// ---- duplicate receivers ----

TEST_F(AlertsConfigFile, DuplicateNameIsRejectedAtTheSecond) {
  std::string msg = error_of(R"({ "alerts": { "webhooks": [
    { "name": "am", "url": "http://a:9093/" },
    { "url": "http://b:9093/",
      "name": "am" } ] } })");
  EXPECT_THAT(msg, HasSubstr(where(4, "alerts.webhooks[1].name")));
  EXPECT_THAT(msg, HasSubstr("receiver \"am\" is defined twice"));
}

TEST_F(AlertsConfigFile, TwoUnnamedWebhooksOnTheSameHostPortAreDuplicates) {
  std::string msg = error_of(R"({ "alerts": { "webhooks": [
    { "url": "http://127.0.0.1:9093/api/v2/alerts" },
    { "url": "http://127.0.0.1:9093/other" } ] } })");
  EXPECT_THAT(msg, HasSubstr(where(3, "alerts.webhooks[1].name")));  // the webhook's line
  EXPECT_THAT(msg, HasSubstr("\"127.0.0.1:9093\" is defined twice"));
  EXPECT_THAT(msg, HasSubstr("give each webhook its own \"name\""));
}

TEST_F(AlertsConfigFile, AnExplicitNameMayCollideWithADefaultOne) {
  std::string msg = error_of(R"({ "alerts": { "webhooks": [
    { "url": "http://127.0.0.1:9093/" },
    { "name": "127.0.0.1:9093", "url": "http://10.0.0.1/" } ] } })");
  EXPECT_THAT(msg, HasSubstr(where(3, "alerts.webhooks[1].name")));
}

// ---- bad values name the key ----

TEST_F(AlertsConfigFile, UnknownKeyInAlerts) {
  std::string msg = error_of("{ \"alerts\": {\n  \"for\": \"30s\",\n  \"outbox\": 10 } }");
  EXPECT_THAT(msg, HasSubstr(where(3, "alerts.outbox")));
  EXPECT_THAT(msg, HasSubstr("unknown key"));
  EXPECT_THAT(msg, HasSubstr("outbox_max"));
}

TEST_F(AlertsConfigFile, UnknownKeyInAWebhook) {
  std::string msg = error_of(R"({ "alerts": { "webhooks": [
    { "url": "http://a/",
      "bearer_token": "x" } ] } })");
  EXPECT_THAT(msg, HasSubstr(where(3, "alerts.webhooks[0].bearer_token")));
  EXPECT_THAT(msg, HasSubstr("bearer_token_file"));  // the list of known keys
}

TEST_F(AlertsConfigFile, InstanceMustBeAString) {
  std::string msg = error_of("{ \"alerts\": {\n  \"instance\": 42 } }");
  EXPECT_THAT(msg, HasSubstr(where(2, "alerts.instance")));
  EXPECT_THAT(msg, HasSubstr("must be a string, not number 42"));
}

TEST_F(AlertsConfigFile, BadNodeMemoryAvailableMin) {
  std::string msg = error_of("{ \"alerts\": {\n\n  \"node_memory_available_min\": \"1.5Q\" } }");
  EXPECT_THAT(msg, HasSubstr(where(3, "alerts.node_memory_available_min")));
  EXPECT_THAT(msg, HasSubstr("\"1.5Q\" is not a size (use bytes, 1.5G, 512M or 80%)"));
}

TEST_F(AlertsConfigFile, NodeThresholdAbove100Percent) {
  std::string msg = error_of("{ \"alerts\": {\n  \"node_swap_used_max\": \"150%\" } }");
  EXPECT_THAT(msg, HasSubstr(where(2, "alerts.node_swap_used_max")));
  EXPECT_THAT(msg, HasSubstr("\"150%\" is not a size"));
  msg = error_of("{ \"alerts\": {\n  \"node_memory_available_min\": \"100.5%\" } }");
  EXPECT_THAT(msg, HasSubstr(where(2, "alerts.node_memory_available_min")));
  msg = error_of("{ \"alerts\": {\n  \"node_memory_available_min\": \"0%\" } }");
  EXPECT_THAT(msg, HasSubstr(where(2, "alerts.node_memory_available_min")));
}

TEST_F(AlertsConfigFile, NodeThresholdOfTheWrongType) {
  std::string msg = error_of("{ \"alerts\": {\n  \"node_swap_used_max\": true } }");
  EXPECT_THAT(msg, HasSubstr(where(2, "alerts.node_swap_used_max")));
  EXPECT_THAT(msg, HasSubstr("must be a size"));
  msg = error_of("{ \"alerts\": {\n  \"node_swap_used_max\": -1 } }");
  EXPECT_THAT(msg, HasSubstr(where(2, "alerts.node_swap_used_max")));
}

TEST_F(AlertsConfigFile, OutboxMaxOutOfRange) {
  std::string msg = error_of("{ \"alerts\": {\n  \"outbox_max\": 0 } }");
  EXPECT_THAT(msg, HasSubstr(where(2, "alerts.outbox_max")));
  EXPECT_THAT(msg, HasSubstr("0 is out of range 1..1000000"));
  msg = error_of("{ \"alerts\": {\n  \"outbox_max\": \"many\" } }");
  EXPECT_THAT(msg, HasSubstr(where(2, "alerts.outbox_max")));
  EXPECT_THAT(msg, HasSubstr("must be a whole number"));
  msg = error_of("{ \"alerts\": {\n  \"outbox_max\": 2.5 } }");
  EXPECT_THAT(msg, HasSubstr("must be a whole number"));
}

TEST_F(AlertsConfigFile, MaxBackoffTooShort) {
  std::string msg = error_of("{ \"alerts\": {\n  \"max_backoff\": \"500ms\" } }");
  EXPECT_THAT(msg, HasSubstr(where(2, "alerts.max_backoff")));
  EXPECT_THAT(msg, HasSubstr("too short (at least 1s)"));
}

TEST_F(AlertsConfigFile, WebhooksMustBeAnArray) {
  std::string msg = error_of("{ \"alerts\": {\n  \"webhooks\": { \"url\": \"http://a/\" } } }");
  EXPECT_THAT(msg, HasSubstr(where(2, "alerts.webhooks")));
  EXPECT_THAT(msg, HasSubstr("must be an array, not object"));
}

TEST_F(AlertsConfigFile, WebhookMustBeAnObject) {
  std::string msg = error_of("{ \"alerts\": { \"webhooks\": [\n  \"http://a/\" ] } }");
  EXPECT_THAT(msg, HasSubstr(where(2, "alerts.webhooks[0]")));
  EXPECT_THAT(msg, HasSubstr("must be an object"));
}

TEST_F(AlertsConfigFile, WebhookWithoutUrl) {
  std::string msg = error_of("{ \"alerts\": { \"webhooks\": [\n  { \"name\": \"am\" } ] } }");
  EXPECT_THAT(msg, HasSubstr(where(2, "alerts.webhooks[0]")));
  EXPECT_THAT(msg, HasSubstr("missing \"url\""));
}

TEST_F(AlertsConfigFile, BadUrls) {
  struct Case {
    const char* url;
    const char* says;
  } cases[] = {
      {"ftp://am/x", "\"ftp://am/x\" is not an http:// or https:// URL"},
      {"127.0.0.1:9093", "is not an http:// or https:// URL"},
      {"http://user:pw@am/x", "credentials"},
      {"http://am:99999/", "bad port"},
      {"http:///x", "missing host"},
      {"http://am/a b", "space or control character"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.url);
    std::string msg = error_of(std::string("{ \"alerts\": { \"webhooks\": [\n  { \"url\": \"") +
                               c.url + "\" } ] } }");
    EXPECT_THAT(msg, HasSubstr(where(2, "alerts.webhooks[0].url")));
    EXPECT_THAT(msg, HasSubstr(c.says));
    EXPECT_THAT(msg, HasSubstr(c.url));  // the message quotes the culprit
  }
}

TEST_F(AlertsConfigFile, EmptyName) {
  std::string msg = error_of(
      "{ \"alerts\": { \"webhooks\": [\n  { \"url\": \"http://a/\",\n \"name\": \"\" } ] } }");
  EXPECT_THAT(msg, HasSubstr(where(3, "alerts.webhooks[0].name")));
  EXPECT_THAT(msg, HasSubstr("must not be empty"));
}

TEST_F(AlertsConfigFile, UnknownFormat) {
  std::string msg = error_of(
      "{ \"alerts\": { \"webhooks\": [\n  { \"url\": \"http://a/\",\n    \"format\": \"slack\" } ] "
      "} }");
  EXPECT_THAT(msg, HasSubstr(where(3, "alerts.webhooks[0].format")));
  EXPECT_THAT(msg,
              HasSubstr("\"slack\" is not one of alertmanager-api, alertmanager-webhook, json"));
}

TEST_F(AlertsConfigFile, BadTimeout) {
  std::string msg = error_of(
      "{ \"alerts\": { \"webhooks\": [\n  { \"url\": \"http://a/\",\n    \"timeout\": \"fast\" } ] "
      "} }");
  EXPECT_THAT(msg, HasSubstr(where(3, "alerts.webhooks[0].timeout")));
  EXPECT_THAT(msg, HasSubstr("\"fast\" is not a duration"));
  msg = error_of(
      "{ \"alerts\": { \"webhooks\": [\n  { \"url\": \"http://a/\",\n    \"timeout\": \"0s\" } ] } "
      "}");
  EXPECT_THAT(msg, HasSubstr(where(3, "alerts.webhooks[0].timeout")));
  EXPECT_THAT(msg, HasSubstr("too short"));
}

TEST_F(AlertsConfigFile, HeadersMustBeAnObjectOfStrings) {
  std::string msg = error_of(
      "{ \"alerts\": { \"webhooks\": [\n  { \"url\": \"http://a/\",\n    \"headers\": [\"X-A: 1\"] "
      "} ] } }");
  EXPECT_THAT(msg, HasSubstr(where(3, "alerts.webhooks[0].headers")));
  EXPECT_THAT(msg, HasSubstr("must be an object of header names and values"));

  msg = error_of(R"({ "alerts": { "webhooks": [ { "url": "http://a/", "headers": {
    "X-Tenant": 7 } } ] } })");
  EXPECT_THAT(msg, HasSubstr(where(2, "alerts.webhooks[0].headers.X-Tenant")));
  EXPECT_THAT(msg, HasSubstr("must be a string"));
}

TEST_F(AlertsConfigFile, BadHeaderNameOrValue) {
  for (const char* name : {"X Tenant", "X-Tenant:", ""}) {
    SCOPED_TRACE(name);
    std::string msg = error_of(std::string(R"({ "alerts": { "webhooks": [ { "url": "http://a/",
      "headers": { ")") + name +
                               R"(": "a" } } ] } })");
    EXPECT_THAT(msg, HasSubstr("alerts.webhooks[0].headers." + std::string(name) + ": "));
    EXPECT_THAT(msg, HasSubstr("is not an HTTP header name"));
  }
  // A line break in a value would let the config forge a second header.
  std::string msg = error_of(R"({ "alerts": { "webhooks": [ { "url": "http://a/",
      "headers": { "X-Tenant": "a\r\nX-Admin: 1" } } ] } })");
  EXPECT_THAT(msg, HasSubstr(where(2, "alerts.webhooks[0].headers.X-Tenant")));
  EXPECT_THAT(msg, HasSubstr("must not contain line breaks"));
}

TEST_F(AlertsConfigFile, BearerTokenFileMustBeReadable) {
  std::string missing = (fx_.root() / "nope").string();
  std::string msg = error_of(R"({ "alerts": { "webhooks": [ { "url": "http://a/",
      "bearer_token_file": ")" +
                             missing + R"(" } ] } })");
  EXPECT_THAT(msg, HasSubstr(where(2, "alerts.webhooks[0].bearer_token_file")));
  EXPECT_THAT(msg, HasSubstr("\"" + missing + "\": cannot read: No such file or directory"));

  fx_.mkdir("tokens");
  std::string dir = (fx_.root() / "tokens").string();
  msg = error_of(R"({ "alerts": { "webhooks": [ { "url": "http://a/",
      "bearer_token_file": ")" +
                 dir + R"(" } ] } })");
  EXPECT_THAT(msg, HasSubstr(where(2, "alerts.webhooks[0].bearer_token_file")));
  EXPECT_THAT(msg, HasSubstr("\"" + dir + "\" is a directory"));
}

TEST_F(AlertsConfigFile, CaFileMustBeReadable) {
  std::string missing = (fx_.root() / "ca.pem").string();
  std::string msg = error_of(R"({ "alerts": { "webhooks": [ { "url": "https://a/",
      "ca_file": ")" + missing +
                             R"(" } ] } })");
  EXPECT_THAT(msg, HasSubstr(where(2, "alerts.webhooks[0].ca_file")));
  EXPECT_THAT(msg, HasSubstr("cannot read: No such file or directory"));
}

TEST_F(AlertsConfigFile, InsecureSkipVerifyMustBeABoolean) {
  std::string msg = error_of(R"({ "alerts": { "webhooks": [ { "url": "https://a/",
      "insecure_skip_verify": "yes" } ] } })");
  EXPECT_THAT(msg, HasSubstr(where(2, "alerts.webhooks[0].insecure_skip_verify")));
  EXPECT_THAT(msg, HasSubstr("must be true or false"));
}

TEST_F(AlertsConfigFile, ErrorInTheSecondWebhookNamesItsIndex) {
  std::string msg = error_of(R"({ "alerts": { "webhooks": [
    { "url": "http://a/" },
    { "url": "http://b/", "format": "teams" } ] } })");
  EXPECT_THAT(msg, HasSubstr(where(3, "alerts.webhooks[1].format")));
  EXPECT_THAT(msg, Not(HasSubstr("webhooks[0]")));
}

}  // namespace
}  // namespace mobasher
