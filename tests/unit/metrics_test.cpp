#include "exporters/http/metrics.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <map>
#include <sstream>

#include "fixtures/fixture_tree.hpp"
#include "fixtures/snapshots.hpp"

namespace mobasher {
namespace {

using namespace fixtures;
using ::testing::HasSubstr;
using ::testing::Not;

using LabelMap = std::map<std::string, std::string>;
struct Sample {
  std::string name;
  LabelMap labels;
  double value;
};

// Minimal text-format reader: enough to look samples up by name and exact label set.
std::vector<Sample> parse_exposition(const std::string& text) {
  std::vector<Sample> out;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#') continue;
    Sample s;
    size_t brace = line.find('{');
    size_t space = line.rfind(' ');
    if (brace != std::string::npos && brace < space) {
      s.name = line.substr(0, brace);
      size_t i = brace + 1;
      while (i < line.size() && line[i] != '}') {
        size_t eq = line.find('=', i);
        std::string key = line.substr(i, eq - i);
        std::string value;
        size_t j = eq + 2;  // past ="
        for (; j < line.size() && line[j] != '"'; ++j) {
          if (line[j] == '\\' && j + 1 < line.size()) {
            ++j;
            value += line[j] == 'n' ? '\n' : line[j];
          } else {
            value += line[j];
          }
        }
        s.labels[key] = value;
        i = j + 1;
        if (i < line.size() && line[i] == ',') ++i;
      }
    } else {
      s.name = line.substr(0, space);
    }
    s.value = std::strtod(line.c_str() + space + 1, nullptr);
    out.push_back(std::move(s));
  }
  return out;
}

class Exposition {
 public:
  explicit Exposition(std::string text)
      : text_(std::move(text)), samples_(parse_exposition(text_)) {}
  std::optional<double> value(const std::string& name, const LabelMap& labels = {}) const {
    for (const auto& s : samples_)
      if (s.name == name && s.labels == labels) return s.value;
    return std::nullopt;
  }
  size_t count_with_label(const std::string& key, const std::string& value) const {
    size_t n = 0;
    for (const auto& s : samples_)
      if (auto it = s.labels.find(key); it != s.labels.end() && it->second == value) ++n;
    return n;
  }
  const std::vector<Sample>& samples() const { return samples_; }
  const std::string& text() const { return text_; }

 private:
  std::string text_;
  std::vector<Sample> samples_;
};

LabelMap ch1(LabelMap extra = {}) {
  LabelMap l = {{"unit", "archiver@ch1.service"}, {"group", "archiver"}, {"channel", "ch1"}};
  l.insert(extra.begin(), extra.end());
  return l;
}
LabelMap ch2(LabelMap extra = {}) {
  LabelMap l = {{"unit", "recorder@ch2.service"}, {"group", "recorder"}, {"channel", "ch2"}};
  l.insert(extra.begin(), extra.end());
  return l;
}

Snapshot two_units() {
  UnitBuilder a("archiver@ch1.service", "archiver");
  a.main(101, 5000, 4_MiB, "bash", 1'799'990'000)
      .child(102, 5010, 900_MiB, "ffmpeg", 5_MiB)
      .child(103, 5020, 300_MiB, "ffmpeg")
      .cgroup(77, 1300_MiB, 2_GiB, 1)
      .limits(2_GiB, 1610612736, 2040109465);
  a.sample().memory.inactive_file = 40_MiB;
  a.sample().memory.swap = 6_MiB;
  a.sample().memory.failcnt = 9;
  a.sample().oom_kills_total = 3;
  a.sample().restarts = {{RestartCause::oom, 1},     {RestartCause::memory, 0},
                         {RestartCause::age, 4},     {RestartCause::predicted, 0},
                         {RestartCause::systemd, 0}, {RestartCause::external, 2}};
  a.sample().growth_bytes_per_second = 1048576;
  a.sample().seconds_to_limit = 964;

  UnitBuilder r("recorder@ch2.service", "recorder");
  r.main(201, 6000, 500_MiB, "ffmpeg", 1'799'995'000).limits(1610612736, 1288490188, 1530082099);
  r.sample().restarts = {{RestartCause::oom, 0}, {RestartCause::external, 0}};

  Snapshot s = snapshot_at(1'800'000'000, {a, r}, 12);
  s.cgroup_layout = "v1";
  s.node.mem_total = 16_GiB;
  s.node.mem_available = 9_GiB;
  s.node.swap_total = 2_GiB;
  s.node.swap_free = 1_GiB;
  s.node.pressure_some_seconds = 12.5;
  s.node.pressure_full_seconds = 3.25;
  return s;
}

AgentStats agent_stats() {
  AgentStats a;
  a.version = "0.1.0";
  a.scans_total = 42;
  a.scan_errors_total = {{"proc", 2}, {"cgroup", 1}};
  a.scan_duration.sample_count = 42;
  a.scan_duration.sample_sum = 0.21;
  a.scan_duration.bucket = {{40, 0.005}, {41, 0.01}, {42, 0.05}};
  return a;
}

Exposition render(const Snapshot& s, const std::optional<SelfStats>& self = std::nullopt) {
  return Exposition(render_exposition(build_families(s, agent_stats(), self)));
}

TEST(Metrics, UnitGauges) {
  auto e = render(two_units());
  EXPECT_EQ(e.value("mobasher_unit_rss_bytes", ch1()), double(1204_MiB));
  EXPECT_EQ(e.value("mobasher_unit_swap_bytes", ch1()), double(5_MiB));
  EXPECT_EQ(e.value("mobasher_unit_memory_usage_bytes", ch1()), double(1300_MiB));
  EXPECT_EQ(e.value("mobasher_unit_memory_working_set_bytes", ch1()), double(1260_MiB));
  EXPECT_EQ(e.value("mobasher_unit_memory_limit_bytes", ch1()), double(2_GiB));
  EXPECT_EQ(e.value("mobasher_unit_memory_warning_bytes", ch1()), 1610612736.0);
  EXPECT_EQ(e.value("mobasher_unit_memory_critical_bytes", ch1()), 2040109465.0);
  EXPECT_EQ(e.value("mobasher_unit_processes", ch1()), 3.0);
  EXPECT_EQ(e.value("mobasher_unit_up", ch1()), 1.0);
  EXPECT_EQ(e.value("mobasher_unit_start_time_seconds", ch1()), 1'799'990'000.0);
  EXPECT_EQ(e.value("mobasher_unit_oom_kills_total", ch1()), 3.0);
  EXPECT_EQ(e.value("mobasher_unit_memory_growth_bytes_per_second", ch1()), 1048576.0);
  EXPECT_EQ(e.value("mobasher_unit_seconds_to_limit", ch1()), 964.0);
  // recorder: no cgroup limit, so the configured one; no cgroup files at all.
  EXPECT_EQ(e.value("mobasher_unit_rss_bytes", ch2()), double(500_MiB));
  EXPECT_EQ(e.value("mobasher_unit_memory_limit_bytes", ch2()), 1610612736.0);
  EXPECT_EQ(e.value("mobasher_unit_memory_warning_bytes", ch2()), 1288490188.0);
  EXPECT_FALSE(e.value("mobasher_unit_memory_usage_bytes", ch2()).has_value());
}

// 1 only when the cgroup itself has a limit; else mobasher_unit_memory_limit_bytes is the
// configured memory_limit, which nothing enforces.
TEST(Metrics, LimitEnforcedOnlyWhenTheCgroupHasALimit) {
  Snapshot s = two_units();
  auto e = render(s);
  EXPECT_EQ(e.value("mobasher_unit_memory_limit_enforced", ch1()), 1.0);
  EXPECT_EQ(e.value("mobasher_unit_memory_limit_enforced", ch2()), 0.0);  // no memory cgroup
  s.units[0].memory.limit.reset();  // cgroup present, memory.max "max"
  auto unlimited = render(s);
  EXPECT_EQ(unlimited.value("mobasher_unit_memory_limit_enforced", ch1()), 0.0);
  EXPECT_EQ(unlimited.value("mobasher_unit_memory_limit_bytes", ch1()), double(2_GiB));
  EXPECT_THAT(unlimited.text(), HasSubstr("# TYPE mobasher_unit_memory_limit_enforced gauge"));
}

TEST(Metrics, SecondsToLimitAbsentWhenNotGrowing) {
  auto e = render(two_units());
  EXPECT_TRUE(e.value("mobasher_unit_seconds_to_limit", ch1()).has_value());
  EXPECT_FALSE(e.value("mobasher_unit_seconds_to_limit", ch2()).has_value());
  EXPECT_FALSE(e.value("mobasher_unit_memory_growth_bytes_per_second", ch2()).has_value());
}

TEST(Metrics, RestartsByCause) {
  auto e = render(two_units());
  EXPECT_EQ(e.value("mobasher_unit_restarts_total", ch1({{"cause", "oom"}})), 1.0);
  EXPECT_EQ(e.value("mobasher_unit_restarts_total", ch1({{"cause", "age"}})), 4.0);
  EXPECT_EQ(e.value("mobasher_unit_restarts_total", ch1({{"cause", "external"}})), 2.0);
  for (const char* cause : {"oom", "memory", "age", "predicted", "systemd", "external"})
    EXPECT_TRUE(e.value("mobasher_unit_restarts_total", ch1({{"cause", cause}})).has_value())
        << cause;
  EXPECT_EQ(e.value("mobasher_unit_restarts_total", ch2({{"cause", "oom"}})), 0.0);
}

TEST(Metrics, PerCommandWithoutPid) {
  auto e = render(two_units());
  EXPECT_EQ(e.value("mobasher_process_instances", ch1({{"comm", "ffmpeg"}})), 2.0);
  EXPECT_EQ(e.value("mobasher_process_instances", ch1({{"comm", "bash"}})), 1.0);
  EXPECT_EQ(e.value("mobasher_process_rss_bytes", ch1({{"comm", "ffmpeg"}})), double(1200_MiB));
  EXPECT_EQ(e.value("mobasher_process_swap_bytes", ch1({{"comm", "ffmpeg"}})), double(5_MiB));
  EXPECT_EQ(e.value("mobasher_process_instances", ch2({{"comm", "ffmpeg"}})), 1.0);
  for (const auto& s : e.samples()) EXPECT_EQ(s.labels.count("pid"), 0u) << s.name;
}

TEST(Metrics, NodeMetrics) {
  auto e = render(two_units());
  EXPECT_EQ(e.value("mobasher_node_memory_total_bytes"), double(16_GiB));
  EXPECT_EQ(e.value("mobasher_node_memory_available_bytes"), double(9_GiB));
  EXPECT_EQ(e.value("mobasher_node_swap_total_bytes"), double(2_GiB));
  EXPECT_EQ(e.value("mobasher_node_swap_free_bytes"), double(1_GiB));
  EXPECT_EQ(e.value("mobasher_node_oom_kills_total"), 12.0);
  EXPECT_EQ(e.value("mobasher_node_memory_pressure_seconds_total", {{"kind", "some"}}), 12.5);
  EXPECT_EQ(e.value("mobasher_node_memory_pressure_seconds_total", {{"kind", "full"}}), 3.25);
}

TEST(Metrics, AgentMetricsAndBuildInfo) {
  auto e = render(two_units());
  EXPECT_EQ(e.value("mobasher_build_info", {{"version", "0.1.0"}, {"cgroup_layout", "v1"}}), 1.0);
  EXPECT_EQ(e.value("mobasher_scans_total"), 42.0);
  EXPECT_EQ(e.value("mobasher_scan_errors_total", {{"source", "proc"}}), 2.0);
  EXPECT_EQ(e.value("mobasher_scan_errors_total", {{"source", "cgroup"}}), 1.0);
  EXPECT_EQ(e.value("mobasher_scan_duration_seconds_count"), 42.0);
  EXPECT_EQ(e.value("mobasher_scan_duration_seconds_bucket", {{"le", "+Inf"}}), 42.0);
  EXPECT_THAT(e.text(), HasSubstr("# TYPE mobasher_scan_duration_seconds histogram"));
  EXPECT_THAT(e.text(), HasSubstr("# TYPE mobasher_unit_oom_kills_total counter"));
  EXPECT_THAT(e.text(), HasSubstr("# TYPE mobasher_unit_rss_bytes gauge"));
}

TEST(Metrics, SeriesOfAVanishedUnitAreAbsent) {
  Snapshot s = two_units();
  ASSERT_GT(render(s).count_with_label("unit", "recorder@ch2.service"), 5u);
  s.units.pop_back();  // the recorder stopped
  auto e = render(s);
  EXPECT_FALSE(e.value("mobasher_unit_memory_limit_enforced", ch2()).has_value());
  EXPECT_TRUE(e.value("mobasher_unit_memory_limit_enforced", ch1()).has_value());
  EXPECT_EQ(e.count_with_label("unit", "recorder@ch2.service"), 0u);
  EXPECT_GT(e.count_with_label("unit", "archiver@ch1.service"), 5u);
}

TEST(Metrics, GaugesNeverEndInCountOrTotal) {
  auto e = render(two_units(), SelfReader().read());
  std::istringstream in(e.text());
  std::string line;
  int gauges = 0;
  while (std::getline(in, line)) {
    if (line.rfind("# TYPE ", 0) != 0 || line.substr(line.rfind(' ') + 1) != "gauge") continue;
    std::string name = line.substr(7, line.rfind(' ') - 7);
    ++gauges;
    EXPECT_FALSE(name.ends_with("_count")) << name;
    EXPECT_FALSE(name.ends_with("_total")) << name;
  }
  EXPECT_GT(gauges, 10);
}

TEST(Metrics, SelfMetricsOnlyWhenGiven) {
  auto without = render(two_units());
  EXPECT_FALSE(without.value("process_resident_memory_bytes").has_value());
  auto self = SelfReader().read();
  ASSERT_TRUE(self.has_value());
  auto with = render(two_units(), self);
  EXPECT_EQ(with.value("process_resident_memory_bytes"), double(self->resident_bytes));
  EXPECT_EQ(with.value("process_max_fds"), double(self->max_fds));
  EXPECT_GT(with.value("process_start_time_seconds").value_or(0), 1e9);
}

// ---- promtool: the exposition must be clean for the real Prometheus tooling ----

struct CommandResult {
  int exit_code = -1;
  std::string output;
};

CommandResult promtool_check(const std::string& exposition) {
  FixtureTree fx;
  fx.write("metrics.prom", exposition);
  std::string cmd = "promtool check metrics < '" + (fx.root() / "metrics.prom").string() + "' 2>&1";
  CommandResult r;
  FILE* p = ::popen(cmd.c_str(), "r");
  if (!p) return r;
  char buf[4096];
  while (size_t n = std::fread(buf, 1, sizeof buf, p)) r.output.append(buf, n);
  int status = ::pclose(p);
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return r;
}

bool promtool_installed() {
  return std::system("command -v promtool >/dev/null 2>&1") == 0;
}

TEST(Metrics, PromtoolCheckMetricsIsClean) {
  ASSERT_TRUE(promtool_installed())
      << "promtool not found in PATH: install the Debian package `prometheus` (/usr/bin/promtool);"
         " this test must not be skipped";
  auto text = render_exposition(build_families(two_units(), agent_stats(), SelfReader().read()));
  auto r = promtool_check(text);
  EXPECT_EQ(r.exit_code, 0) << r.output << "\n--- exposition ---\n" << text;
  EXPECT_THAT(r.output, Not(HasSubstr("error")));
}

TEST(Metrics, PromtoolAcceptsAnEmptySnapshotAndOddLabelValues) {
  ASSERT_TRUE(promtool_installed())
      << "promtool not found: install the Debian package `prometheus`";
  Snapshot empty = snapshot_at(1'800'000'000, {});
  empty.cgroup_layout = "none";
  auto e = render(empty);
  EXPECT_EQ(e.value("mobasher_build_info", {{"version", "0.1.0"}, {"cgroup_layout", "none"}}), 1.0);
  auto r = promtool_check(e.text());
  EXPECT_EQ(r.exit_code, 0) << r.output << "\n" << e.text();

  UnitBuilder odd("archiver@a\\b\"c.service", "archiver");
  odd.main(1, 1, 1_MiB, "ff \"mp\\eg\nx");
  Snapshot s = snapshot_at(1'800'000'000, {odd});
  auto eo = render(s);
  EXPECT_EQ(eo.value("mobasher_process_instances", {{"unit", "archiver@a\\b\"c.service"},
                                                    {"group", "archiver"},
                                                    {"channel", "a\\b\"c"},
                                                    {"comm", "ff \"mp\\eg\nx"}}),
            1.0);
  r = promtool_check(eo.text());
  EXPECT_EQ(r.exit_code, 0) << r.output << "\n" << eo.text();
}

// ---- alerting ----

Snapshot alerting_units() {
  Snapshot s = two_units();
  s.units[0].predict_seconds = 900;
  s.units[0].alerts = {{"MobasherUnitMemoryHigh", AlertPhase::firing},
                       {"MobasherUnitMemoryCritical", AlertPhase::inactive},
                       {"MobasherUnitMemoryExhaustionPredicted", AlertPhase::pending}};
  s.units[1].alerts = {{"MobasherUnitMemoryHigh", AlertPhase::inactive}};
  s.node.memory_available_min = 1717986918;  // 10% of 16 GiB
  s.node.swap_used_max = 1717986918;         // 80% of 2 GiB
  s.node.alerts = {{"MobasherNodeMemoryLow", AlertPhase::pending},
                   {"MobasherNodeSwapHigh", AlertPhase::inactive}};
  return s;
}

AgentStats notifying_agent() {
  AgentStats a = agent_stats();
  a.notifications_total = {
      {"am", {{"sent", 12}, {"failed", 3}, {"rejected", 1}, {"dropped", 0}, {"corrupt", 2}}},
      {"127.0.0.1:9093", {{"sent", 4}}}};
  a.notification_queue = {{"am", 5}, {"127.0.0.1:9093", 0}};
  return a;
}

TEST(Metrics, UnitAlertStateByAlert) {
  auto e = render(alerting_units());
  EXPECT_EQ(e.value("mobasher_unit_alert_state", ch1({{"alert", "MobasherUnitMemoryHigh"}})), 2.0);
  EXPECT_EQ(e.value("mobasher_unit_alert_state", ch1({{"alert", "MobasherUnitMemoryCritical"}})),
            0.0);
  EXPECT_EQ(e.value("mobasher_unit_alert_state",
                    ch1({{"alert", "MobasherUnitMemoryExhaustionPredicted"}})),
            1.0);
  EXPECT_EQ(e.value("mobasher_unit_alert_state", ch2({{"alert", "MobasherUnitMemoryHigh"}})), 0.0);
  EXPECT_FALSE(
      e.value("mobasher_unit_alert_state", ch2({{"alert", "MobasherUnitMemoryCritical"}})));
  // Label order: unit, group, channel, then alert.
  EXPECT_THAT(e.text(), HasSubstr("mobasher_unit_alert_state{unit=\"archiver@ch1.service\","
                                  "group=\"archiver\",channel=\"ch1\","
                                  "alert=\"MobasherUnitMemoryHigh\"} 2\n"));
  EXPECT_THAT(e.text(), HasSubstr("# TYPE mobasher_unit_alert_state gauge"));
}

TEST(Metrics, PredictWindowForEveryUnit) {
  auto e = render(alerting_units());
  EXPECT_EQ(e.value("mobasher_unit_predict_window_seconds", ch1()), 900.0);
  EXPECT_EQ(e.value("mobasher_unit_predict_window_seconds", ch2()), 600.0);  // the default
  EXPECT_THAT(e.text(), HasSubstr("# TYPE mobasher_unit_predict_window_seconds gauge"));
}

TEST(Metrics, NodeAlertStateAndThresholds) {
  auto e = render(alerting_units());
  EXPECT_EQ(e.value("mobasher_node_alert_state", {{"alert", "MobasherNodeMemoryLow"}}), 1.0);
  EXPECT_EQ(e.value("mobasher_node_alert_state", {{"alert", "MobasherNodeSwapHigh"}}), 0.0);
  EXPECT_EQ(e.value("mobasher_node_memory_available_min_bytes"), 1717986918.0);
  EXPECT_EQ(e.value("mobasher_node_swap_used_max_bytes"), 1717986918.0);
  EXPECT_THAT(e.text(), HasSubstr("# TYPE mobasher_node_alert_state gauge"));
  EXPECT_THAT(e.text(), HasSubstr("# TYPE mobasher_node_memory_available_min_bytes gauge"));
}

TEST(Metrics, NodeAlertSeriesAbsentWithoutAnEvaluator) {
  auto e = render(two_units());  // no thresholds resolved, no alert states
  EXPECT_FALSE(e.value("mobasher_node_memory_available_min_bytes"));
  EXPECT_FALSE(e.value("mobasher_node_swap_used_max_bytes"));
  EXPECT_EQ(e.count_with_label("alert", "MobasherNodeMemoryLow"), 0u);
  EXPECT_THAT(e.text(), Not(HasSubstr("mobasher_node_alert_state")));
  EXPECT_THAT(e.text(), Not(HasSubstr("mobasher_unit_alert_state")));
}

TEST(Metrics, SwapThresholdAbsentWithoutSwap) {
  Snapshot s = alerting_units();
  s.node.swap_total = 0;
  s.node.swap_used_max.reset();  // the evaluator resolves nothing against SwapTotal 0
  auto e = render(s);
  EXPECT_FALSE(e.value("mobasher_node_swap_used_max_bytes"));
  EXPECT_EQ(e.value("mobasher_node_memory_available_min_bytes"), 1717986918.0);
}

TEST(Metrics, NotificationCountersAndQueueByReceiver) {
  auto e = Exposition(render_exposition(build_families(alerting_units(), notifying_agent(), {})));
  auto total = [&](const std::string& receiver, const std::string& result) {
    return e.value("mobasher_notifications_total", {{"receiver", receiver}, {"result", result}});
  };
  EXPECT_EQ(total("am", "sent"), 12.0);
  EXPECT_EQ(total("am", "failed"), 3.0);
  EXPECT_EQ(total("am", "rejected"), 1.0);
  EXPECT_EQ(total("am", "dropped"), 0.0);
  EXPECT_EQ(total("am", "corrupt"), 2.0);
  EXPECT_EQ(total("127.0.0.1:9093", "sent"), 4.0);
  EXPECT_EQ(e.value("mobasher_notification_queue_length", {{"receiver", "am"}}), 5.0);
  EXPECT_EQ(e.value("mobasher_notification_queue_length", {{"receiver", "127.0.0.1:9093"}}), 0.0);
  EXPECT_THAT(e.text(), HasSubstr("# TYPE mobasher_notifications_total counter"));
  EXPECT_THAT(e.text(), HasSubstr("# TYPE mobasher_notification_queue_length gauge"));
  EXPECT_THAT(e.text(),
              HasSubstr("mobasher_notifications_total{receiver=\"am\",result=\"sent\"} 12\n"));
}

TEST(Metrics, NoNotificationSeriesWithoutReceivers) {
  auto e = render(two_units());
  EXPECT_THAT(e.text(), Not(HasSubstr("mobasher_notifications_total")));
  EXPECT_THAT(e.text(), Not(HasSubstr("mobasher_notification_queue_length")));
}

TEST(Metrics, PromtoolAcceptsTheAlertingFamilies) {
  ASSERT_TRUE(promtool_installed())
      << "promtool not found: install the Debian package `prometheus`";
  auto text = render_exposition(build_families(alerting_units(), notifying_agent(), {}));
  auto r = promtool_check(text);
  EXPECT_EQ(r.exit_code, 0) << r.output << "\n--- exposition ---\n" << text;
  EXPECT_THAT(r.output, Not(HasSubstr("error")));
}

AgentStats history_agent(std::string error = "") {
  AgentStats a = agent_stats();
  HistoryStatus h;
  h.bytes = 123456;
  h.files = 4;
  h.records_written = 900;
  h.records_dropped = 2;
  h.torn_lines = 1;
  h.write_errors = 3;
  h.pending = 17;
  h.error = std::move(error);
  a.history = h;
  return a;
}

TEST(Metrics, HistoryStoreFamilies) {
  auto e = Exposition(render_exposition(build_families(two_units(), history_agent(), {})));
  EXPECT_EQ(e.value("mobasher_history_bytes", {}), 123456.0);
  EXPECT_EQ(e.value("mobasher_history_files", {}), 4.0);
  EXPECT_EQ(e.value("mobasher_history_records_total", {{"result", "written"}}), 900.0);
  EXPECT_EQ(e.value("mobasher_history_records_total", {{"result", "dropped"}}), 2.0);
  EXPECT_EQ(e.value("mobasher_history_pending_records", {}), 17.0);
  EXPECT_EQ(e.value("mobasher_history_write_errors_total", {}), 3.0);
  EXPECT_EQ(e.value("mobasher_history_torn_lines_total", {}), 1.0);
  EXPECT_EQ(e.value("mobasher_history_writable", {}), 1.0);
  auto failing = Exposition(render_exposition(
      build_families(two_units(), history_agent("h/current.jsonl: No space left on device"), {})));
  EXPECT_EQ(failing.value("mobasher_history_writable", {}), 0.0);
}

TEST(Metrics, NoHistorySeriesWithoutAStore) {
  auto e = render(two_units());
  EXPECT_THAT(e.text(), Not(HasSubstr("mobasher_history_")));
}

TEST(Metrics, PromtoolAcceptsTheHistoryFamilies) {
  ASSERT_TRUE(promtool_installed())
      << "promtool not found: install the Debian package `prometheus`";
  auto text = render_exposition(build_families(two_units(), history_agent(), {}));
  auto r = promtool_check(text);
  EXPECT_EQ(r.exit_code, 0) << r.output << "\n--- exposition ---\n" << text;
  EXPECT_THAT(r.output, Not(HasSubstr("error")));
}

}  // namespace
}  // namespace mobasher
