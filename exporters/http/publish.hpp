// What the HTTP server serves, made from one scan: the rendering of a snapshot with the agent's
// own statistics and its health, and the handler of /api/v1/history for a history directory.
#pragma once

#include <prometheus/histogram.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <memory>

#include "agent/config/config.hpp"
#include "exporters/http/http_server.hpp"
#include "exporters/http/metrics.hpp"

namespace mobasher {

prometheus::Histogram::BucketBoundaries scan_duration_buckets();

// Everything a request can ask for from one snapshot; each body is rendered when first asked
// for (LazyText), through run (the daemon's event loop; null: on the asking thread). cache: the
// daemon's, kept across snapshots (the text of unchanged metric families is reused); null for a
// one-off rendering.
std::shared_ptr<Published> render(SnapshotPtr snap, const AgentStats& stats, const Config& cfg,
                                  std::shared_ptr<ExpositionCache> cache = nullptr,
                                  const RenderRunner& run = nullptr);

// GET /api/v1/history over the files in dir (400 with the reason for a bad query).
// /api/v1/history over the store in dir: the JSON of history_api(); a HEAD request is checked
// (400 for a bad query) but reads nothing; a range longer than kHeavyHistoryRange runs one at a
// time (503 with Retry-After for a second one).
inline constexpr std::chrono::hours kHeavyHistoryRange{24};
// heavy_busy: set while a heavy request runs (shared by every copy of the handler; a test can
// hold it).
HistoryHandler history_handler(
    std::filesystem::path dir,
    std::shared_ptr<std::atomic<bool>> heavy_busy = std::make_shared<std::atomic<bool>>(false));

}  // namespace mobasher
