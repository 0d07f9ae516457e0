#include "agent/config/config.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "fixtures/fixture_tree.hpp"

namespace mobasher {
namespace {

using namespace std::chrono_literals;
using fixtures::FixtureTree;
using ::testing::AllOf;
using ::testing::HasSubstr;

// Loads `text` from a real file and returns the ConfigError message ("" if it loaded).
class ConfigFile : public ::testing::Test {
 protected:
  std::string path() const { return (fx_.root() / "agent.json").string(); }
  std::string error_of(const std::string& text) {
    fx_.write("agent.json", text);
    try {
      load_config_file(path());
    } catch (const ConfigError& e) {
      return e.what();
    }
    ADD_FAILURE() << "no ConfigError for:\n" << text;
    return "";
  }
  // "FILE:LINE: key.path: " as the message must contain it.
  std::string where(int line, const std::string& key) const {
    return path() + ":" + std::to_string(line) + ": " + key + ": ";
  }
  FixtureTree fx_;
};

TEST(DefaultConfig, IsTheMobasherPlan) {
  Config c = default_config();
  EXPECT_EQ(c.source, "built-in default");
  EXPECT_EQ(c.listen, "0.0.0.0:9842");
  EXPECT_EQ(c.scan_interval, 5s);
  EXPECT_EQ(c.discovery_interval, 30s);
  EXPECT_EQ(c.state_dir, "/var/lib/mobasher-agent");
  EXPECT_EQ(c.measure, Measure::rss);
  EXPECT_FALSE(c.pss);
  ASSERT_EQ(c.groups.size(), 2u);

  const GroupConfig& a = c.groups[0];
  EXPECT_EQ(a.name, "archiver");
  EXPECT_EQ(a.units, "archiver@*.service");
  EXPECT_FALSE(a.match.has_value());
  EXPECT_EQ(a.memory_limit, 2ull << 30);
  EXPECT_EQ(a.warn, (Size{1610612736, std::nullopt}));  // 1.5 GiB absolute
  ASSERT_TRUE(a.critical.percent.has_value());
  EXPECT_DOUBLE_EQ(*a.critical.percent, 95.0);
  ASSERT_TRUE(a.restart.on_memory.has_value());
  EXPECT_DOUBLE_EQ(a.restart.on_memory->percent.value_or(0), 90.0);
  EXPECT_EQ(a.restart.for_duration, 30s);
  EXPECT_EQ(a.restart.max_age, 4h);
  EXPECT_EQ(a.restart.predict, 10min);

  const GroupConfig& r = c.groups[1];
  EXPECT_EQ(r.name, "recorder");
  EXPECT_EQ(r.units, "recorder@*.service");
  EXPECT_EQ(r.memory_limit, 1610612736u);  // 1.5 GiB
  ASSERT_TRUE(r.warn.percent.has_value());
  EXPECT_DOUBLE_EQ(*r.warn.percent, 80.0);
  EXPECT_EQ(r.warn.resolve(r.memory_limit), 1288490188u);  // 1.2 GiB
  EXPECT_DOUBLE_EQ(r.critical.percent.value_or(0), 95.0);

  EXPECT_EQ(c.alerts.for_duration, 30s);
  EXPECT_EQ(c.alerts.repeat_interval, 4h);
  EXPECT_EQ(c.alerts.max_backoff, 5min);
  EXPECT_TRUE(c.alerts.resolve);
  EXPECT_TRUE(c.alerts.webhooks.empty());
  EXPECT_TRUE(c.actions.enabled);
  EXPECT_FALSE(c.actions.dry_run);
  EXPECT_EQ(c.actions.min_gap, 10min);
  EXPECT_EQ(c.actions.max_per_unit_per_hour, 3);
  EXPECT_EQ(c.actions.cooldown, 2min);
  EXPECT_EQ(c.actions.handover, HandoverStrategy::restart);
  EXPECT_EQ(c.history.interval, 15s);
  EXPECT_EQ(c.history.max_file_size, 32ull << 20);
  EXPECT_EQ(c.history.max_files, 30);
  EXPECT_EQ(c.history.max_age, 30 * 24h);
  EXPECT_EQ(c.history.max_total_size, 512ull << 20);
}

TEST(DefaultConfig, TextParsesToTheSameModel) {
  Config c = parse_config(kDefaultConfigText, "x.json");
  Config d = default_config();
  EXPECT_EQ(c.source, "x.json");
  ASSERT_EQ(c.groups.size(), d.groups.size());
  for (size_t i = 0; i < c.groups.size(); ++i) {
    EXPECT_EQ(c.groups[i].name, d.groups[i].name);
    EXPECT_EQ(c.groups[i].memory_limit, d.groups[i].memory_limit);
    EXPECT_EQ(c.groups[i].warn, d.groups[i].warn);
    EXPECT_EQ(c.groups[i].critical, d.groups[i].critical);
  }
}

// The built-in groups as comparable text: name, what, limit, thresholds, restart policy.
std::vector<std::string> group_fields(const Config& c) {
  std::vector<std::string> out;
  for (const auto& g : c.groups) {
    const RestartPolicy& r = g.restart;
    auto size = [](const std::optional<Size>& s) {
      return s ? std::to_string(s->bytes) + "/" + std::to_string(s->percent.value_or(-1)) : "-";
    };
    auto dur = [](const std::optional<Duration>& d) { return d ? format_duration(*d) : "-"; };
    out.push_back(g.name + " " + g.units + " " + std::to_string(g.memory_limit) + " " +
                  size(g.warn) + " " + size(g.critical) + " " + size(r.on_memory) + " " +
                  dur(r.for_duration) + " " + dur(r.max_age) + " " + dur(r.predict) + " " +
                  dur(r.predict_window));
  }
  return out;
}

TEST(ParseConfig, EmptyObjectIsTheBuiltInPlan) {
  Config c = parse_config("{}", "empty.json");
  EXPECT_EQ(c.source, "empty.json");
  EXPECT_EQ(group_fields(c), group_fields(default_config()));
  EXPECT_EQ(c.scan_interval, 5s);
  EXPECT_EQ(c.listen, "0.0.0.0:9842");
}

TEST(ParseConfig, MissingGroupsKeepTheTwoBuiltInGroups) {
  Config c = parse_config(R"({
  "scan_interval": "2s",
  "alerts": { "for": "30s", "repeat_interval": "4h",
              "webhooks": [ { "url": "http://127.0.0.1:9093/api/v2/alerts" } ] }
})",
                          "alerts-only.json");
  ASSERT_EQ(c.groups.size(), 2u);
  EXPECT_EQ(c.groups[0].name, "archiver");
  EXPECT_EQ(c.groups[1].name, "recorder");
  EXPECT_EQ(group_fields(c), group_fields(default_config()));
  EXPECT_EQ(c.scan_interval, 2s);
  EXPECT_EQ(c.alerts.webhooks.size(), 1u);
}

TEST(ParseConfig, EmptyGroupsMeansNone) {
  Config c = parse_config(R"({ "groups": [] })", "none.json");
  EXPECT_TRUE(c.groups.empty());
  EXPECT_EQ(c.actions.min_gap, default_config().actions.min_gap);
}

TEST(ParseConfig, GivenGroupsReplaceTheBuiltInOnesAndStartFromTheGroupDefaults) {
  Config c = parse_config(
      R"({ "groups": [ { "name": "recorder", "units": "rec@*.service", "memory_limit": "1G" } ] })",
      "one.json");
  ASSERT_EQ(c.groups.size(), 1u);
  EXPECT_EQ(c.groups[0].units, "rec@*.service");
  EXPECT_DOUBLE_EQ(c.groups[0].warn.percent.value_or(0), 75.0);  // not the built-in recorder's 80%
  EXPECT_FALSE(c.groups[0].restart.on_memory.has_value());       // nor its restart policy
}

TEST(ParseConfig, PartialObjectsKeepTheOtherBuiltInValues) {
  const Config d = default_config();
  Config c = parse_config(R"({
  "alerts": { "for": "1m" },
  "actions": { "dry_run": true, "emergency_gap": "20s", "handover": { "strategy": "overlap" } },
  "history": { "interval": "30s" }
})",
                          "partial.json");
  EXPECT_EQ(c.alerts.for_duration, 1min);
  EXPECT_EQ(c.alerts.repeat_interval, d.alerts.repeat_interval);
  EXPECT_EQ(c.alerts.max_backoff, d.alerts.max_backoff);
  EXPECT_EQ(c.alerts.resolve, d.alerts.resolve);

  EXPECT_TRUE(c.actions.dry_run);
  EXPECT_EQ(c.actions.emergency_gap, 20s);
  EXPECT_EQ(c.actions.enabled, d.actions.enabled);
  EXPECT_EQ(c.actions.min_gap, d.actions.min_gap);
  EXPECT_EQ(c.actions.cooldown, d.actions.cooldown);
  EXPECT_EQ(c.actions.max_per_hour, d.actions.max_per_hour);
  EXPECT_EQ(c.actions.node_memory_floor, d.actions.node_memory_floor);
  EXPECT_EQ(c.actions.job_timeout, d.actions.job_timeout);
  EXPECT_EQ(c.actions.handover, HandoverStrategy::overlap);
  EXPECT_EQ(c.actions.overlap, d.actions.overlap);  // handover merges key by key too
  EXPECT_EQ(c.actions.start_timeout, d.actions.start_timeout);

  EXPECT_EQ(c.history.interval, 30s);
  EXPECT_EQ(c.history.max_file_size, d.history.max_file_size);
  EXPECT_EQ(c.history.max_files, d.history.max_files);
  EXPECT_EQ(c.history.max_age, d.history.max_age);
  EXPECT_EQ(c.history.max_total_size, d.history.max_total_size);
  EXPECT_EQ(group_fields(c), group_fields(d));
}

TEST(ParseConfig, NewActionKeysStillParse) {
  Config c = parse_config(R"({ "actions": { "node_memory_floor": "8%", "node_memory_for": "1m",
                                            "job_timeout": "2m" },
      "groups": [ { "name": "a", "units": "a@*.service", "memory_limit": "1G",
                    "restart": { "predict": "5m", "predict_window": "10m" } } ] })",
                          "new.json");
  EXPECT_DOUBLE_EQ(c.actions.node_memory_floor.percent.value_or(0), 8.0);
  EXPECT_EQ(c.actions.node_memory_for, 1min);
  EXPECT_EQ(c.actions.job_timeout, 2min);
  EXPECT_EQ(c.groups[0].restart.predict_window, 10min);
  EXPECT_FALSE(default_config().actions.job_timeout.has_value());
}

TEST(ParseConfig, CommentsOfBothKindsAreAccepted) {
  Config c = parse_config(R"({
  // line comment
  "scan_interval": "2s", /* inline block */
  /* a block
     over lines */
  "groups": [
    { "name": "a", "units": "a@*.service", "memory_limit": "1G", "warn": "512M" } // trailing
  ]
})",
                          "c.json");
  EXPECT_EQ(c.scan_interval, 2s);
  ASSERT_EQ(c.groups.size(), 1u);
  EXPECT_EQ(c.groups[0].warn.bytes, 512ull << 20);
  EXPECT_DOUBLE_EQ(c.groups[0].critical.percent.value_or(0), 95.0);  // default critical
}

TEST(ParseConfig, ProcessMatchGroupAndWebhooks) {
  Config c = parse_config(R"json({
  "groups": [ { "name": "scripted", "match": { "comm": "^ffmpeg$", "cmdline": "-i rtsp://cam/([a-z0-9]+)" },
                "memory_limit": 1073741824, "warn": "80%" } ],
  "alerts": { "webhooks": [ { "url": "http://127.0.0.1:9093/api/v2/alerts" },
                            { "url": "https://hooks.example/x", "format": "json" } ] },
  "actions": { "handover": { "strategy": "overlap", "overlap": "45s" } }
})json",
                          "m.json");
  ASSERT_EQ(c.groups.size(), 1u);
  ASSERT_TRUE(c.groups[0].match.has_value());
  EXPECT_TRUE(c.groups[0].units.empty());
  EXPECT_EQ(c.groups[0].match->comm_pattern, "^ffmpeg$");
  EXPECT_TRUE(c.groups[0].match->comm->search("ffmpeg"));
  EXPECT_EQ(c.groups[0].memory_limit, 1073741824u);
  ASSERT_EQ(c.alerts.webhooks.size(), 2u);
  EXPECT_EQ(c.alerts.webhooks[0].format, WebhookFormat::alertmanager_api);
  EXPECT_EQ(c.alerts.webhooks[1].format, WebhookFormat::json);
  EXPECT_EQ(c.actions.handover, HandoverStrategy::overlap);
  EXPECT_EQ(c.actions.overlap, 45s);
}

TEST_F(ConfigFile, LoadsAFileAndNamesItAsSource) {
  fx_.write("agent.json", R"({ "scan_interval": "10s" })");
  Config c = load_config_file(path());
  EXPECT_EQ(c.source, path());
  EXPECT_EQ(c.scan_interval, 10s);
}

TEST_F(ConfigFile, UnknownKeyNamesFileLineAndPath) {
  std::string msg = error_of(R"({
  "listen": "0.0.0.0:9842",
  "groups": [
    { "name": "archiver", "units": "archiver@*.service", "memory_limit": "2G" },
    { "name": "recorder", "units": "recorder@*.service", "memory_limit": "1.5G",
      "warnn": "80%" }
  ]
})");
  EXPECT_THAT(msg, HasSubstr("config error: " + where(6, "groups[1].warnn")));
  EXPECT_THAT(msg, HasSubstr("unknown key"));
}

TEST_F(ConfigFile, UnknownTopLevelKey) {
  std::string msg = error_of("{\n  \"scan_interval\": \"5s\",\n  \"scan_intervall\": \"5s\"\n}\n");
  EXPECT_THAT(msg, HasSubstr(where(3, "scan_intervall")));
}

TEST_F(ConfigFile, WrongTypeNamesTheKey) {
  std::string msg = error_of(R"({
  "actions": {
    "enabled": "yes"
  }
})");
  EXPECT_THAT(msg, HasSubstr(where(3, "actions.enabled")));
  EXPECT_THAT(msg, HasSubstr("true or false"));
}

TEST_F(ConfigFile, WrongTypeForAnArray) {
  std::string msg = error_of("{\n\n  \"groups\": { \"name\": \"x\" }\n}");
  EXPECT_THAT(msg, HasSubstr(where(3, "groups")));
  EXPECT_THAT(msg, HasSubstr("array"));
}

TEST_F(ConfigFile, BadSizeQuotesTheValueAndTheFormats) {
  std::string msg = error_of(R"({
  "groups": [
    { "name": "archiver", "units": "archiver@*.service", "memory_limit": "2G" },
    { "name": "recorder", "units": "recorder@*.service",
      "memory_limit": "1.5G",
      "warn": "1.5Q" }
  ]
})");
  EXPECT_THAT(msg, HasSubstr(where(6, "groups[1].warn")));
  EXPECT_THAT(msg, HasSubstr("\"1.5Q\" is not a size"));
  EXPECT_THAT(msg, HasSubstr("80%"));
}

TEST_F(ConfigFile, PercentIsNotAValidMemoryLimit) {
  std::string msg = error_of(R"({ "groups": [
  { "name": "a", "units": "a@*.service",
    "memory_limit": "80%" } ] })");
  EXPECT_THAT(msg, HasSubstr(where(3, "groups[0].memory_limit")));
}

TEST_F(ConfigFile, WarnAboveCriticalIsRejected) {
  std::string msg = error_of(R"({ "groups": [
  { "name": "a", "units": "a@*.service", "memory_limit": "1G",
    "warn": "99%", "critical": "90%" } ] })");
  EXPECT_THAT(msg, HasSubstr(where(3, "groups[0].warn")));
}

TEST_F(ConfigFile, BadDuration) {
  std::string msg = error_of(R"({
  "scan_interval": "5s",
  "alerts": { "for": "30s",
              "repeat_interval": "4 hours" }
})");
  EXPECT_THAT(msg, HasSubstr(where(4, "alerts.repeat_interval")));
  EXPECT_THAT(msg, HasSubstr("\"4 hours\" is not a duration"));
}

// Issue 15: a duration beyond ten years is refused where it is written (it would overflow
// `now - max_age` and could delete every rotated history file).
TEST_F(ConfigFile, DurationBeyondTenYearsIsRejected) {
  std::string msg = error_of(R"({
  "history": { "interval": "15s",
               "max_age": "1000000000000000ms" }
})");
  EXPECT_THAT(msg, HasSubstr(where(3, "history.max_age")));
  EXPECT_THAT(msg, HasSubstr("is not a duration of at most 3650d"));
}

TEST_F(ConfigFile, BadDurationInsideRestart) {
  std::string msg = error_of(R"({ "groups": [
  { "name": "a", "units": "a@*.service", "memory_limit": "1G",
    "restart": {
      "for": "30s",
      "max_age": "4x" } } ] })");
  EXPECT_THAT(msg, HasSubstr(where(5, "groups[0].restart.max_age")));
}

TEST_F(ConfigFile, BadRegex) {
  std::string msg = error_of(R"({ "groups": [
  { "name": "scripted",
    "match": { "comm": "ff(mpeg" },
    "memory_limit": "1G" } ] })");
  EXPECT_THAT(msg, HasSubstr(where(3, "groups[0].match.comm")));
  EXPECT_THAT(msg, HasSubstr("\"ff(mpeg\" is not a valid POSIX extended regular expression"));
}

TEST_F(ConfigFile, DuplicateGroupName) {
  std::string msg = error_of(R"({
  "groups": [
    { "name": "archiver", "units": "archiver@*.service", "memory_limit": "2G" },
    { "name": "recorder", "units": "recorder@*.service", "memory_limit": "1.5G" },
    { "units": "other@*.service", "memory_limit": "1G",
      "name": "archiver" }
  ]
})");
  EXPECT_THAT(msg, HasSubstr(where(6, "groups[2].name")));
  EXPECT_THAT(msg, HasSubstr("defined twice"));
}

TEST_F(ConfigFile, GroupNeedsUnitsOrMatch) {
  std::string msg =
      error_of("{ \"groups\": [\n\n  { \"name\": \"a\", \"memory_limit\": \"1G\" } ] }");
  EXPECT_THAT(msg, HasSubstr(where(3, "groups[0]")));
}

TEST_F(ConfigFile, NumberAtTheEndOfALineIsOnItsOwnLine) {
  // A number is terminated by the character after it: here the newline. The error must still
  // point at the number's line, not the next one.
  std::string msg = error_of(R"({
  "history": {
    "max_files": 0
  }
})");
  EXPECT_THAT(msg, HasSubstr(where(3, "history.max_files")));
  EXPECT_THAT(msg, HasSubstr("out of range"));
}

TEST_F(ConfigFile, LineCountSurvivesBlockComments) {
  std::string msg = error_of(R"({
  /* the plan:
     - archivers 2G
     - recorders 1.5G */
  // listen everywhere
  "listen": "nowhere"
})");
  EXPECT_THAT(msg, HasSubstr(where(6, "listen")));
  EXPECT_THAT(msg, HasSubstr("HOST:PORT"));
}

TEST_F(ConfigFile, JsonSyntaxErrorNamesFileAndLine) {
  std::string msg = error_of(R"({
  "listen": "0.0.0.0:9842",
  "scan_interval": "5s"
  "discovery_interval": "30s"
})");
  EXPECT_THAT(msg, HasSubstr("config error: " + path() + ":4: "));
  EXPECT_THAT(msg, HasSubstr("not valid JSON"));
}

TEST_F(ConfigFile, ADuplicateKeyIsAnErrorNamingBothLines) {
  std::string msg = error_of(R"({
  "actions": {
    "cooldown": "30s",
    "enabled": true,
    "cooldown": "5m"
  }
})");
  EXPECT_THAT(msg, HasSubstr("config error: " + path() + ":5: "));
  EXPECT_THAT(msg, HasSubstr("duplicate key \"actions.cooldown\" (first on line 3)"));
  // The same key in two objects (two groups) is no duplicate.
  EXPECT_NO_THROW(parse_config(R"({ "groups": [
    { "name": "a", "units": "a@*.service", "memory_limit": "1G" },
    { "name": "b", "units": "b@*.service", "memory_limit": "1G" } ] })",
                               "two-groups"));
}

TEST_F(ConfigFile, UnterminatedDocument) {
  std::string msg = error_of("{\n  \"groups\": [");
  EXPECT_THAT(msg, HasSubstr(path() + ":2: "));
  EXPECT_THAT(msg, HasSubstr("not valid JSON"));
}

TEST_F(ConfigFile, MissingFile) {
  std::string missing = (fx_.root() / "nope.json").string();
  try {
    load_config_file(missing);
    FAIL() << "no error for a missing file";
  } catch (const ConfigError& e) {
    EXPECT_THAT(e.what(), HasSubstr("config error: " + missing + ": cannot read"));
    EXPECT_THAT(e.what(), HasSubstr("No such file"));
  }
}

TEST_F(ConfigFile, DirectoryInsteadOfAFile) {
  fx_.mkdir("conf.d");
  std::string dir = (fx_.root() / "conf.d").string();
  try {
    load_config_file(dir);
    FAIL() << "no error for a directory";
  } catch (const ConfigError& e) {
    EXPECT_THAT(e.what(), HasSubstr("config error: " + dir + ": cannot read"));
    EXPECT_THAT(e.what(), HasSubstr("directory"));
  }
}

TEST_F(ConfigFile, HistoryTotalSizeMustHoldTwoFiles) {
  std::string msg = error_of(R"({
  "history": {
    "max_file_size": "16M",
    "max_total_size": "20M"
  }
})");
  EXPECT_THAT(msg, HasSubstr(where(4, "history.max_total_size")));
  EXPECT_THAT(msg, HasSubstr("at least twice max_file_size"));
  // Without max_total_size the culprit is the file size that outgrew the default 512M.
  msg = error_of("{\n  \"history\": { \"max_file_size\": \"300M\" }\n}");
  EXPECT_THAT(msg, HasSubstr(where(2, "history.max_file_size")));
}

TEST_F(ConfigFile, OneSideOfACrossKeyCheckAgainstTheBuiltInNamesTheKeySet) {
  // retry_backoff is 5m when the file does not say.
  EXPECT_THAT(error_of("{\n  \"actions\": {\n    \"max_retry_backoff\": \"1m\" }\n}"),
              AllOf(HasSubstr(where(3, "actions.max_retry_backoff")),
                    HasSubstr("1m is shorter than retry_backoff (5m, the built-in value)")));
  EXPECT_THAT(error_of("{\n  \"actions\": {\n    \"retry_backoff\": \"2h\" }\n}"),
              AllOf(HasSubstr(where(3, "actions.retry_backoff")),
                    HasSubstr("2h is longer than max_retry_backoff (1h, the built-in value)")));
  EXPECT_THAT(error_of("{\n  \"history\": {\n    \"max_file_size\": \"300M\" }\n}"),
              AllOf(HasSubstr(where(3, "history.max_file_size")),
                    HasSubstr("max_total_size (512.00MiB, the built-in value) must be at least "
                              "twice max_file_size (300.00MiB)")));
  EXPECT_THAT(error_of(R"({ "groups": [
  { "name": "a", "units": "a@*.service", "memory_limit": "1G",
    "critical": "50%" } ] })"),
              AllOf(HasSubstr(where(3, "groups[0].critical")),
                    HasSubstr("is below warn (768.00MiB, the default)")));
}

TEST(ParseConfig, ActionKeys) {
  Config c = parse_config(R"json({
  "actions": { "bus": "unix:path=/proc/42/root/run/dbus/system_bus_socket", "max_per_hour": 20,
               "max_concurrent": 2, "job_timeout": "30s", "retry_backoff": "1m",
               "max_retry_backoff": "10m",
               "handover": { "strategy": "overlap", "start_timeout": "20s",
                             "output": "/srv/rec/{instance}.ts" } },
  "groups": [ { "name": "archiver", "units": "archiver@*.service", "memory_limit": "2G",
                "restart": { "on_memory": "85%", "for": "10s", "max_age": "15s", "predict": "5m" } } ]
})json",
                          "a.json");
  EXPECT_EQ(c.actions.bus, "unix:path=/proc/42/root/run/dbus/system_bus_socket");
  EXPECT_EQ(c.actions.max_per_hour, 20);
  EXPECT_EQ(c.actions.max_concurrent, 2);
  EXPECT_EQ(c.actions.job_timeout, 30s);
  EXPECT_EQ(c.actions.retry_backoff, 1min);
  EXPECT_EQ(c.actions.max_retry_backoff, 10min);
  EXPECT_EQ(c.actions.start_timeout, 20s);
  EXPECT_EQ(c.actions.output, "/srv/rec/{instance}.ts");
  EXPECT_EQ(c.groups[0].restart.max_age, 15s);
  EXPECT_DOUBLE_EQ(c.groups[0].restart.on_memory->percent.value_or(0), 85.0);
  Config d = default_config();
  EXPECT_EQ(d.actions.bus, "system");
  EXPECT_EQ(d.actions.max_per_hour, 12);
  EXPECT_EQ(d.actions.max_concurrent, 1);
  EXPECT_EQ(d.actions.overlap, 30s);
  EXPECT_EQ(d.groups[0].restart.max_age, 4h);
  EXPECT_EQ(d.groups[0].restart.predict, 10min);
}

TEST_F(ConfigFile, BadActionValuesNameTheKey) {
  EXPECT_THAT(error_of("{\n  \"actions\": { \"bus\": \"session\" }\n}"),
              AllOf(HasSubstr(where(2, "actions.bus")), HasSubstr("\"session\" is neither")));
  EXPECT_THAT(error_of("{\n  \"actions\": {\n \"max_concurrent\": 0 }\n}"),
              HasSubstr(where(3, "actions.max_concurrent")));
  EXPECT_THAT(
      error_of(
          "{\n  \"actions\": { \"retry_backoff\": \"10m\", \"max_retry_backoff\": \"1m\" }\n}"),
      AllOf(HasSubstr("actions.max_retry_backoff"), HasSubstr("shorter than retry_backoff (10m)")));
  EXPECT_THAT(
      error_of("{\n  \"actions\": { \"handover\": {\n \"output\": \"rec/x.ts\" } }\n}"),
      AllOf(HasSubstr(where(3, "actions.handover.output")), HasSubstr("not an absolute path")));
  EXPECT_THAT(error_of("{\n  \"actions\": { \"handover\": {\n \"slots\": 2 } }\n}"),
              AllOf(HasSubstr(where(3, "actions.handover.slots")), HasSubstr("unknown key")));
  EXPECT_THAT(error_of(R"({
  "groups": [ { "name": "a", "units": "a@*.service", "memory_limit": "1G",
                "restart": { "max_age": "5s" } } ]
})"),
              HasSubstr(where(3, "groups[0].restart.max_age")));
}

}  // namespace
}  // namespace mobasher
