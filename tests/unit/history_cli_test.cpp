#include "agent/app/history_cli.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <zlib.h>

#include <nlohmann/json.hpp>
#include <sstream>

#include "agent/app/cli.hpp"
#include "exporters/history/history_record.hpp"
#include "fixtures/fixture_tree.hpp"

namespace mobasher {
namespace {

using namespace fixtures;
using namespace std::chrono;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

WallTime utc(int y, unsigned mo, unsigned d, int h = 0, int mi = 0, int s = 0) {
  return sys_days(year(y) / month(mo) / day(d)) + hours(h) + minutes(mi) + seconds(s);
}

// Records as the writer stores them (history_record.hpp), one rotated gzip file and the current
// one.
const std::vector<std::string> kRotated = {
    R"({"ts":"2026-11-30T00:00:05.000Z","type":"agent_start","version":"0.1.0","pid":42,"config":"/etc/mobasher-agent/config.json"})",
    R"({"ts":"2026-11-30T00:00:10.000Z","type":"sample","unit":"archiver@ch1.service","rss":1073741824,"swap":0,"usage":1200000000,"working_set":1100000000,"limit":2147483648,"processes":2,"top":{"pid":1234,"comm":"ffmpeg","rss":1288490188}})",
};
const std::vector<std::string> kCurrent = {
    R"({"ts":"2026-12-01T10:00:05.000Z","type":"sample","unit":"archiver@ch1.service","rss":1610612736,"swap":8388608,"limit":2147483648,"processes":2,"top":{"pid":1234,"comm":"ffmpeg","rss":1288490188},"restarts":{"age":2}})",
    R"({"ts":"2026-12-01T10:00:05.000Z","type":"sample","unit":"recorder@ch2.service","rss":536870912,"swap":0,"limit":1610612736,"processes":1})",
    R"({"ts":"2026-12-01T10:00:05.000Z","type":"sample","mem_total":17179869184,"mem_available":9663676416,"swap_total":0,"swap_free":0})",
    R"({"ts":"2026-12-01T10:00:06.000Z","type":"alert_firing","unit":"archiver@ch1.service","alert":"MobasherUnitMemoryHigh","severity":"warning","value":1717986918,"threshold":1610612736})",
    R"({"ts":"2026-12-01T10:00:07.000Z","type":"restart","unit":"archiver@ch1.service","cause":"age","total":3})",
    R"({"ts":"2026-12-01T10:00:09.000Z","type":"action_failed","unit":"archiver@ch1.service","action":"restart","error":"timeout, 25s"})",
};

std::string joined(const std::vector<std::string>& lines) {
  std::string s;
  for (const auto& l : lines) s += l + "\n";
  return s;
}

struct HistoryDir {
  FixtureTree fx;
  std::filesystem::path dir() const { return fx.root() / "history"; }
  explicit HistoryDir(const std::string& current = joined(kCurrent)) {
    fx.write("history/current.jsonl", current);
    std::string gz = (dir() / "history-20261130T000000Z.jsonl.gz").string();
    gzFile f = gzopen(gz.c_str(), "wb");
    std::string text = joined(kRotated);
    gzwrite(f, text.data(), static_cast<unsigned>(text.size()));
    gzclose(f);
  }
};

struct Printed {
  int code = -1;
  std::string out, err;
};

Printed print(const std::filesystem::path& dir, OutputFormat format, const std::string& unit = "",
              WallTime since = utc(2026, 11, 29), WallTime until = utc(2026, 12, 2)) {
  HistoryFilter f;
  f.since = since;
  f.until = until;
  f.unit = unit;
  std::ostringstream out, err;
  Printed p;
  p.code = print_history(dir, f, format, out, err);
  p.out = out.str();
  p.err = err.str();
  return p;
}

std::vector<std::string> lines(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string l; std::getline(in, l);) out.push_back(l);
  return out;
}

std::vector<std::string> words(const std::string& line) {
  std::vector<std::string> out;
  std::istringstream in(line);
  for (std::string w; in >> w;) out.push_back(w);
  return out;
}

// ---- WHEN ----

TEST(HistoryCliWhen, DurationsAreThatLongAgo) {
  WallTime now = utc(2026, 12, 1, 12);
  EXPECT_EQ(parse_when("6h", now), utc(2026, 12, 1, 6));
  EXPECT_EQ(parse_when("30m", now), utc(2026, 12, 1, 11, 30));
  EXPECT_EQ(parse_when("2d", now), utc(2026, 11, 29, 12));
  EXPECT_EQ(parse_when("90s", now), utc(2026, 12, 1, 11, 58, 30));
  EXPECT_EQ(parse_when("0s", now), now);
  EXPECT_EQ(parse_when("now", now), now);
}

TEST(HistoryCliWhen, Rfc3339) {
  WallTime now = utc(2030, 1, 1);
  EXPECT_EQ(parse_when("2026-12-01T10:00:00Z", now), utc(2026, 12, 1, 10));
  EXPECT_EQ(parse_when("2026-12-01T10:00:00.250Z", now), utc(2026, 12, 1, 10) + 250ms);
  EXPECT_EQ(parse_when("2026-12-01T10:00:00.5Z", now), utc(2026, 12, 1, 10) + 500ms);
  EXPECT_EQ(parse_when("2026-12-01t10:00:00z", now), utc(2026, 12, 1, 10));
  EXPECT_EQ(parse_when("2026-12-01T12:30:00+02:30", now), utc(2026, 12, 1, 10));
  EXPECT_EQ(parse_when("2026-12-01T08:00:00-02:00", now), utc(2026, 12, 1, 10));
  EXPECT_EQ(parse_when("2028-02-29T00:00:00Z", now), utc(2028, 2, 29));
}

TEST(HistoryCliWhen, GarbageIsNullopt) {
  WallTime now = utc(2026, 12, 1);
  for (const char* bad :
       {"", "yesterday", "6x", "-1h", "h", "Now", "2026-12-01", "2026-12-01T10:00:00",
        "2026-13-01T10:00:00Z", "2026-02-30T00:00:00Z", "2026-12-01T24:00:00Z",
        "2026-12-01T10:60:00Z", "2026-12-01T10:00:00.Z", "2026-12-01T10:00:00ZZ",
        "2026-12-01T10:00:00+2:00", "2026/12/01T10:00:00Z"})
    EXPECT_EQ(parse_when(bad, now), std::nullopt) << bad;
}

TEST(HistoryCliWhen, FilterDefaultsAndErrors) {
  WallTime now = utc(2026, 12, 1, 12);
  CliOptions cli;
  cli.command = "history";
  HistoryFilter f = history_filter(cli, now);
  EXPECT_EQ(f.since, utc(2026, 12, 1, 11));
  EXPECT_EQ(f.until, now);
  EXPECT_EQ(f.unit, "");
  EXPECT_TRUE(f.samples);
  EXPECT_TRUE(f.events);

  cli.since = "2d";
  cli.until = "2026-12-01T00:00:00Z";
  cli.unit = "archiver@ch1";
  f = history_filter(cli, now);
  EXPECT_EQ(f.since, utc(2026, 11, 29, 12));
  EXPECT_EQ(f.until, utc(2026, 12, 1));
  EXPECT_EQ(f.unit, "archiver@ch1");

  cli.since = "6h";
  EXPECT_THROW(history_filter(cli, now), CliError);  // 06:00 is after 00:00
  cli.since = "soon";
  EXPECT_THROW(history_filter(cli, now), CliError);
}

TEST(HistoryCliUnit, ServiceSuffixAdded) {
  EXPECT_EQ(history_unit_name("archiver@ch1"), "archiver@ch1.service");
  EXPECT_EQ(history_unit_name("archiver@ch1.service"), "archiver@ch1.service");
  EXPECT_EQ(history_unit_name("session-3.scope"), "session-3.scope");
  EXPECT_EQ(history_unit_name("recorder@ch1:a"), "recorder@ch1:a.service");
  EXPECT_EQ(history_unit_name("archiver@ch1.1"), "archiver@ch1.1.service");
}

// ---- print_history ----

// Issue 15: a process name is whatever the process set (prctl, exec of any file name); one with
// ESC sequences could clear the operator's screen or hide rows. The table prints them escaped.
TEST(HistoryCliPrint, ControlCharactersInNamesArePrintedEscaped) {
  HistoryDir h(joined(
      {R"({"ts":"2026-12-01T10:00:05.000Z","type":"sample","unit":"archiver@ch1.service","rss":1,"limit":2,"processes":1,"top":{"pid":7,"comm":"ff\u001b[2J\u0007mpeg","rss":1}})"}));
  Printed p = print(h.dir(), OutputFormat::table);
  EXPECT_EQ(p.code, 0) << p.err;
  EXPECT_EQ(p.out.find('\x1b'), std::string::npos) << p.out;
  EXPECT_EQ(p.out.find('\x07'), std::string::npos) << p.out;
  EXPECT_THAT(p.out, HasSubstr("ff\\x1b[2J\\x07mpeg[7]"));
}

TEST(HistoryCliPrint, TableOfEveryRecordInTimeOrder) {
  HistoryDir h;
  Printed p = print(h.dir(), OutputFormat::table);
  EXPECT_EQ(p.code, 0) << p.err;
  EXPECT_EQ(p.err, "");
  auto rows = lines(p.out);
  ASSERT_EQ(rows.size(), 9u) << p.out;
  EXPECT_EQ(words(rows[0]), (std::vector<std::string>{"TIME", "UNIT", "TYPE", "RSS", "SWAP",
                                                      "USAGE", "LIMIT", "PROCS", "DETAIL"}));
  EXPECT_EQ(words(rows[1]),
            (std::vector<std::string>{"2026-11-30", "00:00:05", "-", "agent_start", "-", "-", "-",
                                      "-", "-", "version=0.1.0", "pid=42",
                                      "config=/etc/mobasher-agent/config.json"}));
  EXPECT_EQ(words(rows[2]),
            (std::vector<std::string>{"2026-11-30", "00:00:10", "archiver@ch1.service", "sample",
                                      "1.00GiB", "0B", "1.12GiB", "2.00GiB", "2", "ffmpeg[1234]",
                                      "1.20GiB"}));
  EXPECT_EQ(words(rows[3]),
            (std::vector<std::string>{"2026-12-01", "10:00:05", "archiver@ch1.service", "sample",
                                      "1.50GiB", "8.00MiB", "-", "2.00GiB", "2", "ffmpeg[1234]",
                                      "1.20GiB", "restarts=age:2"}));
  EXPECT_EQ(words(rows[4]),
            (std::vector<std::string>{"2026-12-01", "10:00:05", "recorder@ch2.service", "sample",
                                      "512.00MiB", "0B", "-", "1.50GiB", "1"}));
  EXPECT_EQ(words(rows[5]),
            (std::vector<std::string>{"2026-12-01", "10:00:05", "-", "sample", "-", "-", "-", "-",
                                      "-", "mem_total=16.00GiB", "mem_available=9.00GiB",
                                      "swap_total=0B", "swap_free=0B"}));
  EXPECT_EQ(words(rows[6]), (std::vector<std::string>{
                                "2026-12-01", "10:00:06", "archiver@ch1.service", "alert_firing",
                                "-", "-", "-", "-", "-", "alert=MobasherUnitMemoryHigh",
                                "severity=warning", "value=1.60GiB", "threshold=1.50GiB"}));
  EXPECT_THAT(rows[7], HasSubstr("restart  "));
  EXPECT_THAT(rows[7], HasSubstr("cause=age total=3"));
  EXPECT_THAT(rows[8], HasSubstr("action=restart error=\"timeout, 25s\""));
  // Fixed columns: every row's TYPE and DETAIL start under the header's.
  size_t type = rows[0].find("TYPE"), rss = rows[0].find("RSS");
  for (size_t i = 1; i < rows.size(); ++i) {
    EXPECT_NE(rows[i][type], ' ') << rows[i];
    EXPECT_EQ(rows[i].substr(type - 2, 2), "  ") << rows[i];
    EXPECT_EQ(rows[i].substr(rss - 2, 2), "  ") << rows[i];
    EXPECT_NE(rows[i][rss], ' ') << rows[i];
  }
}

TEST(HistoryCliPrint, CsvQuotesAsRfc4180) {
  HistoryDir h;
  Printed p = print(h.dir(), OutputFormat::csv);
  EXPECT_EQ(p.code, 0) << p.err;
  auto rows = lines(p.out);
  ASSERT_EQ(rows.size(), 9u) << p.out;
  EXPECT_EQ(rows[0],
            "ts,type,unit,rss,swap,usage,working_set,limit,processes,top_pid,top_comm,top_rss,"
            "detail");
  EXPECT_EQ(rows[1],
            "2026-11-30T00:00:05.000Z,agent_start,,,,,,,,,,,version=0.1.0 pid=42 "
            "config=/etc/mobasher-agent/config.json");
  EXPECT_EQ(rows[2],
            "2026-11-30T00:00:10.000Z,sample,archiver@ch1.service,1073741824,0,1200000000,"
            "1100000000,2147483648,2,1234,ffmpeg,1288490188,");
  EXPECT_EQ(rows[5],
            "2026-12-01T10:00:05.000Z,sample,,,,,,,,,,,mem_total=17179869184 "
            "mem_available=9663676416 swap_total=0 swap_free=0");
  EXPECT_EQ(rows[6],
            "2026-12-01T10:00:06.000Z,alert_firing,archiver@ch1.service,,,,,,,,,,"
            "alert=MobasherUnitMemoryHigh severity=warning value=1717986918 threshold=1610612736");
  EXPECT_EQ(rows[8],
            "2026-12-01T10:00:09.000Z,action_failed,archiver@ch1.service,,,,,,,,,,"
            "\"action=restart error=\"\"timeout, 25s\"\"\"");
}

TEST(HistoryCliPrint, JsonIsOneArrayOfTheStoredRecords) {
  HistoryDir h;
  Printed p = print(h.dir(), OutputFormat::json);
  EXPECT_EQ(p.code, 0) << p.err;
  EXPECT_EQ(p.out.front(), '[');
  auto j = nlohmann::json::parse(p.out);
  ASSERT_TRUE(j.is_array());
  std::vector<std::string> all = kRotated;
  all.insert(all.end(), kCurrent.begin(), kCurrent.end());
  ASSERT_EQ(j.size(), all.size());
  for (size_t i = 0; i < all.size(); ++i) EXPECT_EQ(j[i], nlohmann::json::parse(all[i])) << i;
  EXPECT_THAT(p.out, HasSubstr(kCurrent[0] + ",\n" + kCurrent[1]));  // as stored, byte for byte
}

TEST(HistoryCliPrint, UnitWithOrWithoutServiceSuffix) {
  HistoryDir h;
  Printed a = print(h.dir(), OutputFormat::table, "archiver@ch1");
  Printed b = print(h.dir(), OutputFormat::table, "archiver@ch1.service");
  EXPECT_EQ(a.code, 0) << a.err;
  EXPECT_EQ(a.out, b.out);
  auto rows = lines(a.out);
  ASSERT_EQ(rows.size(), 6u) << a.out;
  EXPECT_EQ(words(rows[0]), (std::vector<std::string>{"TIME", "TYPE", "RSS", "SWAP", "USAGE",
                                                      "LIMIT", "PROCS", "DETAIL"}));
  std::vector<std::string> types;
  for (size_t i = 1; i < rows.size(); ++i) types.push_back(words(rows[i])[2]);
  EXPECT_THAT(types, ElementsAre("sample", "sample", "alert_firing", "restart", "action_failed"));
  EXPECT_THAT(rows[1], ::testing::Not(HasSubstr("archiver@ch1.service")));

  auto j = nlohmann::json::parse(print(h.dir(), OutputFormat::json, "recorder@ch2").out);
  ASSERT_EQ(j.size(), 1u);
  EXPECT_EQ(j[0]["unit"], "recorder@ch2.service");
}

TEST(HistoryCliPrint, ProcFallbackUnitByItsExactName) {
  HistoryDir h(
      joined(kCurrent) +
      R"({"ts":"2026-12-01T10:00:10.000Z","type":"sample","unit":"archiver@ch9","rss":1,"swap":0,"limit":0,"processes":1})"
      "\n");
  auto j = nlohmann::json::parse(print(h.dir(), OutputFormat::json, "archiver@ch9").out);
  ASSERT_EQ(j.size(), 1u);
  EXPECT_EQ(j[0]["unit"], "archiver@ch9");
}

TEST(HistoryCliPrint, TimeRangeIsInclusive) {
  HistoryDir h;
  auto j = nlohmann::json::parse(
      print(h.dir(), OutputFormat::json, "", utc(2026, 12, 1, 10, 0, 6), utc(2026, 12, 1, 10, 0, 7))
          .out);
  ASSERT_EQ(j.size(), 2u);
  EXPECT_EQ(j[0]["type"], "alert_firing");
  EXPECT_EQ(j[1]["type"], "restart");
}

TEST(HistoryCliPrint, GarbageLinesAreSkippedCountedAndReported) {
  HistoryDir h(
      kCurrent[0] + "\n" + "this is not a record\n" +
      R"({"ts":"2026-12-01T10:00:06.000Z","type":"sample","unit":"archiver@ch1.service","rss":12 oops})"
      "\n" +
      kCurrent[4] + "\n");
  Printed p = print(h.dir(), OutputFormat::json);
  EXPECT_EQ(p.code, 0);
  EXPECT_EQ(p.err, "history: 2 unreadable records skipped\n");
  auto j = nlohmann::json::parse(p.out);
  ASSERT_EQ(j.size(), 4u);  // two rotated, two current
  EXPECT_EQ(j[3]["type"], "restart");
}

TEST(HistoryCliPrint, MissingDirectory) {
  FixtureTree fx;
  Printed p = print(fx.root() / "history", OutputFormat::table);
  EXPECT_EQ(p.code, 1);
  EXPECT_EQ(p.out, "");
  EXPECT_EQ(p.err, "no history in " + (fx.root() / "history").string() + "\n");
}

TEST(HistoryCliPrint, NoMatchingRecordsPrintsTheHeader) {
  HistoryDir h;
  Printed p =
      print(h.dir(), OutputFormat::table, "archiver@ch7", utc(2026, 12, 1), utc(2026, 12, 2));
  EXPECT_EQ(p.code, 0);
  auto rows = lines(p.out);
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(words(rows[0])[0], "TIME");
  EXPECT_THAT(p.err, HasSubstr("(no records of archiver@ch7.service from "
                               "2026-12-01T00:00:00.000Z to 2026-12-02T00:00:00.000Z)"));
  Printed js = print(h.dir(), OutputFormat::json, "", utc(2020, 1, 1), utc(2020, 1, 2));
  EXPECT_EQ(js.code, 0);
  EXPECT_EQ(nlohmann::json::parse(js.out), nlohmann::json::array());
}

TEST(HistoryCliPrint, ColourOnlyWhenAsked) {
  HistoryDir h;
  HistoryFilter f;
  f.since = utc(2026, 11, 29);
  f.until = utc(2026, 12, 2);
  std::ostringstream plain, coloured, err;
  print_history(h.dir(), f, OutputFormat::table, plain, err, false);
  print_history(h.dir(), f, OutputFormat::table, coloured, err, true);
  EXPECT_EQ(plain.str().find('\033'), std::string::npos);
  auto rows = lines(coloured.str());
  ASSERT_EQ(rows.size(), 9u);
  EXPECT_EQ(rows[6].rfind("\033[33m", 0), 0u) << rows[6];  // warning alert firing
  EXPECT_EQ(rows[8].rfind("\033[31m", 0), 0u) << rows[8];  // action failed
  EXPECT_EQ(rows[3].find('\033'), std::string::npos);      // a sample
}

}  // namespace
}  // namespace mobasher
