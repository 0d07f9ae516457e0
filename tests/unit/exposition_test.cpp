#include "exporters/http/exposition.hpp"

#include <gtest/gtest.h>

#include <cmath>

namespace mobasher {
namespace {

using prometheus::ClientMetric;
using prometheus::MetricFamily;
using prometheus::MetricType;

MetricFamily gauge(std::string name, std::vector<std::pair<std::string, double>> units) {
  MetricFamily f{std::move(name), "A gauge per unit.", MetricType::Gauge, {}};
  for (auto& [unit, v] : units) {
    ClientMetric m;
    m.label = {{"unit", unit}, {"group", "archiver"}};
    m.gauge.value = v;
    f.metric.push_back(std::move(m));
  }
  return f;
}

MetricFamily histogram(uint64_t count) {
  MetricFamily f{"scan_seconds", "Scans.", MetricType::Histogram, {}};
  ClientMetric m;
  m.histogram.sample_count = count;
  m.histogram.sample_sum = 0.5 * static_cast<double>(count);
  m.histogram.bucket = {{count / 2, 0.01}, {count, 0.1}};
  f.metric.push_back(m);
  return f;
}

std::vector<MetricFamily> scan(double rss_ch1, uint64_t scans, double limit = 2e9) {
  return {gauge("rss_bytes", {{"archiver@ch1.service", rss_ch1}, {"archiver@ch2.service", 7e8}}),
          gauge("limit_bytes", {{"archiver@ch1.service", limit}, {"archiver@ch2.service", 2e9}}),
          histogram(scans)};
}

TEST(ExpositionCache, FirstRenderingIsTheSerializersText) {
  ExpositionCache cache;
  EXPECT_EQ(cache.render(scan(1e9, 10)), render_exposition(scan(1e9, 10)));
  EXPECT_EQ(cache.reused(), 0u);
}

TEST(ExpositionCache, UnchangedFamiliesKeepTheirTextChangedOnesAreNew) {
  ExpositionCache cache;
  cache.render(scan(1e9, 10));
  std::string text = cache.render(scan(1.1e9, 11));
  EXPECT_EQ(text, render_exposition(scan(1.1e9, 11)));
  EXPECT_EQ(cache.reused(), 1u);  // limit_bytes
  EXPECT_NE(text.find("rss_bytes{unit=\"archiver@ch1.service\",group=\"archiver\"} 1100000000"),
            std::string::npos)
      << text;
  EXPECT_EQ(cache.render(scan(1.1e9, 11)), text);
  EXPECT_EQ(cache.reused(), 3u);
  EXPECT_EQ(cache.render(scan(1.1e9, 11, 3e9)), render_exposition(scan(1.1e9, 11, 3e9)));
  EXPECT_EQ(cache.reused(), 2u);
}

TEST(ExpositionCache, FamiliesComingAndGoingAndLabelsChanging) {
  ExpositionCache cache;
  cache.render(scan(1e9, 10));
  auto fewer = scan(1e9, 10);
  fewer.erase(fewer.begin());  // every family moves up one place
  EXPECT_EQ(cache.render(fewer), render_exposition(fewer));
  auto renamed = fewer;
  renamed[0].metric[1].label[0].value = "archiver@ch3.service";
  EXPECT_EQ(cache.render(renamed), render_exposition(renamed));
  EXPECT_EQ(cache.reused(), 1u);  // the histogram
  EXPECT_EQ(cache.render({}), "");
  EXPECT_EQ(cache.render(scan(1e9, 10)), render_exposition(scan(1e9, 10)));
}

TEST(SameFamily, NumbersBitForBit) {
  auto zero = gauge("g", {{"u", 0.0}}), minus_zero = gauge("g", {{"u", -0.0}});
  EXPECT_FALSE(same_family(zero, minus_zero));  // "0" and "-0" in the text
  auto nan = gauge("g", {{"u", std::nan("")}});
  EXPECT_TRUE(same_family(nan, nan));
  EXPECT_FALSE(same_family(gauge("g", {{"u", 1}}), gauge("h", {{"u", 1}})));
  auto other_help = gauge("g", {{"u", 1}});
  other_help.help = "Other.";
  EXPECT_FALSE(same_family(gauge("g", {{"u", 1}}), other_help));
  EXPECT_FALSE(same_family(histogram(4), histogram(5)));
}

}  // namespace
}  // namespace mobasher
