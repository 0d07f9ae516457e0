#include "exporters/history/history_api.hpp"

#include <cmath>
#include <deque>
#include <map>
#include <optional>

#include "agent/base/quantities.hpp"
#include "exporters/history/history_reader.hpp"
#include "exporters/history/history_record.hpp"

namespace mobasher {
namespace {

constexpr const char* kColumns[] = {"ts",          "rss",   "swap",     "usage",
                                    "working_set", "limit", "processes"};
constexpr size_t kValues = std::size(kColumns) - 1;  // without ts
constexpr size_t kLimitColumn = 5;                   // the last value, not the maximum
constexpr std::string_view kSampleType = R"(,"type":"sample")";

// One bucket being filled: the time of its last sample and each value's maximum (limit: last).
struct Bucket {
  long long index = -1;
  double ts = 0;
  std::array<std::optional<double>, kValues> v{};
};

struct Series {
  std::vector<nlohmann::json> points;
  Bucket open;
};

nlohmann::json point(const Bucket& b) {
  nlohmann::json p = nlohmann::json::array();
  p.push_back(std::round(b.ts * 1000) / 1000);
  for (const auto& v : b.v) p.push_back(v ? nlohmann::json(*v) : nlohmann::json(nullptr));
  return p;
}

// Folds the sample lines read into per-unit buckets of `step` seconds (bounded in units and
// points), and keeps the newest events (bounded).
class Downsampler {
 public:
  Downsampler(double since, double step, const HistoryApiLimits& limits)
      : since_(since), step_(step), limits_(limits) {}

  void add(std::string_view line) {
    if (line.compare(kHistoryTypeAt, kSampleType.size(), kSampleType) == 0)
      add_sample(line);
    else
      add_event(line);
  }

  nlohmann::json units() {  // closes the open buckets
    nlohmann::json out = nlohmann::json::object();
    for (auto& [name, s] : units_) {
      if (s.open.index >= 0) s.points.push_back(point(s.open));
      out[name] = std::move(s.points);
    }
    return out;
  }
  nlohmann::json events() const {
    return nlohmann::json(std::vector<nlohmann::json>(events_.begin(), events_.end()));
  }
  bool truncated() const { return truncated_; }

 private:
  void add_event(std::string_view line) {
    auto rec = nlohmann::json::parse(line, nullptr, false);
    if (!rec.is_object()) return;  // a malformed event: left out
    events_.push_back(std::move(rec));
    if (events_.size() > limits_.max_events) events_.pop_front(), truncated_ = true;
  }

  void add_sample(std::string_view line) {
    std::string unit = record_unit(line);
    if (unit.empty()) return;  // node samples: not part of this answer
    auto it = units_.find(unit);
    if (it == units_.end()) {
      if (units_.size() >= limits_.max_units) {
        truncated_ = true;
        return;
      }
      it = units_.emplace(std::move(unit), Series{}).first;
    }
    WallTime t;
    if (!record_time(line, t)) return;
    double ts = unix_seconds(t);
    auto index = static_cast<long long>(std::floor((ts - since_) / step_));
    index = std::min(index, static_cast<long long>(limits_.max_points) - 1);  // ts == until
    Series& s = it->second;
    index = std::max(index, s.open.index);  // a clock stepped back: never reopen a bucket
    if (index != s.open.index) {
      if (s.open.index >= 0) s.points.push_back(point(s.open));
      s.open = Bucket{index, ts, {}};
    }
    s.open.ts = ts;
    for (size_t i = 0; i < kValues; ++i) {
      auto x = sample_number(line, kColumns[i + 1]);
      if (!x) continue;
      auto& slot = s.open.v[i];
      slot = (i + 1 == kLimitColumn || !slot) ? *x : std::max(*slot, *x);
    }
  }

  double since_, step_;
  const HistoryApiLimits& limits_;
  bool truncated_ = false;
  std::map<std::string, Series, std::less<>> units_;
  std::deque<nlohmann::json> events_;
};

}  // namespace

HistoryApiRequest parse_history_query(
    const std::vector<std::pair<std::string, std::string>>& params, WallTime now) {
  HistoryApiRequest r;
  r.since = now - std::chrono::hours(24);
  r.until = now;
  std::map<std::string, int> seen;
  for (const auto& [k, v] : params) {
    if (++seen[k] > 1) throw HistoryQueryError(k + ": given more than once");
    if (k == "unit") {
      r.unit = v.empty() ? v : history_unit_name(v);
    } else if (k == "since" || k == "until") {
      auto t = parse_when(v, now);
      if (!t)
        throw HistoryQueryError(k + "=" + v +
                                ": not a duration ago (6h), an RFC 3339 time or \"now\"");
      (k == "since" ? r.since : r.until) = *t;
    } else if (k == "step") {
      auto d = parse_duration(v);
      if (!d || d->count() < 1000)
        throw HistoryQueryError("step=" + v + ": not a duration of at least 1s (e.g. 5m)");
      r.step = std::chrono::duration_cast<std::chrono::seconds>(*d);
    } else {
      throw HistoryQueryError(k + ": unknown parameter (known: unit, since, until, step)");
    }
  }
  if (r.since > r.until) throw HistoryQueryError("since is after until");
  return r;
}

nlohmann::json history_api(const std::filesystem::path& dir, const HistoryApiRequest& req,
                           const HistoryApiLimits& limits) {
  const double since = unix_seconds(req.since), until = unix_seconds(req.until);
  const double range = std::max(1.0, until - since);
  double step = static_cast<double>(req.step.count());
  const double min_step = std::ceil(range / static_cast<double>(limits.max_points));
  if (step < min_step) step = std::max(1.0, min_step);

  Downsampler down(since, step, limits);
  HistoryFilter filter;
  filter.since = req.since;
  filter.until = req.until;
  filter.unit = req.unit;
  const auto deadline = std::chrono::steady_clock::now() + limits.max_time;
  size_t lines = 0;
  bool late = false;
  read_history(dir, filter, [&](std::string_view line) {
    down.add(line);
    if (++lines % 4096 == 0 && std::chrono::steady_clock::now() > deadline) late = true;
    return !late;
  });
  if (late)
    throw HistoryTooCostly("history: reading " + std::to_string(lines) +
                           " records took more than " + format_duration(limits.max_time) +
                           "; ask for less (a later since=, an until=, one unit=)");
  nlohmann::json columns = nlohmann::json::array();
  for (const char* c : kColumns) columns.push_back(c);
  return {{"since", format_rfc3339(req.since)},
          {"until", format_rfc3339(req.until)},
          {"step_seconds", step},
          {"columns", std::move(columns)},
          {"units", down.units()},
          {"events", down.events()},
          {"truncated", down.truncated()}};
}

}  // namespace mobasher
