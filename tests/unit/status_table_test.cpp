#include "agent/status_table.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <sstream>

#include "exporters/status_json.hpp"
#include "fixtures/fixture_tree.hpp"
#include "fixtures/snapshots.hpp"

namespace mobasher {
namespace {

using namespace fixtures;
using ::testing::HasSubstr;

std::vector<std::string> lines(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  std::string l;
  while (std::getline(in, l)) out.push_back(l);
  return out;
}

std::vector<std::string> words(const std::string& line) {
  std::vector<std::string> out;
  std::istringstream in(line);
  std::string w;
  while (in >> w) out.push_back(w);
  return out;
}

nlohmann::json status() {
  UnitBuilder a("archiver@ch1.service", "archiver");
  a.main(101, 5000, 4_MiB, "bash", 1'800'000'000 - 5400)
      .child(102, 5010, 1020_MiB, "ffmpeg", 8_MiB)
      .limits(2_GiB, 1610612736, 2040109465);
  a.sample().oom_kills_total = 1;
  a.sample().restarts = {{RestartCause::oom, 1}, {RestartCause::age, 2}};
  UnitBuilder r("recorder@ch2.service", "recorder");
  r.main(201, 6000, 1300_MiB, "ffmpeg", 1'800'000'000 - 90)
      .limits(1610612736, 1288490188, 1530082099);
  r.sample().alerts = {{"MobasherUnitMemoryHigh", AlertPhase::firing},
                       {"MobasherUnitOOMKilled", AlertPhase::inactive},
                       {"MobasherUnitMemoryCritical", AlertPhase::pending}};
  return status_json(snapshot_at(1'800'000'000, {a, r}), "0.1.0");
}

TEST(StatusTable, OneRowPerUnit) {
  auto rows = lines(status_table(status()));
  ASSERT_EQ(rows.size(), 3u);
  EXPECT_EQ(words(rows[0]),
            (std::vector<std::string>{"UNIT", "CHANNEL", "PIDS", "RSS", "SWAP", "LIMIT", "%LIMIT",
                                      "AGE", "RESTARTS", "OOM", "ALERTS"}));
  EXPECT_EQ(words(rows[1]),
            (std::vector<std::string>{"archiver@ch1.service", "ch1", "101,102", "1.00GiB",
                                      "8.00MiB", "2.00GiB", "50.0%", "1h30m", "3", "1", "ok"}));
  EXPECT_EQ(words(rows[2]), (std::vector<std::string>{"recorder@ch2.service", "ch2", "201",
                                                      "1.27GiB", "0B", "1.50GiB", "84.6%", "1m30s",
                                                      "0", "0", "MemoryCritical?,MemoryHigh"}));
}

TEST(StatusTable, ColumnsAreAligned) {
  auto rows = lines(status_table(status()));
  size_t col = rows[0].find("CHANNEL");
  EXPECT_EQ(rows[1].substr(col, 4), "ch1 ");
  EXPECT_EQ(rows[2].substr(col, 4), "ch2 ");
  size_t level = rows[0].find("ALERTS");
  EXPECT_EQ(rows[1].substr(level), "ok");
  EXPECT_EQ(rows[2].substr(level), "MemoryCritical?,MemoryHigh");
}

TEST(StatusTable, NoUnitsSaysSo) {
  Snapshot s = snapshot_at(1'800'000'000, {});
  s.cgroup_layout = "v1";
  EXPECT_THAT(status_table(status_json(s, "0.1.0")),
              HasSubstr("no archiver/recorder units found; cgroup layout: v1"));
}

TEST(AlertColumn, OkWhenNothingIsActiveDashWithoutAlertState) {
  EXPECT_EQ(alert_column({{"alerts", {{"MobasherUnitDown", "inactive"}}}}), "ok");
  EXPECT_EQ(alert_column({{"alerts", nlohmann::json::object()}}), "ok");
  EXPECT_EQ(alert_column({{"rss_bytes", 5}}), "-");
  EXPECT_EQ(alert_column({{"alerts", {{"MobasherUnitDown", "firing"}, {"Custom", "pending"}}}}),
            "Custom?,Down");
}

}  // namespace
}  // namespace mobasher
