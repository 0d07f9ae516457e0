#include "agent/base/regex.hpp"

#include <gtest/gtest.h>

namespace mobasher {
namespace {

TEST(Regex, ExtendedSyntaxAndFirstGroup) {
  std::string err, group;
  auto re = Regex::compile("archive\\.sh --channel ([[:alnum:]]+)", err);
  ASSERT_TRUE(re) << err;
  EXPECT_TRUE(re->search("/bin/bash /opt/archive.sh --channel ch7 --out /srv", &group));
  EXPECT_EQ(group, "ch7");
  EXPECT_FALSE(re->search("/bin/bash /opt/record.sh --channel ch7", &group));
}

TEST(Regex, BadPatternSaysWhy) {
  std::string err;
  EXPECT_FALSE(Regex::compile("ff(mpeg", err));
  EXPECT_FALSE(err.empty());
}

// std::regex recursed per character and overflowed the stack near 30 KB; command lines of Java
// or Chromium processes are that long, and the fallback matches every process's.
TEST(Regex, LongInputDoesNotCrash) {
  std::string err, group;
  auto re = Regex::compile(".*channel=([a-z0-9]+)", err);
  ASSERT_TRUE(re) << err;
  std::string text(2 << 20, 'x');
  text += " channel=ch42";
  EXPECT_TRUE(re->search(text, &group));
  EXPECT_EQ(group, "ch42");
}

}  // namespace
}  // namespace mobasher
