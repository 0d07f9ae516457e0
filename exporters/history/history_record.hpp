// The records of the history store (DESIGN §5 "History"), one JSON object per line with a fixed
// start that the reader filters on without parsing:
//   {"ts":"2026-12-01T11:17:11.123Z","type":"sample","unit":"archiver@ch1.service",...}
// type "sample" with a unit: rss, swap, usage, working_set, limit, processes (all bytes or
// counts; usage/working_set absent without a memory cgroup), top {pid, comm, rss} (the largest
// ffmpeg child, else the largest non-main process), and, only when non-zero, restarts {cause: n}
// and oom_kills {total, cgroup, generation} (what re-seeds the counters after a restart).
// type "sample" without a unit: the node (mem_total, mem_available, swap_total, swap_free).
// Events: alert_firing / alert_resolved {alert, severity, value, threshold}, restart {cause,
// total}, oom_kill {increase, total}, action_failed {...}, agent_start {version, pid, config},
// agent_stop {reason}; unit absent for node and agent events.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "agent/base/snapshot.hpp"

namespace mobasher {

// Where `,"type":"` starts in every record: after `{"ts":"`, the 24-byte time and its quote.
inline constexpr size_t kHistoryTypeAt = 32;

std::string history_unit_sample(const UnitSample& u, WallTime t);
std::string history_node_sample(const NodeSample& n, WallTime t);
// fields: an object of extra members, written after ts, type and unit (unit "" = absent).
std::string history_event(std::string_view type, WallTime t, std::string_view unit,
                          const nlohmann::ordered_json& fields = nlohmann::ordered_json::object());

// archiver@ch1 -> archiver@ch1.service; a name with a unit suffix (.service, .scope, ...) stays.
std::string history_unit_name(std::string_view unit);

}  // namespace mobasher
