#include "agent/base/quantities.hpp"

#include <gtest/gtest.h>

#include <limits>

namespace mobasher {
namespace {

using namespace std::chrono_literals;

uint64_t bytes_of(std::string_view text) {
  auto s = parse_size(text);
  EXPECT_TRUE(s.has_value()) << text;
  if (!s) return 0;
  EXPECT_FALSE(s->percent.has_value()) << text;
  return s->bytes;
}

TEST(ParseSize, SuffixesAreBase1024LikeSystemd) {
  EXPECT_EQ(bytes_of("1.5G"), 1610612736u);
  EXPECT_EQ(bytes_of("2G"), 2147483648u);
  EXPECT_EQ(bytes_of("512M"), 536870912u);
  EXPECT_EQ(bytes_of("64K"), 65536u);
  EXPECT_EQ(bytes_of("1T"), 1099511627776u);
  EXPECT_EQ(bytes_of("1.5GiB"), 1610612736u);
  EXPECT_EQ(bytes_of("1.5Gi"), 1610612736u);
  EXPECT_EQ(bytes_of("512MB"), 536870912u);
}

TEST(ParseSize, PlainBytes) {
  EXPECT_EQ(bytes_of("0"), 0u);
  EXPECT_EQ(bytes_of("4096"), 4096u);
  EXPECT_EQ(bytes_of("4096B"), 4096u);
  EXPECT_EQ(bytes_of("  1G "), 1073741824u);
}

TEST(ParseSize, PercentOfTheLimit) {
  auto s = parse_size("80%");
  ASSERT_TRUE(s.has_value());
  ASSERT_TRUE(s->percent.has_value());
  EXPECT_DOUBLE_EQ(*s->percent, 80.0);
  EXPECT_EQ(s->resolve(1536ull << 20), 1288490188u);  // 80% of 1.5 GiB
  EXPECT_EQ(parse_size("100%")->resolve(2ull << 30), 2ull << 30);
  EXPECT_EQ(parse_size("12.5%")->resolve(1000), 125u);
}

TEST(ParseSize, AbsoluteSizeIgnoresTheLimit) {
  auto s = parse_size("1.5G");
  ASSERT_TRUE(s.has_value());
  EXPECT_EQ(s->resolve(123), 1610612736u);
}

TEST(ParseSize, RejectsNonsense) {
  for (const char* bad : {"1.5Q", "-1G", "abc", "150%", "", "G", "0%", "1.5GG", "1.5 Gx", "1e30G",
                          "nan", "inf", "%"}) {
    EXPECT_FALSE(parse_size(bad).has_value()) << '"' << bad << '"';
  }
}

TEST(ParseSize, PercentCanBeForbidden) {
  EXPECT_FALSE(parse_size("80%", /*allow_percent=*/false).has_value());
  EXPECT_EQ(parse_size("2G", false)->bytes, 2147483648u);
}

TEST(ParseDuration, Units) {
  EXPECT_EQ(parse_duration("5s"), 5000ms);
  EXPECT_EQ(parse_duration("10m"), 600000ms);
  EXPECT_EQ(parse_duration("4h"), 4h);
  EXPECT_EQ(parse_duration("30d"), 30 * 24h);
  EXPECT_EQ(parse_duration("250ms"), 250ms);
  EXPECT_EQ(parse_duration("1.5s"), 1500ms);
  EXPECT_EQ(parse_duration("0s"), 0ms);
}

TEST(ParseDuration, RejectsNonsense) {
  for (const char* bad : {"5", "5x", "-5s", "s", "", "5 minutes", "4hh", "1e20d"})
    EXPECT_FALSE(parse_duration(bad).has_value()) << '"' << bad << '"';
}

// Issue 15: 1e15 ms was accepted, and `now - max_age` then overflowed (UB) into a time after every
// rotated history file. Ten years is the bound; every `now - d` stays in a 64-bit nanosecond clock.
TEST(ParseDuration, AtMostTenYears) {
  EXPECT_EQ(parse_duration("3650d"), kMaxDuration);
  EXPECT_EQ(parse_duration("87600h"), kMaxDuration);
  for (const char* big : {"3651d", "87601h", "1000000000000000ms", "1e15ms", "1e300d"})
    EXPECT_FALSE(parse_duration(big).has_value()) << big;
  auto now = std::chrono::system_clock::now();
  auto oldest = now - std::chrono::duration_cast<WallTime::duration>(kMaxDuration);
  EXPECT_LT(oldest, now);  // no wrap-around
  EXPECT_GT(oldest.time_since_epoch().count(), std::numeric_limits<int64_t>::min() / 2);
}

// Years outside 1678-2261 do not fit a WallTime (nanoseconds in 64 bits): rejected, never wrapped.
TEST(ParseRfc3339, YearsAWallTimeCannotHoldAreRejected) {
  for (const char* bad : {"1677-12-31T23:59:59Z", "2262-01-01T00:00:00Z", "9999-12-31T23:59:59Z",
                          "0001-01-01T00:00:00Z"})
    EXPECT_FALSE(parse_rfc3339(bad).has_value()) << bad;
  auto first = parse_rfc3339("1678-01-01T00:00:00Z");
  auto last = parse_rfc3339("2261-12-31T23:59:59.999Z");
  ASSERT_TRUE(first && last);
  EXPECT_EQ(format_rfc3339(*first), "1678-01-01T00:00:00.000Z");
  EXPECT_EQ(format_rfc3339(*last), "2261-12-31T23:59:59.999Z");
  EXPECT_LT(*first, *last);
  EXPECT_FALSE(parse_when("2262-04-12T00:00:00Z", *first).has_value());
}

TEST(FormatBytes, PicksTheLargestUnit) {
  EXPECT_EQ(format_bytes(17), "17B");
  EXPECT_EQ(format_bytes(0), "0B");
  EXPECT_EQ(format_bytes(512ull << 20), "512.00MiB");
  EXPECT_EQ(format_bytes(1610612736), "1.50GiB");
  EXPECT_EQ(format_bytes(2048), "2.00KiB");
  EXPECT_EQ(format_bytes(3ull << 40), "3.00TiB");
}

TEST(FormatDuration, RoundUnits) {
  EXPECT_EQ(format_duration(4h), "4h");
  EXPECT_EQ(format_duration(250ms), "250ms");
  EXPECT_EQ(format_duration(10min), "10m");
  EXPECT_EQ(format_duration(48h), "2d");
  EXPECT_EQ(format_duration(0ms), "0s");
}

TEST(FormatDuration, TwoUnitsAtMostTheSecondPadded) {
  EXPECT_EQ(format_duration(90s), "1m30s");
  EXPECT_EQ(format_duration(372s), "6m12s");
  EXPECT_EQ(format_duration(2h + 5min + 30s), "2h05m");  // the seconds are left out
  EXPECT_EQ(format_duration(26h), "1d02h");
  EXPECT_EQ(format_duration(1050ms), "1s050ms");
  EXPECT_EQ(format_duration(-90s), "-1m30s");
}

TEST(FormatSeconds, WholeSecondsOfAMeasuredTime) {
  EXPECT_EQ(format_seconds(372.4), "6m12s");
  EXPECT_EQ(format_seconds(29.6), "30s");
  EXPECT_EQ(format_seconds(59.9996), "1m");
  EXPECT_EQ(format_seconds(-3), "0s");
  EXPECT_EQ(format_seconds(45), "45s");
  EXPECT_EQ(format_seconds(90061), "1d01h");
}

TEST(FormatDuration, RoundTripsThroughParse) {
  for (const char* text : {"5s", "10m", "4h", "30d", "250ms"})
    EXPECT_EQ(format_duration(*parse_duration(text)), text);
}

}  // namespace
}  // namespace mobasher
