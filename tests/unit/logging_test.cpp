// --log.format json: the logfmt messages the agent writes, split into JSON fields.
#include <gtest/gtest.h>

#include "agent/app/logging.hpp"

namespace mobasher {
namespace {

TEST(LogfmtFields, MessageAndPairs) {
  auto j = logfmt_fields(R"(started version=0.9 listen=0.0.0.0:9842 config="/etc/a b.json")");
  EXPECT_EQ(j, (nlohmann::json{{"msg", "started"},
                               {"version", "0.9"},
                               {"listen", "0.0.0.0:9842"},
                               {"config", "/etc/a b.json"}}));
}

TEST(LogfmtFields, EscapedQuotesAndEmptyValues) {
  auto j = logfmt_fields(R"(restart unit=archiver@ch1.service reason="said \"hi\"" note=)");
  EXPECT_EQ(j["reason"], "said \"hi\"");
  EXPECT_EQ(j["note"], "");
  EXPECT_EQ(j["msg"], "restart");
}

TEST(LogfmtFields, NothingIsLost) {
  // Free text after the pairs, an unterminated quote, a reserved key and a repeated one all stay
  // in msg.
  auto j = logfmt_fields(
      R"(reload refused, keeping the previous config: /x:3: bad a=1 a=2 level=x b="open)");
  EXPECT_EQ(j["msg"],
            R"(reload refused, keeping the previous config: /x:3: bad a=2 level=x b="open)");
  EXPECT_EQ(j["a"], "1");
  EXPECT_EQ(j.size(), 2u);
}

TEST(LogfmtFields, EmptyMessage) {
  EXPECT_EQ(logfmt_fields(""), (nlohmann::json{{"msg", ""}}));
}

}  // namespace
}  // namespace mobasher
