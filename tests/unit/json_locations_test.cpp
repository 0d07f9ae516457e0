#include "agent/base/json_locations.hpp"

#include <gtest/gtest.h>

namespace mobasher {
namespace {

constexpr const char* kDoc = R"({
  "a": 1,
  // a comment line
  "b": { "c": "x",
         "d": [ 10,
                { "e": true } ] },
  /* two
     lines */
  "f": null
})";

TEST(JsonLocations, EveryValueHasItsLine) {
  LocatedJson j = parse_json_with_lines(kDoc);
  EXPECT_EQ(j.value["b"]["d"][1]["e"], true);
  EXPECT_EQ(j.lines.at(""), 1);
  EXPECT_EQ(j.lines.at("a"), 2);
  EXPECT_EQ(j.lines.at("b"), 4);
  EXPECT_EQ(j.lines.at("b.c"), 4);
  EXPECT_EQ(j.lines.at("b.d"), 5);
  EXPECT_EQ(j.lines.at("b.d[0]"), 5);
  EXPECT_EQ(j.lines.at("b.d[1]"), 6);
  EXPECT_EQ(j.lines.at("b.d[1].e"), 6);
  EXPECT_EQ(j.lines.at("f"), 9);
}

TEST(JsonLocations, UnknownPathFallsBackToNearestAncestor) {
  LocatedJson j = parse_json_with_lines(kDoc);
  EXPECT_EQ(j.line_of("b.d[1].zzz"), 6);
  EXPECT_EQ(j.line_of("b.nope"), 4);
  EXPECT_EQ(j.line_of("nope"), 1);
  EXPECT_EQ(j.line_of(""), 1);
}

TEST(JsonLocations, NumberFollowedByNewlineKeepsItsLine) {
  LocatedJson j = parse_json_with_lines("{\n  \"n\": 42\n}\n");
  EXPECT_EQ(j.value["n"], 42);
  EXPECT_EQ(j.lines.at("n"), 2);
}

TEST(JsonLocations, SyntaxErrorCarriesTheLine) {
  try {
    parse_json_with_lines("{\n  \"a\": 1,\n  \"b\": ,\n}");
    FAIL() << "no JsonSyntaxError";
  } catch (const JsonSyntaxError& e) {
    EXPECT_EQ(e.line, 3);
    EXPECT_FALSE(e.message.empty());
  }
}

TEST(JsonLocations, ADuplicateKeyIsAnErrorAtItsSecondLine) {
  try {
    parse_json_with_lines("{\n  \"a\": {\"x\": 1,\n  \"x\": [2]}\n}");
    FAIL() << "no JsonSyntaxError";
  } catch (const JsonSyntaxError& e) {
    EXPECT_EQ(e.line, 3);
    EXPECT_EQ(e.message, "duplicate key \"a.x\" (first on line 2)");
  }
  // Equal keys in sibling objects, and equal values, are fine.
  LocatedJson j =
      parse_json_with_lines(R"({"a": {"x": 1}, "b": {"x": 1}, "c": [{"x": 1}, {"x": 2}]})");
  EXPECT_EQ(j.value["c"][1]["x"], 2);
}

// Issue 15: every value keeps its path, so a deeply nested document needed memory quadratic in
// its depth (and nlohmann frees recursively). 32 levels are accepted, the 33rd is an error on its
// line, and a million levels fail as fast.
TEST(JsonLocations, NestingIsBoundedAt32Levels) {
  auto nested = [](size_t depth) { return std::string(depth, '[') + std::string(depth, ']'); };
  EXPECT_NO_THROW(parse_json_with_lines(nested(kMaxJsonDepth)));
  try {
    parse_json_with_lines("{\n  \"a\":\n" + nested(kMaxJsonDepth));
    FAIL() << "33 levels accepted";
  } catch (const JsonSyntaxError& e) {
    EXPECT_EQ(e.line, 3);
    EXPECT_NE(e.message.find("nested deeper than 32 levels"), std::string::npos) << e.message;
  }
  EXPECT_THROW(parse_json_with_lines(nested(1'000'000)), JsonSyntaxError);
}

TEST(JsonLocations, TrailingGarbageIsAnError) {
  EXPECT_THROW(parse_json_with_lines("{}\n{}"), JsonSyntaxError);
}

}  // namespace
}  // namespace mobasher
