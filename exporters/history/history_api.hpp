// GET /api/v1/history?unit=&since=&until=&step= : the history store's samples downsampled into
// buckets of `step`, plus the events of the range. Bounded: at most max_points buckets per unit
// (a larger step is chosen when the asked one would give more), max_units units and the newest
// max_events events; `truncated` says when something was left out.
//
//   {"since":"…Z","until":"…Z","step_seconds":300,
//    "columns":["ts","rss","swap","usage","working_set","limit","processes"],
//    "units":{"archiver@ch1.service":[[1764586800.0,123,0,130,120,2147483648,3],…]},
//    "events":[{"ts":"…","type":"restart","unit":"…","cause":"age","total":1},…],
//    "truncated":false}
//
// A bucket's point is at the time of its last sample; rss, swap, usage, working_set and
// processes are the bucket's maximum (a peak never disappears in a coarse view), limit its last
// value; null where no sample of the bucket had the value.
#pragma once

#include <cstddef>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "agent/base/snapshot.hpp"

namespace mobasher {

struct HistoryApiRequest {
  WallTime since{}, until{};
  std::string unit;              // "": every unit
  std::chrono::seconds step{0};  // 0: chosen from the range and max_points
};

struct HistoryApiLimits {
  size_t max_points = 1500;  // per unit
  size_t max_units = 256;
  size_t max_events = 1000;
  // Reading stops after this long (wall, steady clock) and the request fails with
  // HistoryTooCostly: a query's cost is bounded whatever the range and the machine
  // (BENCHMARKS.md: 30 days of 12 units take ~4 s here).
  std::chrono::milliseconds max_time{10'000};
};

// A query parameter that is unknown, repeated or malformed; what() names it.
class HistoryQueryError : public std::invalid_argument {
 public:
  using std::invalid_argument::invalid_argument;
};

// The range could not be read within max_time; what() says so and how to ask for less.
class HistoryTooCostly : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// params: the decoded query, in order (the HTTP server's QueryParams). since defaults to 24h
// ago, until to now; since/until: a duration ago ("6h"), RFC 3339 or now.
HistoryApiRequest parse_history_query(
    const std::vector<std::pair<std::string, std::string>>& params, WallTime now);

nlohmann::json history_api(const std::filesystem::path& dir, const HistoryApiRequest& req,
                           const HistoryApiLimits& limits = {});

}  // namespace mobasher
