// Snapshot (+ the agent's own counters) -> Prometheus metric families and their text exposition.
#pragma once

#include <prometheus/client_metric.h>
#include <prometheus/metric_family.h>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "agent/base/snapshot.hpp"
#include "agent/state/action_stats.hpp"
#include "collectors/self_metrics.hpp"
#include "exporters/history/history_writer.hpp"
#include "exporters/http/exposition.hpp"

namespace mobasher {

struct AgentStats {
  std::string version;
  uint64_t scans_total = 0;
  std::map<std::string, uint64_t> scan_errors_total;  // by source
  prometheus::ClientMetric::Histogram scan_duration;
  std::map<std::string, std::map<std::string, uint64_t>> notifications_total;  // receiver, result
  std::map<std::string, size_t> notification_queue;                            // by receiver
  std::optional<HistoryStatus> history;  // absent: no history store (once, status --local)
  std::optional<ActionStats> actions;
  std::optional<SelfStats> self;  // the process_* metrics; absent: not exported
};

std::vector<prometheus::MetricFamily> build_families(const Snapshot& snap, const AgentStats& agent,
                                                     const std::optional<SelfStats>& self);

}  // namespace mobasher
