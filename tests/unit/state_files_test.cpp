// The state files (units.json, alerts.json, actions.json) when they are corrupt, truncated or
// cannot be written (issue 15, fault matrix): the agent starts with a fresh state instead, keeps
// the bad file as FILE.corrupt, and the next save writes a good one.
#include "agent/app/state_files.hpp"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "agent/state/unit_tracker.hpp"
#include "fixtures/fixture_tree.hpp"

namespace mobasher {
namespace {

using fixtures::FixtureTree;
namespace fs = std::filesystem;

std::string read(const fs::path& p) {
  std::ifstream in(p);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

// A state whose load throws on a bad shape and applies nothing, as the real ones do.
struct Counter {
  int value = 0;
  bool changed = false;
  void load_json(const nlohmann::json& j) { value = j.at("value").get<int>(); }
  nlohmann::json to_json() const { return {{"value", value}}; }
  bool dirty() const { return changed; }
  void mark_saved() { changed = false; }
};

TEST(StateFile, MissingIsAFirstStart) {
  FixtureTree fx;
  Counter c;
  EXPECT_TRUE(StateFile("units.json").load(c, fx.root()));
  EXPECT_EQ(c.value, 0);
}

TEST(StateFile, RoundTripAndOnlyWhenChanged) {
  FixtureTree fx;
  Counter c;
  c.value = 7;
  StateFile f("units.json");
  EXPECT_TRUE(f.save(c, fx.root()));
  EXPECT_FALSE(fs::exists(fx.root() / "units.json"));  // not dirty: nothing written
  c.changed = true;
  EXPECT_TRUE(f.save(c, fx.root()));
  EXPECT_FALSE(c.dirty());
  Counter back;
  EXPECT_TRUE(f.load(back, fx.root()));
  EXPECT_EQ(back.value, 7);
}

TEST(StateFile, TruncatedOrWrongShapeIsKeptAsideAndTheStateStaysFresh) {
  for (const std::string bad : {R"({"value": 4)", "", "\x01\x02", R"({"other": 1})", "[1,2]"}) {
    FixtureTree fx;
    fx.write("units.json", bad);
    Counter c;
    StateFile f("units.json");
    EXPECT_FALSE(f.load(c, fx.root())) << bad;
    EXPECT_EQ(c.value, 0) << bad;
    EXPECT_FALSE(fs::exists(fx.root() / "units.json")) << bad;
    EXPECT_EQ(read(fx.root() / "units.json.corrupt"), bad);  // kept for the admin, never lost
    c.value = 3, c.changed = true;
    EXPECT_TRUE(f.save(c, fx.root()));
    EXPECT_EQ(read(fx.root() / "units.json"), "{\"value\":3}\n");
    EXPECT_EQ(read(fx.root() / "units.json.corrupt"), bad);
  }
}

TEST(StateFile, ATruncatedUnitsJsonLeavesTheTrackerEmpty) {
  FixtureTree fx;
  UnitTracker full;
  full.load_json(nlohmann::json::parse(
      R"({"version":1,"units":{"archiver@ch1.service":{"generation":2,"oom_base":1,
          "oom_last_raw":1,"last_seen":5.0,"restarts":{"memory":3}}}})"));
  std::string text = full.to_json().dump();
  fx.write("units.json", text.substr(0, text.size() / 2));  // cut mid-write by a crash
  UnitTracker t;
  EXPECT_FALSE(StateFile("units.json").load(t, fx.root()));
  EXPECT_EQ(t.to_json(), UnitTracker().to_json());  // nothing half-loaded
}

TEST(StateFile, AnUnwritableDirectoryIsAFalseSaveAndTheStateStaysDirty) {
  FixtureTree fx;
  Counter c;
  c.value = 1, c.changed = true;
  StateFile f("units.json");
  fx.write("not-a-dir", "x");  // root ignores permissions; a file in the path stops it too
  EXPECT_FALSE(f.save(c, fx.root() / "not-a-dir" / "state"));
  EXPECT_TRUE(c.dirty());  // tried again at the next save
  EXPECT_TRUE(f.save(c, fx.root()));
  EXPECT_FALSE(c.dirty());
}

}  // namespace
}  // namespace mobasher
