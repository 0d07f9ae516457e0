// Re-seeding after an agent restart: reads the recent history (the newest sample of each unit
// carries its restart and OOM counters; the samples of the growth window feed the estimator).
#pragma once

#include <chrono>
#include <filesystem>
#include <map>
#include <string>

#include "agent/state/unit_tracker.hpp"
#include "exporters/history/history_reader.hpp"

namespace mobasher {

struct SeedOptions {
  std::chrono::seconds lookback{24 * 3600};  // how far back a unit's last sample is looked for
  std::chrono::seconds growth_window{600};
  Measure measure = Measure::rss;
};

// Units with at least one sample in the lookback. Samples before a unit's last restart event
// are left out (they belong to the old process). Records that do not parse are skipped.
std::map<std::string, UnitSeed> read_seeds(const std::filesystem::path& dir, WallTime now,
                                           const SeedOptions& opts, HistoryReadStats* stats);

}  // namespace mobasher
