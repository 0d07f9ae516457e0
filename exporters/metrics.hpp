// Snapshot (+ the agent's own counters) -> Prometheus metric families and their text exposition.
#pragma once

#include <prometheus/client_metric.h>
#include <prometheus/metric_family.h>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "agent/snapshot.hpp"
#include "exporters/history_writer.hpp"
#include "exporters/self_metrics.hpp"

namespace mobasher {

// What the restart actions did (agent/actions/restarter.hpp); absent when actions are disabled.
struct ActionStats {
  std::map<std::vector<std::string>, uint64_t> total;  // {action, cause, result} -> count
  size_t in_flight = 0;
  bool bus_connected = false;
  size_t age_unknown = 0;  // units with max_age whose age could not be known: no age restart
};

struct AgentStats {
  std::string version;
  uint64_t scans_total = 0;
  std::map<std::string, uint64_t> scan_errors_total;  // by source
  prometheus::ClientMetric::Histogram scan_duration;
  std::map<std::string, std::map<std::string, uint64_t>> notifications_total;  // receiver, result
  std::map<std::string, size_t> notification_queue;                            // by receiver
  std::optional<HistoryStatus> history;  // absent: no history store (once, status --local)
  std::optional<ActionStats> actions;
};

std::vector<prometheus::MetricFamily> build_families(const Snapshot& snap, const AgentStats& agent,
                                                     const std::optional<SelfStats>& self);
std::string render_exposition(const std::vector<prometheus::MetricFamily>& families);

}  // namespace mobasher
