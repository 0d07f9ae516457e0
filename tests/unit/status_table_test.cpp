#include "exporters/http/status_table.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <sstream>

#include "exporters/http/status_json.hpp"
#include "fixtures/fixture_tree.hpp"
#include "fixtures/snapshots.hpp"

namespace mobasher {
namespace {

using namespace fixtures;
using ::testing::HasSubstr;
using ::testing::Not;

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
      .cgroup(7, 1100_MiB, 2_GiB, 1)  // MemoryMax=2G
      .limits(2_GiB, 1610612736, 2040109465);
  a.sample().oom_kills_total = 1;
  a.sample().restarts = {{RestartCause::oom, 1}, {RestartCause::age, 2}};
  UnitBuilder r("recorder@ch2.service", "recorder");  // no memory cgroup: limit not enforced
  r.main(201, 6000, 1300_MiB, "ffmpeg", 1'800'000'000 - 90)
      .limits(1610612736, 1288490188, 1530082099);
  r.sample().alerts = {{"MobasherUnitMemoryHigh", AlertPhase::firing},
                       {"MobasherUnitOOMKilled", AlertPhase::inactive},
                       {"MobasherUnitMemoryCritical", AlertPhase::pending}};
  return status_json(snapshot_at(1'800'000'000, {a, r}), "0.1.0");
}

TEST(StatusTable, OneRowPerUnit) {
  auto rows = lines(status_table(status()));
  ASSERT_EQ(rows.size(), 4u);
  EXPECT_EQ(words(rows[0]),
            (std::vector<std::string>{"UNIT", "CHANNEL", "PIDS", "RSS", "SWAP", "LIMIT", "%LIMIT",
                                      "AGE", "RESTARTS", "OOM", "ALERTS"}));
  EXPECT_EQ(words(rows[1]),
            (std::vector<std::string>{"archiver@ch1.service", "ch1", "101,102", "1.00GiB",
                                      "8.00MiB", "2.00GiB", "50.0%", "1h30m", "3", "1", "ok"}));
  EXPECT_EQ(words(rows[2]), (std::vector<std::string>{"recorder@ch2.service", "ch2", "201",
                                                      "1.27GiB", "0B", "1.50GiB*", "84.6%", "1m30s",
                                                      "0", "0", "MemoryCritical?,MemoryHigh"}));
  EXPECT_EQ(rows[3], kNoLimitLegend);
}

TEST(StatusTable, LimitMarkedOnlyWhenNotEnforced) {
  auto st = status();
  EXPECT_EQ(limit_column(st["units"][0]), "2.00GiB");
  EXPECT_EQ(limit_column(st["units"][1]), "1.50GiB*");
  st["units"][1]["limit_enforced"] = true;
  EXPECT_EQ(limit_column(st["units"][1]), "1.50GiB");
  EXPECT_THAT(status_table(st), Not(HasSubstr("*")));  // no mark, no legend
  st["units"][1].erase("limit_enforced");  // an older agent's JSON does not say: no mark
  EXPECT_EQ(limit_column(st["units"][1]), "1.50GiB");
  EXPECT_EQ(lines(status_table(st)).size(), 3u);
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

// Issue 15: names come from cgroup directories and processes; control characters in them are
// printed as \xNN, never sent to the terminal (and the columns still align).
TEST(StatusTable, ControlCharactersArePrintedEscaped) {
  EXPECT_EQ(printable("ok-\x1b[31m\x07\x7f\tend"), "ok-\\x1b[31m\\x07\\x7f\\x09end");
  EXPECT_EQ(printable("caf\xc3\xa9"), "caf\xc3\xa9");  // UTF-8 kept
  UnitBuilder a("archiver@c\x1b]0;owned\x07h1.service", "archiver");
  a.main(101, 5000, 4_MiB, "bash", 1'800'000'000 - 5400).limits(2_GiB, 1610612736, 2040109465);
  std::string table = status_table(status_json(snapshot_at(1'800'000'000, {a}), "0.1.0"), true);
  auto rows = lines(table);
  ASSERT_GE(rows.size(), 2u);
  EXPECT_THAT(rows[1], HasSubstr("archiver@c\\x1b]0;owned\\x07h1.service"));
  EXPECT_EQ(rows[1].find('\x07'), std::string::npos);
  // The only ESC bytes left are the table's own colour codes around the row.
  EXPECT_EQ(rows[1].find('\x1b', 1), rows[1].rfind("\x1b[0m")) << rows[1];
}

TEST(StatusTable, NoUnitsSaysSo) {
  Snapshot s = snapshot_at(1'800'000'000, {});
  s.cgroup_layout = "v1";
  EXPECT_THAT(status_table(status_json(s, "0.1.0")),
              HasSubstr("no archiver/recorder units found; cgroup layout: v1"));
}

// One unit per colour: plain, yellow (warning alert), red (critical alert), yellow (RSS at the
// warn threshold, no alert yet), dim (down: no processes).
nlohmann::json coloured_status() {
  UnitBuilder ok("archiver@ch1.service", "archiver");
  ok.main(101, 5000, 512_MiB, "ffmpeg", 1'800'000'000 - 60).limits(2_GiB, 1536_MiB, 1946_MiB);
  UnitBuilder warn("archiver@ch2.service", "archiver");
  warn.main(201, 5000, 1600_MiB, "ffmpeg", 1'800'000'000 - 60).limits(2_GiB, 1536_MiB, 1946_MiB);
  warn.sample().alerts = {{"MobasherUnitMemoryHigh", AlertPhase::firing},
                          {"MobasherUnitMemoryCritical", AlertPhase::pending}};
  UnitBuilder crit("archiver@ch3.service", "archiver");
  crit.main(301, 5000, 100_MiB, "ffmpeg", 1'800'000'000 - 60).limits(2_GiB, 1536_MiB, 1946_MiB);
  crit.sample().alerts = {{"MobasherUnitOOMKilled", AlertPhase::firing},
                          {"MobasherUnitMemoryHigh", AlertPhase::firing}};
  UnitBuilder high("recorder@ch4.service", "recorder");
  high.main(401, 5000, 1300_MiB, "ffmpeg", 1'800'000'000 - 60).limits(1536_MiB, 1229_MiB, 1459_MiB);
  UnitBuilder down("recorder@ch5.service", "recorder");
  down.limits(1536_MiB, 1229_MiB, 1459_MiB);
  return status_json(snapshot_at(1'800'000'000, {ok, warn, crit, high, down}), "0.1.0");
}

std::string strip_ansi(const std::string& s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '\033') {
      while (i < s.size() && s[i] != 'm') ++i;
      continue;
    }
    out += s[i];
  }
  return out;
}

TEST(StatusTable, ToneOfEachUnit) {
  auto units = coloured_status()["units"];
  ASSERT_EQ(units.size(), 5u);
  EXPECT_EQ(unit_tone(units[0]), Tone::plain);
  EXPECT_EQ(unit_tone(units[1]), Tone::warning);   // MemoryHigh firing; Critical only pending
  EXPECT_EQ(unit_tone(units[2]), Tone::critical);  // OOMKilled firing outranks MemoryHigh
  EXPECT_EQ(unit_tone(units[3]), Tone::warning);   // 1300 MiB >= warn 1229 MiB, no alert yet
  EXPECT_EQ(unit_tone(units[4]), Tone::down);
  EXPECT_EQ(unit_tone({{"alerts", {{"MobasherUnitDown", "firing"}}}, {"up", false}}),
            Tone::critical);
  EXPECT_EQ(unit_tone({{"alerts", {{"MobasherUnitRestartLoop", "firing"}}}}), Tone::critical);
  EXPECT_EQ(unit_tone({{"alerts", {{"MobasherUnitMemoryExhaustionPredicted", "firing"}}}}),
            Tone::warning);
}

TEST(StatusTable, ColouredRowsOnATerminal) {
  auto rows = lines(status_table(coloured_status(), true));
  ASSERT_EQ(rows.size(), 7u);
  auto wrapped = [](const std::string& row, std::string_view code) {
    return row.rfind(code, 0) == 0 && row.size() > 4 && row.substr(row.size() - 4) == "\033[0m";
  };
  EXPECT_TRUE(wrapped(rows[0], "\033[1m")) << rows[0];  // header bold
  EXPECT_EQ(rows[1].find('\033'), std::string::npos) << rows[1];
  EXPECT_TRUE(wrapped(rows[2], "\033[33m")) << rows[2];
  EXPECT_THAT(rows[2], HasSubstr("archiver@ch2.service"));
  EXPECT_TRUE(wrapped(rows[3], "\033[31m")) << rows[3];
  EXPECT_THAT(rows[3], HasSubstr("archiver@ch3.service"));
  EXPECT_TRUE(wrapped(rows[4], "\033[33m")) << rows[4];
  EXPECT_TRUE(wrapped(rows[5], "\033[2m")) << rows[5];
  EXPECT_THAT(rows[5], HasSubstr("recorder@ch5.service"));
  EXPECT_EQ(rows[6], kNoLimitLegend);  // none has a cgroup limit; the legend is never coloured
}

TEST(StatusTable, ColourKeepsTheColumnsAligned) {
  nlohmann::json st = coloured_status();
  std::string plain = status_table(st), coloured = status_table(st, true);
  EXPECT_NE(plain, coloured);
  EXPECT_EQ(strip_ansi(coloured), plain);
  EXPECT_EQ(status_table(st, false), plain);
  EXPECT_EQ(plain.find('\033'), std::string::npos);
  EXPECT_EQ(status_table(status()).find('\033'), std::string::npos);
}

TEST(StatusTable, VisibleWidthSkipsEscapeCodes) {
  EXPECT_EQ(visible_width("archiver"), 8u);
  EXPECT_EQ(visible_width("\033[31marchiver\033[0m"), 8u);
  EXPECT_EQ(visible_width("\033[1;33mok\033[0m"), 2u);
  EXPECT_EQ(visible_width("ffmpeg-\xc3\xa9"), 8u);  // UTF-8 é is one column
}

TEST(ColorEnabled, AutoOnlyOnAColourTerminal) {
  EXPECT_TRUE(color_enabled("auto", true, nullptr, "xterm-256color"));
  EXPECT_TRUE(color_enabled("auto", true, "", "xterm"));  // NO_COLOR empty: ignored
  EXPECT_TRUE(color_enabled("auto", true, nullptr, nullptr));
  EXPECT_FALSE(color_enabled("auto", false, nullptr, "xterm"));  // piped
  EXPECT_FALSE(color_enabled("auto", true, "1", "xterm"));
  EXPECT_FALSE(color_enabled("auto", true, nullptr, "dumb"));
  EXPECT_TRUE(color_enabled("always", false, "1", "dumb"));
  EXPECT_FALSE(color_enabled("never", true, nullptr, "xterm"));
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
