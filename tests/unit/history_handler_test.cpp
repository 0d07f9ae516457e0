#include <gtest/gtest.h>

#include <atomic>
#include <memory>

#include "exporters/http/publish.hpp"
#include "fixtures/fixture_tree.hpp"

namespace mobasher {
namespace {

using fixtures::FixtureTree;

// Issue 15: /api/v1/history reads up to the whole retention (30 days: seconds of CPU). A HEAD
// request is checked but reads nothing; a range over 24 h runs one at a time.
struct HistoryHandlerTest : ::testing::Test {
  void SetUp() override {
    fx.write(
        "history/current.jsonl",
        R"({"ts":"2026-12-06T10:00:00.000Z","type":"sample","unit":"archiver@ch1.service","rss":1})"
        "\n");
  }
  FixtureTree fx;
  std::shared_ptr<std::atomic<bool>> busy = std::make_shared<std::atomic<bool>>(false);
  HistoryHandler handler() { return history_handler(fx.root() / "history", busy); }
};

TEST_F(HistoryHandlerTest, HeadChecksTheQueryAndReadsNothing) {
  auto h = handler();
  HttpReply bad = h({{"since", "soon"}}, true);
  EXPECT_EQ(bad.code, 400);
  EXPECT_NE(bad.body.find("since=soon"), std::string::npos) << bad.body;
  HttpReply ok = h({{"since", "30d"}}, true);
  EXPECT_EQ(ok.code, 200);
  EXPECT_EQ(ok.body, "");
  // Even with a heavy request in flight: a HEAD never waits for nor takes the heavy slot.
  busy->store(true);
  EXPECT_EQ(h({{"since", "30d"}}, true).code, 200);
  EXPECT_TRUE(busy->load());
}

TEST_F(HistoryHandlerTest, OneRequestOverADayAtATime) {
  auto h = handler();
  busy->store(true);  // another request over 30 days is being answered
  HttpReply second = h({{"since", "30d"}}, false);
  EXPECT_EQ(second.code, 503);
  EXPECT_EQ(second.headers, "Retry-After: 2\r\n");
  HttpReply light = h({{"since", "6h"}}, false);  // a range of a day or less is not held
  EXPECT_EQ(light.code, 200);
  EXPECT_NE(light.body.find("\"units\""), std::string::npos) << light.body;
  busy->store(false);
  HttpReply heavy = h({{"since", "30d"}}, false);
  EXPECT_EQ(heavy.code, 200) << heavy.body;
  EXPECT_FALSE(busy->load());  // released when it is answered
  EXPECT_EQ(h({{"since", "2d"}, {"until", "now"}}, false).code, 200);
  EXPECT_FALSE(busy->load());
}

}  // namespace
}  // namespace mobasher
