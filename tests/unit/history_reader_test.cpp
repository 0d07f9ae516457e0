// The history reader: files in time order, filters, bad lines and files.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "fixtures/history_store.hpp"

namespace mobasher {
namespace {

using namespace fixtures;
using std::chrono::hours;
using std::chrono::milliseconds;
using namespace std::chrono_literals;
using ::testing::ElementsAre;
using ::testing::ElementsAreArray;
using ::testing::IsEmpty;
using ::testing::SizeIs;
using ::testing::StartsWith;

// --- reader ---------------------------------------------------------------------------------

class HistoryReaderFiles : public HistoryStore {
 protected:
  // Three rotated hours of records every 10 min (T0, T0+1h, T0+2h) and current.jsonl at T0+3h.
  void SetUp() override {
    fs::create_directories(dir());
    for (int h = 0; h < 4; ++h) {
      std::vector<std::string> hour;
      for (int m = 0; m < 60; m += 10) {
        hour.push_back(rec(at(hours(h) + std::chrono::minutes(m)), m / 10));
        all_.push_back(hour.back());
      }
      char name[64];
      std::snprintf(name, sizeof name, "history-20261201T%02d0000Z.jsonl.gz", h);
      if (h < 3)
        write_gz(dir() / name, lines_of(hour));
      else
        write("current.jsonl", lines_of(hour));
    }
  }
  std::vector<std::string> all_;
};

TEST_F(HistoryReaderFiles, ReadsEveryFileInTimeOrder) {
  auto r = read_all(dir());
  EXPECT_THAT(r.lines, ElementsAreArray(all_));
  EXPECT_EQ(r.stats.files, 4u);
  EXPECT_EQ(r.stats.lines, 24u);
  EXPECT_EQ(r.stats.matched, 24u);
  EXPECT_THAT(r.stats.errors, IsEmpty());
}

TEST_F(HistoryReaderFiles, TimeRangeSkipsFilesByTheirNames) {
  HistoryFilter f;
  f.since = at(hours(1) + std::chrono::minutes(10));
  f.until = at(hours(1) + std::chrono::minutes(20));  // inclusive
  auto r = read_all(dir(), f);
  EXPECT_THAT(r.lines, ElementsAre(all_[7], all_[8]));
  EXPECT_EQ(r.stats.files, 1u);  // neither T0 (ends at T0+1h) nor T0+2h was opened
  EXPECT_EQ(r.stats.lines, 4u);  // and the T0+1h file was left after the first record past until

  f.since = at(hours(2) + std::chrono::minutes(45));
  f.until = WallTime::max();
  r = read_all(dir(), f);
  EXPECT_THAT(r.lines, ElementsAreArray(all_.begin() + 17, all_.end()));
  EXPECT_EQ(r.stats.files, 2u);

  f.since = at(-hours(5));
  f.until = at(-hours(1));
  r = read_all(dir(), f);
  EXPECT_THAT(r.lines, IsEmpty());
  EXPECT_EQ(r.stats.files, 0u);
}

TEST_F(HistoryReaderTest, UnitFilterMatchesTheUnitMemberExactly) {
  std::vector<std::string> recs = {
      rec(at(0s), 1, "a.service"),       rec(at(0s), 2, "a.service2"),
      rec(at(0s), 3, "b.service"),       rec(at(1s), 4, "a.service", "restart"),
      rec(at(2s), 5, "", "agent_start"), rec(at(3s), 6, "a.servic"),
  };
  write("current.jsonl", lines_of(recs));
  HistoryFilter f;
  f.unit = "a.service";
  auto r = read_all(dir(), f);
  EXPECT_THAT(r.lines, ElementsAre(recs[0], recs[3]));
  EXPECT_EQ(r.stats.lines, 6u);
  EXPECT_EQ(r.stats.bad_lines, 0u);
}

TEST_F(HistoryReaderTest, SamplesAndEventsCanBeLeftOut) {
  std::vector<std::string> recs = {rec(at(0s), 1), rec(at(1s), 2, "a.service", "restart"),
                                   rec(at(2s), 3, "", "agent_start"), rec(at(3s), 4),
                                   rec(at(4s), 5, "a.service", "samples")};
  write("current.jsonl", lines_of(recs));
  HistoryFilter f;
  f.samples = false;
  EXPECT_THAT(read_all(dir(), f).lines, ElementsAre(recs[1], recs[2], recs[4]));
  f.samples = true;
  f.events = false;
  EXPECT_THAT(read_all(dir(), f).lines, ElementsAre(recs[0], recs[3]));
}

TEST_F(HistoryReaderFiles, SinkReturningFalseStopsTheRead) {
  std::vector<std::string> got;
  auto stats = read_history(dir(), {}, [&](std::string_view l) {
    got.emplace_back(l);
    return got.size() < 2;
  });
  EXPECT_THAT(got, ElementsAre(all_[0], all_[1]));
  EXPECT_EQ(stats.matched, 2u);
  EXPECT_EQ(stats.lines, 2u);
  EXPECT_EQ(stats.files, 1u);
}

TEST_F(HistoryReaderTest, BadLinesAreCountedAndSkipped) {
  fs::create_directories(dir());
  std::string huge = "{\"ts\":\"2026-12-01T00:00:01.000Z\",\"type\":\"sample\",\"x\":\"" +
                     std::string(1100000, 'x') + "\"}";
  write_gz(dir() / "history-20261201T000000Z.jsonl.gz",
           rec(at(0s), 1) + "\nnot json at all\n{\"ts\":\"yesterday\",\"type\":\"sample\"}\n" +
               huge + "\n\n" + rec(at(2s), 2) + "\n" + rec(at(3s), 3).substr(0, 20));
  write("current.jsonl", rec(at(hours(1)), 4) + "\n" + rec(at(hours(1) + 15s), 5).substr(0, 30));
  auto r = read_all(dir());
  EXPECT_THAT(r.lines, ElementsAre(rec(at(0s), 1), rec(at(2s), 2), rec(at(hours(1)), 4)));
  // garbage, a bad ts, the 1 MiB line, the empty line, the torn end of a rotated file; the
  // unfinished last line of current.jsonl is a write in progress, not a bad line.
  EXPECT_EQ(r.stats.bad_lines, 5u);
  EXPECT_EQ(r.stats.lines, 8u);
  EXPECT_THAT(r.stats.errors, IsEmpty());
}

TEST_F(HistoryReaderTest, CorruptGzipFileIsReportedAndReadingGoesOn) {
  fs::create_directories(dir());
  write_gz(dir() / "history-20261201T000000Z.jsonl.gz", rec(at(0s), 1) + "\n");
  // A gzip header, then bytes that are no deflate stream.
  write("history-20261201T010000Z.jsonl.gz",
        std::string("\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\x03", 10) + std::string(64, '\xff'));
  write("history-20261201T020000Z.jsonl.gz", rec(at(hours(2)), 2) + "\n");  // not gzip at all
  write_gz(dir() / "history-20261201T030000Z.jsonl.gz", rec(at(hours(3)), 3) + "\n");
  auto r = read_all(dir());
  EXPECT_THAT(r.lines, ElementsAre(rec(at(0s), 1), rec(at(hours(3)), 3)));
  ASSERT_THAT(r.stats.errors, SizeIs(2));
  EXPECT_THAT(r.stats.errors[0],
              StartsWith((dir() / "history-20261201T010000Z.jsonl.gz").string() + ": "));
  EXPECT_EQ(r.stats.errors[1],
            (dir() / "history-20261201T020000Z.jsonl.gz").string() + ": not in gzip format");
  EXPECT_EQ(r.stats.files, 4u);
}

TEST_F(HistoryReaderTest, MissingDirectoryReadsNothing) {
  EXPECT_THAT(list_history_files(dir()), IsEmpty());
  auto r = read_all(dir());
  EXPECT_THAT(r.lines, IsEmpty());
  EXPECT_THAT(r.stats.errors, IsEmpty());
}

TEST_F(HistoryReaderTest, ListsRotatedFilesByStartAndSequenceThenCurrent) {
  for (const char* name :
       {"history-20261201T000000Z-10.jsonl.gz", "history-20261201T000000Z-2.jsonl.gz",
        "history-20261201T000000Z.jsonl.gz", "history-20261201T000000Z-1.jsonl",
        "history-20261130T235959Z.jsonl.gz", "history-20261201T000001Z.jsonl",
        "history-20261201T000001Z.jsonl.gz", "history-20261201T000002Z.jsonl.gz.tmp",
        "history-2026120T000000Z.jsonl.gz", "history-20261301T000000Z.jsonl.gz",
        "history-20261201T000000Z-01.jsonl.gz", "history-20261201T000000Z.json", "other.jsonl"})
    write(name, "");
  write("current.jsonl", rec(at(90s)) + "\n");
  std::vector<std::string> got;
  for (const auto& f : list_history_files(dir()))
    got.push_back(f.path.filename().string() + (f.compressed ? " gz" : "") +
                  (f.current ? " current" : ""));
  EXPECT_THAT(
      got,
      ElementsAre("history-20261130T235959Z.jsonl.gz gz", "history-20261201T000000Z.jsonl.gz gz",
                  "history-20261201T000000Z-1.jsonl", "history-20261201T000000Z-2.jsonl.gz gz",
                  "history-20261201T000000Z-10.jsonl.gz gz",
                  "history-20261201T000001Z.jsonl",  // the plain one of the pair
                  "current.jsonl current"));
  auto files = list_history_files(dir());
  EXPECT_EQ(files[0].start, at(-1s));
  EXPECT_EQ(files.back().start, at(90s));
  EXPECT_EQ(files.back().bytes, rec(at(90s)).size() + 1);
}

TEST(HistoryRecordTime, ParsesTheFixedPrefixOnly) {
  WallTime t;
  ASSERT_TRUE(record_time("{\"ts\":\"2026-12-01T08:30:00.250Z\",\"type\":\"sample\"}", t));
  EXPECT_EQ(t, kHistoryT0 + hours(8) + std::chrono::minutes(30) + milliseconds(250));
  ASSERT_TRUE(record_time("{\"ts\":\"2024-02-29T23:59:59.999Z\",", t));
  EXPECT_EQ(t, WallClock::from_time_t(1709251199) + milliseconds(999));
  for (const char* bad : {"", "{\"ts\":\"2026-12-01T08:30:00.250", "{\"ts\":\"yesterday\"}",
                          "{\"ts\":\"2026-13-01T08:30:00.250Z\",\"type\":\"sample\"}",
                          "{\"ts\":\"2026-02-30T08:30:00.250Z\",\"type\":\"sample\"}",
                          "{\"ts\":\"2026-12-01T24:00:00.000Z\",\"type\":\"sample\"}",
                          "{\"ts\":\"2026-12-01T08:30:00.250\",\"type\":\"sample\"}",
                          "{\"ts\":\"2026-12-01 08:30:00.250Z\",\"type\":\"sample\"}",
                          "{\"ts\": \"2026-12-01T08:30:00.250Z\",\"type\":\"sample\"}",
                          "{\"ts\":\"2026-12-01T08:30:00.250Zx,\"type\":\"sample\"}"})
    EXPECT_FALSE(record_time(bad, t)) << bad;
}

}  // namespace
}  // namespace mobasher
