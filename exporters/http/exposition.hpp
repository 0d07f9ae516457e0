// Metric families -> the Prometheus text exposition, through prometheus-cpp's TextSerializer:
// once (render_exposition), or for successive snapshots with the text of unchanged families
// kept (ExpositionCache).
#pragma once

#include <prometheus/metric_family.h>

#include <mutex>
#include <string>
#include <vector>

namespace mobasher {

// size_hint: the bytes to reserve (the previous body's size saves the string's regrowth).
std::string render_exposition(const std::vector<prometheus::MetricFamily>& families,
                              size_t size_hint = 32 << 10);

// Whether two families would be serialized to the same text (name, help, type, every sample's
// labels and values, numbers bit for bit).
bool same_family(const prometheus::MetricFamily& a, const prometheus::MetricFamily& b);

// The exposition of successive snapshots, family by family: a family equal to the one at the same
// place in the previous rendering keeps its text. Limits, thresholds, counters, alert states and
// build information rarely change from one scan to the next, and the serializer writes label
// values a character at a time, so text is what costs (docs/BENCHMARKS.md). The output is
// byte for byte what render_exposition gives. Thread-safe: a body is rendered by whichever HTTP
// worker asks first. Bounded: it keeps the families and text of the last rendering only.
class ExpositionCache {
 public:
  std::string render(std::vector<prometheus::MetricFamily> families);
  size_t reused() const;  // families of the last rendering whose text was kept

 private:
  struct Entry {
    prometheus::MetricFamily family;
    std::string text;
  };
  mutable std::mutex mu_;
  std::vector<Entry> last_;
  size_t reused_ = 0;
};

}  // namespace mobasher
