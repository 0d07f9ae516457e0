#include "agent/config/config_summary.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace mobasher {
namespace {

using ::testing::HasSubstr;
using ::testing::StartsWith;

TEST(ConfigSummary, BuiltInPlanOneLinePerGroup) {
  std::string out = config_summary(default_config());
  EXPECT_THAT(out, StartsWith("config ok: built-in default: listen 0.0.0.0:9842, scan every 5s, "
                              "2 group(s)\n"));
  EXPECT_THAT(out, HasSubstr("\n  archiver: units archiver@*.service, memory_limit 2.00GiB, warn "
                             "1.50GiB, critical 95% (1.90GiB); restart on_memory 90% (1.80GiB) "
                             "for 30s, max_age 4h, predict 10m, predict_window 5m\n"));
  EXPECT_THAT(out, HasSubstr("\n  recorder: units recorder@*.service, memory_limit 1.50GiB, warn "
                             "80% (1.20GiB), critical 95% ("));
}

TEST(ConfigSummary, FileWithoutGroupsShowsTheBuiltInGroups) {
  std::string out = config_summary(parse_config(R"({ "scan_interval": "2s" })", "f.json"));
  EXPECT_THAT(out, StartsWith("config ok: f.json: listen 0.0.0.0:9842, scan every 2s, 2 group(s)"));
  EXPECT_THAT(out, HasSubstr("\n  archiver: "));
  EXPECT_THAT(out, HasSubstr("\n  recorder: "));
}

TEST(ConfigSummary, NoGroups) {
  EXPECT_EQ(config_summary(parse_config(R"({ "groups": [] })", "none.json")),
            "config ok: none.json: listen 0.0.0.0:9842, scan every 5s, 0 group(s)\n"
            "  no groups: watching no units\n");
}

TEST(ConfigSummary, MatchGroupAndRestartCausesOff) {
  std::string out = config_summary(parse_config(R"json({ "groups": [
  { "name": "scripted", "match": { "comm": "^ffmpeg$", "cmdline": "rtsp://cam/([a-z0-9]+)" },
    "memory_limit": "1G", "warn": "512M", "restart": { "max_age": "2h" } } ] })json",
                                                "m.json"));
  EXPECT_THAT(out, HasSubstr("\n  scripted: match comm \"^ffmpeg$\" cmdline "
                             "\"rtsp://cam/([a-z0-9]+)\", memory_limit 1.00GiB, warn 512.00MiB, "
                             "critical 95% (972.80MiB); restart on_memory off for 30s, max_age "
                             "2h, predict off, predict_window 5m\n"));
}

}  // namespace
}  // namespace mobasher
