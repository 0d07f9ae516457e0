#include "exporters/http/publish.hpp"

#include <atomic>
#include <memory>

#include "exporters/history/history_api.hpp"
#include "exporters/http/status_json.hpp"
#include "exporters/http/status_page.hpp"

namespace mobasher {

prometheus::Histogram::BucketBoundaries scan_duration_buckets() {
  return {0.0002, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1};
}

std::shared_ptr<Published> render(SnapshotPtr snap, const AgentStats& stats, const Config& cfg,
                                  std::shared_ptr<ExpositionCache> cache, const RenderRunner& run) {
  auto p = std::make_shared<Published>();
  p->metrics = std::make_shared<LazyText>(
      [snap, stats, cache = std::move(cache)] {
        auto families = build_families(*snap, stats, stats.self);
        return cache ? cache->render(std::move(families)) : render_exposition(families);
      },
      run);
  p->status = std::make_shared<LazyText>(
      [snap, version = stats.version] {
        return status_json(*snap, version)
            .dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
      },
      run);
  p->page = std::make_shared<LazyText>(
      [snap, version = stats.version] { return status_page(status_json(*snap, version)); }, run);
  p->scanned_at = std::chrono::steady_clock::now();
  p->stale_after = 3 * cfg.scan_interval;
  if (snap->errors.count("node") && !snap->node.mem_total)
    p->failure = "cannot read meminfo under the proc root";
  if (stats.history && !stats.history->error.empty())
    p->warning = "history not written since " + format_rfc3339(stats.history->error_since) + ": " +
                 stats.history->error + " (" + std::to_string(stats.history->pending) +
                 " records pending, " + std::to_string(stats.history->records_dropped) +
                 " dropped)";
  p->snapshot = std::move(snap);
  return p;
}

HistoryHandler history_handler(std::filesystem::path dir,
                               std::shared_ptr<std::atomic<bool>> heavy_busy) {
  // A range over more than a day reads many files (BENCHMARKS.md: ~145 ms of CPU per day of 12
  // units): one such request at a time; a second gets 503 and comes back.
  return [dir = std::move(dir), heavy_busy](const QueryParams& q, bool head) {
    try {
      auto req = parse_history_query(q, WallClock::now());
      if (head) return HttpReply{200, "application/json", "", ""};  // checked, nothing read
      bool heavy = req.until - req.since > kHeavyHistoryRange;
      if (heavy && heavy_busy->exchange(true))
        return HttpReply{503, "text/plain; charset=utf-8",
                         "history: one request over more than 24h at a time; retry\n",
                         "Retry-After: 2\r\n"};
      struct Release {
        std::atomic<bool>* flag;
        ~Release() {
          if (flag) flag->store(false);
        }
      } release{heavy ? heavy_busy.get() : nullptr};
      return HttpReply{
          200, "application/json",
          history_api(dir, req).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace), ""};
    } catch (const HistoryQueryError& e) {
      return HttpReply{400, "text/plain; charset=utf-8", std::string(e.what()) + "\n", ""};
    } catch (const HistoryTooCostly& e) {  // no Retry-After: the same request would fail again
      return HttpReply{503, "text/plain; charset=utf-8", std::string(e.what()) + "\n", ""};
    }
  };
}

}  // namespace mobasher
