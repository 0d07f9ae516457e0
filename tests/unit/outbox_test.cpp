#include "exporters/alerting/outbox.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

#include "fixtures/fixture_tree.hpp"
#include "fixtures/notifications.hpp"

namespace mobasher {
namespace {

namespace fs = std::filesystem;
using fixtures::firing;
using fixtures::FixtureTree;
using fixtures::repeat;
using fixtures::resolved;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::UnorderedElementsAre;

// "00000000000000000042.json": how the outbox names entry 42.
std::string name_of(uint64_t seq, const std::string& ext = ".json") {
  std::string digits = std::to_string(seq);
  return std::string(20 - digits.size(), '0') + digits + ext;
}

std::string read(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

// The file an earlier run would have written for entry seq.
std::string entry_file(uint64_t seq, const Notification& n) {
  return nlohmann::json{{"seq", seq}, {"notification", n.to_json()}}.dump() + "\n";
}

class OutboxTest : public ::testing::Test {
 protected:
  fs::path dir() const { return fx_.root() / "outbox" / "am"; }
  void write(const std::string& name, const std::string& content) {
    fx_.write(fs::path("outbox") / "am" / name, content);
  }
  bool exists(const std::string& name) const { return fs::exists(dir() / name); }
  std::vector<std::string> files() const {
    std::vector<std::string> out;
    for (const auto& e : fs::directory_iterator(dir())) out.push_back(e.path().filename());
    std::sort(out.begin(), out.end());
    return out;
  }
  // The entries, oldest first. Walks a copy whose entries it marks as not on disk first, so the
  // copy's pop_front leaves the real files alone.
  static std::vector<Outbox::Entry> entries(Outbox copy) {
    std::vector<Outbox::Entry> out;
    while (const Outbox::Entry* e = copy.front()) {
      out.push_back(*e);
      const_cast<Outbox::Entry*>(e)->on_disk = false;
      copy.pop_front();
    }
    return out;
  }
  static std::vector<uint64_t> seqs(const Outbox& box) {
    std::vector<uint64_t> out;
    for (const auto& e : entries(box)) out.push_back(e.seq);
    return out;
  }
  std::string push(Outbox& box, const Notification& n, bool head_in_flight = false) {
    std::string err;
    box.push(n, head_in_flight, err);
    return err;
  }

  FixtureTree fx_;
};

TEST_F(OutboxTest, PushWritesOneFilePerNotificationNamedBySequence) {
  Outbox box(dir(), 10);
  EXPECT_EQ(push(box, firing("ch1")), "");
  EXPECT_EQ(push(box, resolved("ch1", fixtures::kT0 + 90)), "");

  EXPECT_THAT(files(), ElementsAre(name_of(1), name_of(2)));
  EXPECT_EQ(read(dir() / name_of(1)), entry_file(1, firing("ch1")));
  EXPECT_EQ(read(dir() / name_of(2)), entry_file(2, resolved("ch1", fixtures::kT0 + 90)));
  ASSERT_NE(box.front(), nullptr);
  EXPECT_EQ(box.front()->seq, 1u);
  EXPECT_TRUE(box.front()->on_disk);
  EXPECT_EQ(box.front()->n.to_json(), firing("ch1").to_json());
  EXPECT_EQ(box.size(), 2u);
}

TEST_F(OutboxTest, ConstructorCreatesTheDirectoryAndReadsNothing) {
  write(name_of(1), entry_file(1, firing()));
  fs::remove_all(fx_.root() / "outbox" / "am");
  Outbox box(dir(), 10);
  EXPECT_TRUE(fs::is_directory(dir()));
  EXPECT_EQ(box.size(), 0u);
  EXPECT_EQ(box.front(), nullptr);
}

TEST_F(OutboxTest, LoadReadsWhatAnEarlierRunLeftOldestFirst) {
  {
    Outbox before(dir(), 10);
    push(before, firing("ch1"));
    push(before, firing("ch2"));
    push(before, resolved("ch1", fixtures::kT0 + 90));
  }
  Outbox after(dir(), 10);
  EXPECT_THAT(after.load(), IsEmpty());
  ASSERT_EQ(after.size(), 3u);
  EXPECT_THAT(seqs(after), ElementsAre(1, 2, 3));
  EXPECT_EQ(after.front()->n.to_json(), firing("ch1").to_json());
  EXPECT_TRUE(after.front()->on_disk);
  after.pop_front();
  EXPECT_EQ(after.front()->n.labels.at("channel"), "ch2");
  after.pop_front();
  EXPECT_EQ(after.front()->n.to_json(), resolved("ch1", fixtures::kT0 + 90).to_json());
}

TEST_F(OutboxTest, LoadOrdersBySequenceNumberNotDirectoryOrder) {
  write(name_of(33), entry_file(33, firing("ch33")));
  write(name_of(2), entry_file(2, firing("ch2")));
  write(name_of(10), entry_file(10, firing("ch10")));
  Outbox box(dir(), 10);
  EXPECT_THAT(box.load(), IsEmpty());
  EXPECT_THAT(seqs(box), ElementsAre(2, 10, 33));
  EXPECT_EQ(box.front()->n.labels.at("channel"), "ch2");
}

TEST_F(OutboxTest, SequenceContinuesAfterTheHighestLoadedEntry) {
  write(name_of(7), entry_file(7, firing()));
  Outbox box(dir(), 10);
  box.load();
  push(box, resolved("ch1", fixtures::kT0 + 90));
  EXPECT_THAT(seqs(box), ElementsAre(7, 8));
  EXPECT_TRUE(exists(name_of(8)));
}

TEST_F(OutboxTest, SequenceNeverReusesTheNumberOfASetAsideFile) {
  write(name_of(5), entry_file(5, firing()));
  write(name_of(9, ".corrupt"), "garbage");
  write(name_of(12, ".rejected"), entry_file(12, firing("ch2")));
  Outbox box(dir(), 10);
  box.load();
  push(box, firing("ch3"));
  EXPECT_THAT(seqs(box), ElementsAre(5, 13));
  EXPECT_EQ(read(dir() / name_of(12, ".rejected")), entry_file(12, firing("ch2")));
}

TEST_F(OutboxTest, SequenceAfterOnlySetAsideFiles) {
  write(name_of(41, ".rejected"), entry_file(41, firing()));
  Outbox box(dir(), 10);
  EXPECT_THAT(box.load(), IsEmpty());
  EXPECT_EQ(box.size(), 0u);
  push(box, firing());
  EXPECT_THAT(seqs(box), ElementsAre(42));
}

TEST_F(OutboxTest, CorruptFilesAreSetAsideAndTheGoodOnesAroundThemLoadInOrder) {
  write(name_of(1), entry_file(1, firing("ch1")));
  write(name_of(2), "{\"seq\": 2, \"notification\": {\"status\": \"firing\",");  // torn write
  write(name_of(3), entry_file(3, firing("ch3")));
  write(name_of(4), "[1, 2, 3]\n");  // valid JSON, not an entry
  write(name_of(5), entry_file(5, firing("ch5")));
  write(name_of(6), "");
  nlohmann::json bad_status = {{"seq", 7}, {"notification", firing("ch7").to_json()}};
  bad_status["notification"]["status"] = "maybe";
  write(name_of(7), bad_status.dump());
  write(name_of(8), entry_file(8, resolved("ch1", fixtures::kT0 + 90)));

  Outbox box(dir(), 10);
  auto problems = box.load();

  ASSERT_EQ(problems.size(), 4u);
  uint64_t bad[] = {2, 4, 6, 7};
  for (size_t i = 0; i < 4; ++i) {
    SCOPED_TRACE(name_of(bad[i]));
    EXPECT_EQ(problems[i].file, (dir() / name_of(bad[i])).string());
    EXPECT_EQ(problems[i].kept_as, (dir() / name_of(bad[i], ".corrupt")).string());
    EXPECT_FALSE(problems[i].error.empty());
    EXPECT_FALSE(exists(name_of(bad[i])));
    EXPECT_TRUE(exists(name_of(bad[i], ".corrupt")));
  }
  EXPECT_THAT(problems[3].error, HasSubstr("firing or resolved"));
  EXPECT_EQ(read(dir() / name_of(4, ".corrupt")), "[1, 2, 3]\n");  // kept as it was
  EXPECT_THAT(seqs(box), ElementsAre(1, 3, 5, 8));
  EXPECT_EQ(box.front()->n.labels.at("channel"), "ch1");
}

TEST_F(OutboxTest, EntryMissingAFieldIsCorrupt) {
  nlohmann::json doc = {{"seq", 1}, {"notification", firing().to_json()}};
  doc["notification"].erase("fingerprint");
  write(name_of(1), doc.dump());
  write(name_of(2), R"({"seq": 2})");
  Outbox box(dir(), 10);
  auto problems = box.load();
  ASSERT_EQ(problems.size(), 2u);
  EXPECT_THAT(problems[0].error, HasSubstr("fingerprint"));
  EXPECT_THAT(problems[1].error, HasSubstr("notification"));
  EXPECT_EQ(box.size(), 0u);
  EXPECT_THAT(files(), ElementsAre(name_of(1, ".corrupt"), name_of(2, ".corrupt")));
}

TEST_F(OutboxTest, LeftoverTmpFileOfAnInterruptedWriteIsRemoved) {
  write(name_of(1), entry_file(1, firing()));
  write(name_of(2) + ".tmp", entry_file(2, firing("ch2")).substr(0, 20));
  Outbox box(dir(), 10);
  EXPECT_THAT(box.load(), IsEmpty());
  EXPECT_THAT(files(), ElementsAre(name_of(1)));
  EXPECT_THAT(seqs(box), ElementsAre(1));
}

TEST_F(OutboxTest, FilesThatAreNotEntriesAreLeftAlone) {
  write("README", "not ours");
  write("42.json", entry_file(42, firing()));  // not 20 digits
  write("0000000000000000000x.json", "x");
  write(name_of(3) + ".bak", "old");
  Outbox box(dir(), 10);
  EXPECT_THAT(box.load(), IsEmpty());
  EXPECT_EQ(box.size(), 0u);
  EXPECT_THAT(files(), UnorderedElementsAre("README", "42.json", "0000000000000000000x.json",
                                            name_of(3) + ".bak"));
  push(box, firing());
  EXPECT_THAT(seqs(box), ElementsAre(1));
}

TEST_F(OutboxTest, LoadKeepsTheNewestWhenMoreThanMaxAreOnDisk) {
  for (uint64_t s = 1; s <= 5; ++s)
    write(name_of(s), entry_file(s, firing("ch" + std::to_string(s))));
  Outbox box(dir(), 3);
  EXPECT_THAT(box.load(), IsEmpty());
  EXPECT_THAT(seqs(box), ElementsAre(3, 4, 5));
  EXPECT_THAT(files(), ElementsAre(name_of(3), name_of(4), name_of(5)));
}

TEST_F(OutboxTest, LoadTwiceDoesNotDuplicate) {
  write(name_of(1), entry_file(1, firing()));
  Outbox box(dir(), 10);
  box.load();
  box.load();
  EXPECT_THAT(seqs(box), ElementsAre(1));
}

TEST_F(OutboxTest, LoadOfAMissingDirectoryIsEmpty) {
  fx_.write("not-a-dir", "x");
  Outbox box(fx_.root() / "not-a-dir", 10);
  EXPECT_THAT(box.load(), IsEmpty());
  EXPECT_EQ(box.size(), 0u);
}

// ---- coalescing ----

TEST_F(OutboxTest, ARepeatIsNotQueuedWhileAFiringOfTheSameAlertWaits) {
  Outbox box(dir(), 10);
  push(box, firing("ch1"));
  std::string err;
  EXPECT_EQ(box.push(repeat("ch1", fixtures::kT0 + 60), false, err), 0u);
  EXPECT_EQ(err, "");
  EXPECT_THAT(seqs(box), ElementsAre(1));
  EXPECT_THAT(files(), ElementsAre(name_of(1)));
  push(box, repeat("ch2", fixtures::kT0 + 60));  // another alert
  EXPECT_THAT(seqs(box), ElementsAre(1, 2));
  EXPECT_EQ(entries(box)[1].n.kind, NotificationKind::repeat);
}

TEST_F(OutboxTest, ARepeatIsNotQueuedBehindAnotherRepeat) {
  Outbox box(dir(), 10);
  push(box, repeat("ch1", fixtures::kT0 + 60));
  push(box, repeat("ch1", fixtures::kT0 + 120));
  push(box, repeat("ch1", fixtures::kT0 + 180));
  EXPECT_THAT(seqs(box), ElementsAre(1));
  EXPECT_THAT(files(), ElementsAre(name_of(1)));
  push(box, firing("ch2"));
  EXPECT_THAT(seqs(box), ElementsAre(1, 2));  // the ignored ones took no number
}

TEST_F(OutboxTest, ARepeatIsNotQueuedWhileTheFiringIsInFlight) {
  Outbox box(dir(), 10);
  push(box, firing("ch1"));
  push(box, repeat("ch1", fixtures::kT0 + 60), /*head_in_flight=*/true);
  EXPECT_THAT(seqs(box), ElementsAre(1));
}

TEST_F(OutboxTest, AResolvedReplacesQueuedRepeatsOfItsAlert) {
  Outbox box(dir(), 10);
  push(box, repeat("ch1", fixtures::kT0 + 60));
  push(box, repeat("ch2", fixtures::kT0 + 60));
  push(box, resolved("ch1", fixtures::kT0 + 90));
  EXPECT_THAT(seqs(box), ElementsAre(2, 3));
  EXPECT_EQ(box.front()->n.labels.at("channel"), "ch2");
  EXPECT_THAT(files(), ElementsAre(name_of(2), name_of(3)));  // the replaced one's file is gone
  push(box, firing("ch2"));
  EXPECT_THAT(seqs(box), ElementsAre(3, 4));
  EXPECT_EQ(box.front()->n.kind, NotificationKind::resolved);
}

TEST_F(OutboxTest, ARepeatInFlightAtTheHeadIsNotReplaced) {
  Outbox box(dir(), 10);
  push(box, repeat("ch1", fixtures::kT0 + 60));
  push(box, resolved("ch1", fixtures::kT0 + 90), /*head_in_flight=*/true);
  EXPECT_THAT(seqs(box), ElementsAre(1, 2));
  EXPECT_TRUE(exists(name_of(1)));
  // Once the head is no longer in flight (it failed, waits for a retry), it is just queued.
  push(box, firing("ch1"));
  EXPECT_THAT(seqs(box), ElementsAre(2, 3));
  EXPECT_FALSE(exists(name_of(1)));
}

TEST_F(OutboxTest, FiringAndResolvedAreNeverCoalesced) {
  Outbox box(dir(), 10);
  push(box, firing("ch1"));
  push(box, resolved("ch1", fixtures::kT0 + 90));
  push(box, firing("ch1"));
  push(box, resolved("ch1", fixtures::kT0 + 200));
  EXPECT_THAT(seqs(box), ElementsAre(1, 2, 3, 4));
}

// ---- overflow ----

TEST_F(OutboxTest, OverflowDropsTheOldestAndCountsThem) {
  Outbox box(dir(), 3);
  std::string err;
  EXPECT_EQ(box.push(firing("ch1"), false, err), 0u);
  EXPECT_EQ(box.push(firing("ch2"), false, err), 0u);
  EXPECT_EQ(box.push(firing("ch3"), false, err), 0u);
  EXPECT_EQ(box.push(firing("ch4"), false, err), 1u);
  EXPECT_EQ(box.push(firing("ch5"), false, err), 1u);
  EXPECT_EQ(err, "");
  EXPECT_THAT(seqs(box), ElementsAre(3, 4, 5));
  EXPECT_THAT(files(), ElementsAre(name_of(3), name_of(4), name_of(5)));
}

TEST_F(OutboxTest, OverflowNeverDropsTheHeadInFlight) {
  Outbox box(dir(), 2);
  push(box, firing("ch1"));
  push(box, firing("ch2"));
  std::string err;
  EXPECT_EQ(box.push(firing("ch3"), /*head_in_flight=*/true, err), 1u);
  EXPECT_THAT(seqs(box), ElementsAre(1, 3));
  EXPECT_THAT(files(), ElementsAre(name_of(1), name_of(3)));
}

// ---- pop_front ----

TEST_F(OutboxTest, PopFrontRemovesTheDeliveredFile) {
  Outbox box(dir(), 10);
  push(box, firing("ch1"));
  push(box, firing("ch2"));
  EXPECT_EQ(box.pop_front(), "");
  EXPECT_THAT(files(), ElementsAre(name_of(2)));
  EXPECT_EQ(box.front()->seq, 2u);
  box.pop_front();
  EXPECT_THAT(files(), IsEmpty());
  EXPECT_EQ(box.front(), nullptr);
  box.pop_front();  // empty: nothing happens
  EXPECT_EQ(box.size(), 0u);
}

TEST_F(OutboxTest, ARejectedHeadIsKeptForInspection) {
  Outbox box(dir(), 10);
  push(box, firing("ch1"));
  push(box, firing("ch2"));
  EXPECT_EQ(box.pop_front(/*keep_as_rejected=*/true), (dir() / name_of(1, ".rejected")).string());
  EXPECT_THAT(files(), ElementsAre(name_of(1, ".rejected"), name_of(2)));
  EXPECT_EQ(read(dir() / name_of(1, ".rejected")), entry_file(1, firing("ch1")));
  EXPECT_THAT(seqs(box), ElementsAre(2));
  // And a restart does not send it again.
  Outbox after(dir(), 10);
  EXPECT_THAT(after.load(), IsEmpty());
  EXPECT_THAT(seqs(after), ElementsAre(2));
}

TEST_F(OutboxTest, AtMostKeepSetAsideFilesAreKeptTheNewest) {
  for (uint64_t s = 1; s <= Outbox::kKeepSetAside; ++s) write(name_of(s, ".corrupt"), "x");
  Outbox box(dir(), 10);
  box.load();
  EXPECT_EQ(files().size(), Outbox::kKeepSetAside);
  push(box, firing());
  box.pop_front(/*keep_as_rejected=*/true);
  auto left = files();
  EXPECT_EQ(left.size(), Outbox::kKeepSetAside);
  EXPECT_FALSE(exists(name_of(1, ".corrupt")));  // the oldest went
  EXPECT_TRUE(exists(name_of(2, ".corrupt")));
  EXPECT_TRUE(exists(name_of(Outbox::kKeepSetAside + 1, ".rejected")));
}

TEST_F(OutboxTest, LoadTrimsSetAsideFilesIncludingTheNewCorruptOnes) {
  for (uint64_t s = 1; s <= Outbox::kKeepSetAside; ++s) write(name_of(s, ".rejected"), "x");
  write(name_of(200), "garbage");
  write(name_of(201), entry_file(201, firing()));
  Outbox box(dir(), 10);
  EXPECT_EQ(box.load().size(), 1u);
  EXPECT_FALSE(exists(name_of(1, ".rejected")));
  EXPECT_TRUE(exists(name_of(200, ".corrupt")));
  EXPECT_TRUE(exists(name_of(201)));
  EXPECT_EQ(files().size(), Outbox::kKeepSetAside + 1);
}

// ---- an outbox that cannot be written ----

TEST_F(OutboxTest, UnwritableDirectoryKeepsTheEntryInMemory) {
  fx_.write("state", "a regular file where the state directory should be");
  Outbox box(fx_.root() / "state" / "outbox" / "am", 10);  // tests run as root: chmod won't stop it

  std::string err;
  EXPECT_EQ(box.push(firing("ch1"), false, err), 0u);
  EXPECT_THAT(err, HasSubstr((fx_.root() / "state").string()));
  ASSERT_EQ(box.size(), 1u);
  EXPECT_FALSE(box.front()->on_disk);
  EXPECT_EQ(box.front()->n.to_json(), firing("ch1").to_json());

  err.clear();
  box.push(resolved("ch1", fixtures::kT0 + 90), false, err);
  EXPECT_FALSE(err.empty());
  EXPECT_THAT(seqs(box), ElementsAre(1, 2));
  EXPECT_EQ(box.pop_front(/*keep_as_rejected=*/true), "");  // no file: nothing kept
  EXPECT_EQ(box.front()->n.kind, NotificationKind::resolved);
  box.pop_front();
  EXPECT_EQ(box.size(), 0u);
}

TEST_F(OutboxTest, DirectoryReplacedByAFileAfterStart) {
  Outbox box(dir(), 10);
  push(box, firing("ch1"));
  fs::remove_all(dir());
  fx_.write(fs::path("outbox") / "am", "not a directory");

  std::string err;
  box.push(firing("ch2"), false, err);
  EXPECT_THAT(err, HasSubstr(dir().string()));
  auto queued = entries(box);
  ASSERT_EQ(queued.size(), 2u);
  EXPECT_TRUE(queued[0].on_disk);
  EXPECT_FALSE(queued[1].on_disk);
  EXPECT_EQ(queued[1].n.labels.at("channel"), "ch2");
}

}  // namespace
}  // namespace mobasher
