#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstdio>
#include <thread>

#include "fixtures/history_store.hpp"

namespace mobasher {
namespace {

using namespace fixtures;
using std::chrono::hours;
using std::chrono::milliseconds;
using std::chrono::seconds;
using namespace std::chrono_literals;
using ::testing::ElementsAre;
using ::testing::ElementsAreArray;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::SizeIs;
using ::testing::StartsWith;

// --- writer ---------------------------------------------------------------------------------

TEST_F(HistoryWriterTest, AppendedRecordsAreReadBackInOrderAfterFlush) {
  std::vector<std::string> want = {rec(at(0ms), 1), rec(at(15s), 2, "b.service"),
                                   rec(at(15s), 0, "a.service", "restart")};
  HistoryWriter w(opts(), clock());
  for (const auto& r : want) w.append(r);
  ASSERT_TRUE(w.flush(kWait));

  EXPECT_EQ(slurp(dir() / "current.jsonl"), lines_of(want));
  auto r = read_all(dir());
  EXPECT_THAT(r.lines, ElementsAreArray(want));
  EXPECT_EQ(r.stats.files, 1u);
  EXPECT_EQ(r.stats.bad_lines, 0u);
  HistoryStatus s = w.status();
  EXPECT_EQ(s.records_written, 3u);
  EXPECT_EQ(s.pending, 0u);
  EXPECT_EQ(s.files, 1u);
  EXPECT_EQ(s.bytes, lines_of(want).size());
  EXPECT_EQ(s.error, "");
  EXPECT_EQ(s.write_errors, 0u);
}

TEST_F(HistoryWriterTest, ManyAppendsAreWrittenByOneFlush) {
  std::vector<std::string> want;
  HistoryWriter w(opts(), clock());
  for (int i = 0; i < 2000; ++i) {
    want.push_back(rec(at(milliseconds(i)), i));
    w.append(want.back());
  }
  EXPECT_EQ(w.status().pending, 2000u);  // append does no I/O: all wait for the thread
  EXPECT_EQ(w.status().records_written, 0u);
  ASSERT_TRUE(w.flush(kWait));
  EXPECT_EQ(w.status().records_written, 2000u);
  EXPECT_EQ(w.status().pending, 0u);
  EXPECT_EQ(slurp(dir() / "current.jsonl"), lines_of(want));
  EXPECT_TRUE(w.flush(kWait));  // nothing new: returns at once
}

TEST_F(HistoryWriterTest, DestructorWritesWhatIsPendingAndARestartAppends) {
  std::vector<std::string> want = {rec(at(0s), 1), rec(at(15s), 2)};
  {
    HistoryWriter w(opts(), clock());
    w.append(want[0]);
    w.append(want[1]);
  }
  EXPECT_EQ(slurp(dir() / "current.jsonl"), lines_of(want));
  HistoryWriter again(opts(), clock());
  EXPECT_EQ(again.status().torn_lines, 0u);
  EXPECT_EQ(again.status().bytes, lines_of(want).size());
  want.push_back(rec(at(30s), 3));
  again.append(want.back());
  ASSERT_TRUE(again.flush(kWait));
  EXPECT_EQ(slurp(dir() / "current.jsonl"), lines_of(want));
}

TEST_F(HistoryWriterTest, TornLastLineIsCutOffAtStart) {
  std::vector<std::string> kept = {rec(at(0s), 1), rec(at(15s), 2)};
  write("current.jsonl", lines_of(kept) + "{\"ts\":\"2026-12-01T00:00:30.000Z\",\"ty");
  HistoryWriter w(opts(), clock());
  EXPECT_EQ(w.status().torn_lines, 1u);
  EXPECT_EQ(w.status().error, "");
  EXPECT_EQ(slurp(dir() / "current.jsonl"), lines_of(kept));

  kept.push_back(rec(at(45s), 3));
  w.append(kept.back());
  ASSERT_TRUE(w.flush(kWait));
  EXPECT_EQ(slurp(dir() / "current.jsonl"), lines_of(kept));
  EXPECT_THAT(read_all(dir()).lines, ElementsAreArray(kept));
}

TEST_F(HistoryWriterTest, TrailingZeroBytesAreDroppedAtStart) {
  std::string whole = lines_of({rec(at(0s), 1), rec(at(15s), 2)});
  write("current.jsonl", whole + std::string(4096, '\0'));
  {
    HistoryWriter w(opts(), clock());
    EXPECT_EQ(w.status().torn_lines, 0u);  // the last record was whole
    EXPECT_EQ(slurp(dir() / "current.jsonl"), whole);
  }
  // A torn record followed by zeros: both go, and the torn record is counted.
  write("current.jsonl", whole + "{\"ts\":\"2026-12" + std::string(8192 + 100, '\0'));
  HistoryWriter w(opts(), clock());
  EXPECT_EQ(w.status().torn_lines, 1u);
  EXPECT_EQ(slurp(dir() / "current.jsonl"), whole);
}

TEST_F(HistoryWriterTest, RotatesBySizeIntoGzipFilesReadInTimeOrder) {
  HistoryOptions o = opts();
  o.max_file_size = 200;  // records are 75 bytes: every file gets 3
  HistoryWriter w(o, clock());
  std::vector<std::string> want;
  for (int i = 0; i < 11; ++i) {
    want.push_back(rec(at(seconds(i)), i % 10));
    w.append(want.back());
    ASSERT_TRUE(w.flush(kWait));
  }
  EXPECT_THAT(names(), ElementsAre("current.jsonl", "history-20261201T000000Z.jsonl.gz",
                                   "history-20261201T000003Z.jsonl.gz",
                                   "history-20261201T000006Z.jsonl.gz"));
  EXPECT_EQ(gunzip(dir() / "history-20261201T000003Z.jsonl.gz"),
            lines_of({want[3], want[4], want[5]}));
  EXPECT_EQ(slurp(dir() / "current.jsonl"), lines_of({want[9], want[10]}));

  auto files = list_history_files(dir());
  ASSERT_THAT(files, SizeIs(4));
  EXPECT_TRUE(files[0].compressed);
  EXPECT_EQ(files[1].start, at(3s));
  EXPECT_TRUE(files[3].current);
  EXPECT_EQ(files[3].start, at(9s));

  auto r = read_all(dir());
  EXPECT_THAT(r.lines, ElementsAreArray(want));
  EXPECT_EQ(r.stats.files, 4u);
  EXPECT_THAT(r.stats.errors, IsEmpty());
  HistoryStatus s = w.status();
  EXPECT_EQ(s.files, 4u);
  EXPECT_EQ(s.bytes, bytes_on_disk());
  EXPECT_EQ(s.records_written, 11u);
}

TEST_F(HistoryWriterTest, FilesStartingInOneSecondGetASequenceSuffix) {
  HistoryOptions o = opts();
  o.max_file_size = 1;  // every batch rotates the one before
  HistoryWriter w(o, clock());
  std::vector<std::string> want;
  for (int i = 0; i < 13; ++i) {
    want.push_back(rec(at(milliseconds(10 * i)), i % 10));
    w.append(want.back());
    ASSERT_TRUE(w.flush(kWait));
  }
  auto files = list_history_files(dir());
  ASSERT_THAT(files, SizeIs(13));
  EXPECT_EQ(files[0].path.filename(), "history-20261201T000000Z.jsonl.gz");
  EXPECT_EQ(files[1].path.filename(), "history-20261201T000000Z-1.jsonl.gz");
  EXPECT_EQ(files[11].path.filename(), "history-20261201T000000Z-11.jsonl.gz");  // after -2
  EXPECT_EQ(gunzip(files[11].path), want[11] + "\n");
  EXPECT_THAT(read_all(dir()).lines, ElementsAreArray(want));
}

TEST_F(HistoryWriterTest, RotatesByAgeOfTheFirstRecordOnTheClock) {
  HistoryOptions o = opts();
  o.max_age = hours(24 * 10);
  o.max_files = 10;
  ASSERT_EQ(o.rotate_age(), hours(24));
  HistoryWriter w(o, clock());
  std::vector<std::string> want;
  for (auto step : {hours(0), hours(23), hours(2)}) {
    set_now(WallTime{} + milliseconds(now_ms_.load()) + step);
    want.push_back(rec(WallTime{} + milliseconds(now_ms_.load()), 1));
    w.append(want.back());
    ASSERT_TRUE(w.flush(kWait));
    if (step == hours(23)) {
      EXPECT_THAT(names(), ElementsAre("current.jsonl"));  // 23 h old: not yet
    }
  }
  EXPECT_THAT(names(), ElementsAre("current.jsonl", "history-20261201T000000Z.jsonl.gz"));
  EXPECT_EQ(gunzip(dir() / "history-20261201T000000Z.jsonl.gz"), lines_of({want[0], want[1]}));
  EXPECT_EQ(slurp(dir() / "current.jsonl"), want[2] + "\n");
}

TEST(HistoryRotateAge, SplitsMaxAgeOverMaxFilesButIsAtLeastAMinute) {
  HistoryOptions o;
  EXPECT_EQ(o.rotate_age(), hours(24));  // 30 days over 30 files
  o.max_age = std::chrono::minutes(10);
  EXPECT_EQ(o.rotate_age(), seconds(60));
}

TEST_F(HistoryWriterTest, RetentionKeepsTheNewestMaxFiles) {
  HistoryOptions o = opts();
  o.max_file_size = 1;
  o.max_files = 2;
  HistoryWriter w(o, clock());
  std::vector<std::string> want;
  for (int i = 0; i < 6; ++i) {
    want.push_back(rec(at(seconds(i)), i));
    w.append(want.back());
    ASSERT_TRUE(w.flush(kWait));
  }
  EXPECT_THAT(names(), ElementsAre("current.jsonl", "history-20261201T000003Z.jsonl.gz",
                                   "history-20261201T000004Z.jsonl.gz"));
  EXPECT_THAT(read_all(dir()).lines, ElementsAre(want[3], want[4], want[5]));
  EXPECT_EQ(w.status().files, 3u);
  EXPECT_EQ(w.status().bytes, bytes_on_disk());
}

TEST_F(HistoryWriterTest, RetentionRemovesFilesWhoseLastRecordIsOlderThanMaxAge) {
  auto day = hours(24);
  fs::create_directories(dir());
  write_gz(dir() / "history-20261021T000000Z.jsonl.gz",
           rec(kHistoryT0 - 41 * day) + "\n");  // ends -36d
  write_gz(dir() / "history-20261026T000000Z.jsonl.gz",
           rec(kHistoryT0 - 36 * day) + "\n");  // ends -21d
  write_gz(dir() / "history-20261110T000000Z.jsonl.gz", rec(kHistoryT0 - 21 * day) + "\n");
  write("current.jsonl", rec(kHistoryT0 - day) + "\n");
  HistoryOptions o = opts();
  o.max_age = 30 * day;
  HistoryWriter w(o, clock());
  EXPECT_THAT(names(), ElementsAre("current.jsonl", "history-20261026T000000Z.jsonl.gz",
                                   "history-20261110T000000Z.jsonl.gz"));
  EXPECT_EQ(w.status().files, 3u);
  EXPECT_EQ(w.status().bytes, bytes_on_disk());
}

TEST_F(HistoryWriterTest, RetentionRemovesTheOldestWhileTheTotalIsTooLarge) {
  fs::create_directories(dir());
  std::vector<std::string> rotated = {"history-20261201T000000Z.jsonl.gz",
                                      "history-20261201T010000Z.jsonl.gz",
                                      "history-20261201T020000Z.jsonl.gz"};
  for (size_t i = 0; i < rotated.size(); ++i)
    write_gz(dir() / rotated[i], rec(at(hours(i)), 1) + "\n" + rec(at(hours(i) + 15s), 2) + "\n");
  write("current.jsonl", rec(at(hours(3))) + "\n");
  uint64_t all = bytes_on_disk(), first = fs::file_size(dir() / rotated[0]);
  HistoryOptions o = opts();
  o.max_total_size = all - first;  // exactly fits once the oldest is gone
  HistoryWriter w(o, clock());
  EXPECT_THAT(names(), ElementsAre("current.jsonl", rotated[1], rotated[2]));
  EXPECT_EQ(w.status().bytes, all - first);
  EXPECT_EQ(w.status().files, 3u);
}

TEST_F(HistoryWriterTest, StartFinishesAnInterruptedRotationAndRemovesTmpFiles) {
  std::string plain = lines_of({rec(at(0s), 1), rec(at(15s), 2)});
  std::string pair = lines_of({rec(at(hours(1)), 3)});
  write("history-20261201T000000Z.jsonl", plain);  // renamed, never compressed
  write("history-20261201T010000Z.jsonl", pair);   // compressed, plain not yet removed
  write_gz(dir() / "history-20261201T010000Z.jsonl.gz", pair);
  write("history-20261201T020000Z.jsonl.gz.tmp", "half a gzip file");
  write("notes.txt", "not ours");
  HistoryWriter w(opts(), clock());
  EXPECT_THAT(names(), ElementsAre("current.jsonl", "history-20261201T000000Z.jsonl.gz",
                                   "history-20261201T010000Z.jsonl.gz", "notes.txt"));
  EXPECT_EQ(gunzip(dir() / "history-20261201T000000Z.jsonl.gz"), plain);
  EXPECT_EQ(gunzip(dir() / "history-20261201T010000Z.jsonl.gz"), pair);
  EXPECT_EQ(w.status().files, 3u);
  EXPECT_EQ(w.status().error, "");
}

TEST_F(HistoryWriterTest, FailedCompressionKeepsThePlainFileAndIsRetried) {
  // A directory where the compressed file is written: the .gz.tmp cannot be created.
  fs::create_directories(dir() / "history-20261201T000000Z.jsonl.gz.tmp");
  HistoryOptions o = opts();
  o.max_file_size = 1;
  HistoryWriter w(o, clock());
  std::vector<std::string> want = {rec(at(0s), 1), rec(at(1s), 2), rec(at(2s), 3)};
  w.append(want[0]);
  ASSERT_TRUE(w.flush(kWait));
  w.append(want[1]);
  ASSERT_TRUE(w.flush(kWait));  // the batch itself was written
  HistoryStatus s = w.status();
  EXPECT_EQ(s.error,
            (dir() / "history-20261201T000000Z.jsonl.gz.tmp").string() + ": Is a directory");
  EXPECT_EQ(s.write_errors, 1u);
  EXPECT_THAT(names(), ElementsAre("current.jsonl", "history-20261201T000000Z.jsonl",
                                   "history-20261201T000000Z.jsonl.gz.tmp"));
  EXPECT_THAT(read_all(dir()).lines, ElementsAre(want[0], want[1]));

  fs::remove(dir() / "history-20261201T000000Z.jsonl.gz.tmp");
  w.append(want[2]);
  ASSERT_TRUE(w.flush(kWait));  // the next rotation compresses both
  EXPECT_THAT(names(), ElementsAre("current.jsonl", "history-20261201T000000Z.jsonl.gz",
                                   "history-20261201T000001Z.jsonl.gz"));
  EXPECT_EQ(w.status().error, "");
  EXPECT_THAT(read_all(dir()).lines, ElementsAreArray(want));
  EXPECT_EQ(w.status().bytes, bytes_on_disk());
}

TEST_F(HistoryWriterTest, UnwritableDirectoryKeepsRecordsPendingUntilItWorks) {
  fx_.write("blocker", "a regular file where the state dir should be");
  HistoryOptions o = opts();
  o.dir = fx_.root() / "blocker" / "history";
  HistoryWriter w(o, clock());
  std::string current = (o.dir / "current.jsonl").string();
  EXPECT_EQ(w.status().error, current + ": Not a directory");
  EXPECT_EQ(w.status().error_since, kHistoryT0);

  std::vector<std::string> want = {rec(at(0s), 1), rec(at(15s), 2), rec(at(30s), 3)};
  set_now(at(40s));
  for (const auto& r : want) w.append(r);
  EXPECT_FALSE(w.flush(kWait));
  HistoryStatus s = w.status();
  EXPECT_EQ(s.error, current + ": Not a directory");
  EXPECT_EQ(s.error_since, kHistoryT0);  // when the failure began, not the last attempt
  EXPECT_EQ(s.pending, 3u);
  EXPECT_EQ(s.records_written, 0u);
  EXPECT_EQ(s.records_dropped, 0u);
  EXPECT_EQ(s.write_errors, 2u);  // the start and the flush

  fs::remove(fx_.root() / "blocker");
  ASSERT_TRUE(w.flush(kWait));
  s = w.status();
  EXPECT_EQ(s.error, "");
  EXPECT_EQ(s.pending, 0u);
  EXPECT_EQ(s.records_written, 3u);
  EXPECT_EQ(slurp(o.dir / "current.jsonl"), lines_of(want));
}

TEST_F(HistoryWriterTest, PendingRecordsAreBoundedWhileWritesFail) {
  fs::create_directories(dir() / "current.jsonl");  // the file cannot be opened for writing
  std::vector<std::string> all;
  for (int i = 0; i < 10; ++i) all.push_back(rec(at(seconds(15 * i)), i));
  HistoryOptions o = opts();
  o.max_pending_bytes = 3 * (all[0].size() + 1);
  HistoryWriter w(o, clock());
  EXPECT_THAT(w.status().error, HasSubstr("current.jsonl: Is a directory"));
  for (const auto& r : all) w.append(r);
  EXPECT_FALSE(w.flush(kWait));
  HistoryStatus s = w.status();
  EXPECT_EQ(s.pending, 3u);
  EXPECT_EQ(s.records_dropped, 7u);
  EXPECT_EQ(s.records_written, 0u);
  EXPECT_GE(s.write_errors, 2u);

  fs::remove(dir() / "current.jsonl");
  ASSERT_TRUE(w.flush(kWait));
  s = w.status();
  EXPECT_EQ(s.error, "");
  EXPECT_EQ(s.records_written, 3u);
  EXPECT_EQ(s.records_dropped, 7u);
  EXPECT_EQ(slurp(dir() / "current.jsonl"), lines_of({all[7], all[8], all[9]}));
  // Writing on after the recovery: the next record follows the kept ones.
  w.append(rec(at(200s), 9));
  ASSERT_TRUE(w.flush(kWait));
  EXPECT_EQ(slurp(dir() / "current.jsonl"), lines_of({all[7], all[8], all[9], rec(at(200s), 9)}));
}

// --- both at once -----------------------------------------------------------------------------

TEST_F(HistoryStore, ReadsWhileTheWriterRotatesSeeEachRecordOnceInOrder) {
  HistoryOptions o = opts();
  o.max_file_size = 1024;  // a rotation every ~14 records
  o.max_files = 100000;
  constexpr int kRecords = 1500;
  std::vector<std::string> want;
  for (int i = 0; i < kRecords; ++i) want.push_back(rec(at(milliseconds(i)), i));
  std::atomic<bool> done{false};
  {
    HistoryWriter w(o, clock());
    std::thread appender([&] {
      for (int i = 0; i < kRecords; ++i) {
        w.append(want[static_cast<size_t>(i)]);
        if (i % 5 == 4) w.flush(kWait);
      }
      w.flush(kWait);
      done = true;
    });
    int reads = 0;
    std::string problem;  // no ASSERT here: the appender must be joined first
    while ((!done || reads == 0) && problem.empty()) {
      auto r = read_all(dir());
      ++reads;
      if (!r.stats.errors.empty()) problem = r.stats.errors[0];
      for (size_t i = 1; i < r.lines.size() && problem.empty(); ++i)
        if (r.lines[i - 1].substr(0, 31) >= r.lines[i].substr(0, 31))
          problem = "read " + std::to_string(reads) + ": " + r.lines[i - 1] + " then " + r.lines[i];
    }
    appender.join();
    EXPECT_EQ(problem, "");
    EXPECT_EQ(w.status().records_written, static_cast<uint64_t>(kRecords));
  }
  EXPECT_THAT(read_all(dir()).lines, ElementsAreArray(want));
}

}  // namespace
}  // namespace mobasher
