#include "exporters/http/exposition.hpp"

#include <prometheus/text_serializer.h>

#include <bit>
#include <cstdint>
#include <ostream>
#include <streambuf>

namespace mobasher {
namespace {

using prometheus::ClientMetric;
using prometheus::MetricFamily;

// An output stream buffer that appends straight to a string: the serializer writes token by
// token, and std::stringbuf's generic xsputn and growth by doubling cost more than the text
// itself (perf: 15 % of a render in basic_streambuf::xsputn). The target can change between
// writes, so one stream serves every family of a rendering.
class AppendBuf : public std::streambuf {
 public:
  explicit AppendBuf(std::string* out) : out_(out) {}
  void target(std::string* out) { out_ = out; }

 protected:
  std::streamsize xsputn(const char* s, std::streamsize n) override {
    out_->append(s, static_cast<size_t>(n));
    return n;
  }
  int_type overflow(int_type c) override {
    if (!traits_type::eq_int_type(c, traits_type::eof()))
      out_->push_back(traits_type::to_char_type(c));
    return traits_type::not_eof(c);
  }

 private:
  std::string* out_;
};

// Bit for bit: 0.0 and -0.0 are serialized differently, and a NaN is serialized as itself.
bool same(double a, double b) {
  return std::bit_cast<uint64_t>(a) == std::bit_cast<uint64_t>(b);
}

bool same_metric(const ClientMetric& a, const ClientMetric& b) {
  if (a.label != b.label || a.timestamp_ms != b.timestamp_ms ||
      !same(a.counter.value, b.counter.value) || !same(a.gauge.value, b.gauge.value) ||
      !same(a.untyped.value, b.untyped.value) || a.summary.sample_count != b.summary.sample_count ||
      !same(a.summary.sample_sum, b.summary.sample_sum) ||
      a.summary.quantile.size() != b.summary.quantile.size() ||
      a.histogram.sample_count != b.histogram.sample_count ||
      !same(a.histogram.sample_sum, b.histogram.sample_sum) ||
      a.histogram.bucket.size() != b.histogram.bucket.size())
    return false;
  for (size_t i = 0; i < a.summary.quantile.size(); ++i)
    if (!same(a.summary.quantile[i].quantile, b.summary.quantile[i].quantile) ||
        !same(a.summary.quantile[i].value, b.summary.quantile[i].value))
      return false;
  for (size_t i = 0; i < a.histogram.bucket.size(); ++i)
    if (a.histogram.bucket[i].cumulative_count != b.histogram.bucket[i].cumulative_count ||
        !same(a.histogram.bucket[i].upper_bound, b.histogram.bucket[i].upper_bound))
      return false;
  return true;
}

}  // namespace

std::string render_exposition(const std::vector<MetricFamily>& families, size_t size_hint) {
  std::string text;
  text.reserve(size_hint);
  AppendBuf buf(&text);
  std::ostream out(&buf);
  prometheus::TextSerializer().Serialize(out, families);
  return text;
}

bool same_family(const MetricFamily& a, const MetricFamily& b) {
  if (a.name != b.name || a.help != b.help || a.type != b.type ||
      a.metric.size() != b.metric.size())
    return false;
  for (size_t i = 0; i < a.metric.size(); ++i)
    if (!same_metric(a.metric[i], b.metric[i])) return false;
  return true;
}

std::string ExpositionCache::render(std::vector<MetricFamily> families) {
  std::lock_guard lk(mu_);
  std::vector<Entry> next(families.size());
  std::vector<MetricFamily> one(1);
  AppendBuf buf(nullptr);
  std::ostream out(&buf);
  prometheus::TextSerializer serializer;
  size_t total = 0;
  reused_ = 0;
  for (size_t i = 0; i < families.size(); ++i) {
    Entry& e = next[i];
    if (i < last_.size() && same_family(last_[i].family, families[i])) {
      e.text = std::move(last_[i].text);
      ++reused_;
    } else {
      std::swap(one[0], families[i]);  // the serializer takes a vector: no copy of the family
      buf.target(&e.text);
      serializer.Serialize(out, one);
      std::swap(one[0], families[i]);
    }
    e.family = std::move(families[i]);
    total += e.text.size();
  }
  std::string body;
  body.reserve(total);
  for (const auto& e : next) body += e.text;
  last_ = std::move(next);
  return body;
}

size_t ExpositionCache::reused() const {
  std::lock_guard lk(mu_);
  return reused_;
}

}  // namespace mobasher
