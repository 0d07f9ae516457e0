#include "exporters/http/status_page.hpp"

#include <gtest/gtest.h>

#include <regex>

#include "exporters/http/status_json.hpp"
#include "fixtures/fixture_tree.hpp"
#include "fixtures/snapshots.hpp"

namespace mobasher {
namespace {

using namespace fixtures;

nlohmann::json scene() {
  UnitBuilder a("archiver@ch1.service", "archiver");
  a.main(101, 5000, 1_GiB, "bash", 1'799'996'400).limits(2_GiB, 1610612736, 2040109465);
  UnitBuilder r("recorder@ch2.service", "recorder");
  r.main(201, 6000, 300_MiB, "bash", 1'799'999'000).limits(1610612736, 1288490188, 1530082099);
  UnitBuilder evil("archiver@<script>alert(1)</script>&\"x\".service", "archiver");
  evil.main(301, 7000, 10_MiB).limits(2_GiB, 1610612736, 2040109465);
  Snapshot s = snapshot_at(1'800'000'000, {a, r, evil}, 0);
  s.cgroup_layout = "hybrid";
  return status_json(s, "0.1.0");
}

size_t count(const std::string& hay, std::string_view needle) {
  size_t n = 0;
  for (auto at = hay.find(needle); at != std::string::npos; at = hay.find(needle, at + 1)) ++n;
  return n;
}

TEST(StatusPage, ListsEveryUnitEscaped) {
  auto page = status_page(scene());
  EXPECT_NE(page.find("<td>archiver@ch1.service</td>"), std::string::npos);
  EXPECT_NE(page.find("<td>recorder@ch2.service</td>"), std::string::npos);
  EXPECT_NE(
      page.find(
          "<td>archiver@&lt;script&gt;alert(1)&lt;/script&gt;&amp;&quot;x&quot;.service</td>"),
      std::string::npos);
  EXPECT_EQ(page.find("<script>alert"), std::string::npos);
  EXPECT_EQ(page.find("</script>&"), std::string::npos);
  EXPECT_NE(page.find("version 0.1.0"), std::string::npos);
  EXPECT_NE(page.find("cgroup layout hybrid"), std::string::npos);
}

TEST(StatusPage, ServerRenderedUnitsReplaceThePlaceholderOnce) {
  auto page = status_page(scene());
  EXPECT_EQ(page.find(kStatusPageUnitsPlaceholder), std::string::npos);
  EXPECT_EQ(count(page, "<div id=\"units\">"), 1u);
  // The table comes before the script, so it is the page's content until the script redraws it.
  EXPECT_LT(page.find("<table>"), page.find("<script>"));
}

TEST(StatusPage, NoUnits) {
  auto st = scene();
  st["units"] = nlohmann::json::array();
  auto page = status_page(st);
  EXPECT_NE(page.find("No archiver/recorder units found."), std::string::npos);
  EXPECT_EQ(page.find("<table>"), std::string::npos);
}

TEST(StatusPage, RowColouredByTheMostSevereFiringAlert) {
  auto st = scene();
  st["units"][0]["alerts"] = {{"MobasherUnitMemoryHigh", "firing"}};
  st["units"][1]["alerts"] = {{"MobasherUnitMemoryHigh", "firing"},
                              {"MobasherUnitOOMKilled", "firing"}};
  st["units"][2]["alerts"] = {{"MobasherUnitMemoryCritical", "pending"}};
  auto page = status_page(st);
  EXPECT_NE(page.find("<tr class=\"warning\"><td>archiver@ch1.service"), std::string::npos);
  EXPECT_NE(page.find("<tr class=\"critical\"><td>recorder@ch2.service"), std::string::npos);
  EXPECT_NE(page.find("<tr class=\"\"><td>archiver@&lt;script"), std::string::npos);
}

// No memory cgroup limit: the table's limit is the configured one, marked, with a legend.
TEST(StatusPage, LimitNotEnforcedIsMarkedWithALegend) {
  auto st = scene();
  st["units"][0]["limit_enforced"] = true;
  st["units"][2]["limit_enforced"] = true;
  ASSERT_EQ(st["units"][1]["limit_enforced"], false);  // recorder: no memory cgroup
  auto page = status_page(st);
  EXPECT_NE(page.find("<td>2.00GiB</td>"), std::string::npos);
  EXPECT_NE(page.find("<td title=\"no limit: configured 1.50GiB\">1.50GiB*</td>"),
            std::string::npos);
  EXPECT_EQ(count(page, "*</td>"), 1u);
  EXPECT_EQ(count(page, "<p class=\"legend\" id=\"nolimit-legend\">* no memory limit"), 1u);
  EXPECT_LT(page.find("nolimit-legend"), page.find("<script>"));

  st["units"][1]["limit_enforced"] = true;
  auto limited = status_page(st);
  EXPECT_EQ(limited.find("*</td>"), std::string::npos);
  EXPECT_EQ(limited.find("id=\"nolimit-legend\""), std::string::npos);
}

TEST(StatusPage, CardsBadgeALimitNotEnforced) {
  auto page = status_page(scene());
  auto script = page.substr(page.find("<script>"));
  for (const char* s : {"u.limit_enforced !== false", "class=\"pill nolimit\"", ">no limit<",
                        "configured limit <b>", "\"MobasherUnitNoMemoryLimit\""})
    EXPECT_NE(script.find(s), std::string::npos) << s;
}

TEST(StatusPage, HasTheScriptThatDrawsCardsAndCharts) {
  auto page = status_page(scene());
  ASSERT_EQ(count(page, "<script>"), 1u);
  auto script = page.substr(page.find("<script>"));
  for (const char* s :
       {"api/v1/status", "api/v1/history?since=24h&step=5m", "class=\"chart\"", "data-points",
        "class=\"rss\"", "data-unit", "setTimeout", "no history yet"})
    EXPECT_NE(script.find(s), std::string::npos) << s;
  EXPECT_NE(page.find("id=\"error\""), std::string::npos);
  // Without JavaScript the page reloads itself; with it, only the script refreshes.
  EXPECT_NE(page.find("<noscript><meta http-equiv=\"refresh\""), std::string::npos);
  EXPECT_EQ(count(page, "http-equiv=\"refresh\""), 1u);
}

// The page is served to machines without Internet access: every reference stays on the agent.
TEST(StatusPage, NoExternalReferences) {
  auto page = status_page(scene());
  for (const char* s : {"http://", "https://", "//cdn", "@import", "<link", "<iframe"})
    EXPECT_EQ(page.find(s), std::string::npos) << s;
  std::regex ref(R"re(\b(src|href|action|formaction|poster|srcset)\s*=\s*["']?([^"'\s>]*))re",
                 std::regex::icase);
  std::regex relative(R"re(([A-Za-z0-9_.~-]+(/[A-Za-z0-9_.~-]*)*)?(\?[^#]*)?(#.*)?)re");
  int refs = 0;
  for (std::sregex_iterator it(page.begin(), page.end(), ref), end; it != end; ++it, ++refs) {
    std::string v = (*it)[2];
    EXPECT_TRUE(std::regex_match(v, relative)) << (*it)[0] << ": not a relative reference";
  }
  EXPECT_GE(refs, 4);  // metrics, status JSON, health, history JSON
  std::regex css_url(R"re(url\s*\()re", std::regex::icase);
  EXPECT_FALSE(std::regex_search(page, css_url));
  std::regex fetch_call(R"re(fetch\(\s*["'][^"']*:)re");
  EXPECT_FALSE(std::regex_search(page, fetch_call));
}

}  // namespace
}  // namespace mobasher
