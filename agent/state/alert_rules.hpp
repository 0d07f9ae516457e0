// What each alert checks and says: one snapshot's view of one unit (or the node) turned into a
// condition with hysteresis and human-readable annotations. The phase machine is alerts.hpp's.
#pragma once

#include <array>
#include <chrono>
#include <optional>
#include <string>
#include <string_view>

#include "agent/base/quantities.hpp"
#include "agent/base/snapshot.hpp"

namespace mobasher {

inline constexpr std::array<std::string_view, 8> kUnitAlerts = {
    "MobasherUnitMemoryHigh",
    "MobasherUnitMemoryCritical",
    "MobasherUnitMemoryExhaustionPredicted",
    "MobasherUnitOOMKilled",
    "MobasherUnitRestartLoop",
    "MobasherUnitDown",
    "MobasherUnitActionFailed",
    "MobasherUnitNoMemoryLimit"};
inline constexpr std::array<std::string_view, 2> kNodeAlerts = {"MobasherNodeMemoryLow",
                                                                "MobasherNodeSwapHigh"};

// A firing value alert clears only 5 % on the safe side of its threshold: a unit hovering at
// 1.5 GiB fires once instead of flapping. The Prometheus rules use the same margin.
inline constexpr double kHysteresis = 0.05;
// OOM kills and restarts count within this window; RestartLoop needs this many in it.
inline constexpr double kEventWindowSeconds = 15 * 60;
inline constexpr size_t kRestartLoopCount = 3;

// What the evaluator remembers of a unit between snapshots for the event alerts.
struct UnitEvents {
  std::optional<double> last_oom_kill;  // unix seconds of the last OOM kill seen
  size_t restarts_in_window = 0;        // restarts of any cause in the last 15 minutes
};

struct AlertCheck {
  bool on = false;    // the condition that starts an alert
  bool hold = false;  // the (looser) condition that keeps it pending or firing
  const char* severity = "";
  bool immediate = false;  // an event (OOM kill, restart loop): fires without waiting `for`
  double value = 0, threshold = 0;
  std::optional<double> limit;
  std::string summary, description;
};

const char* alert_severity(std::string_view alert);
// An alert's value as a person reads it: bytes for the memory alerts, "6m12s" for the
// prediction, a plain count for OOM kills and restarts.
std::string format_alert_value(std::string_view alert, double v);

// u == nullptr: the unit vanished (its cgroup is gone), which only MobasherUnitDown holds for.
// text: also write summary and description (only needed when a notification is made; the
// conditions alone are checked every scan for every unit, and cost far less).
AlertCheck check_unit_alert(std::string_view alert, const UnitSample* u, std::string_view unit,
                            const UnitEvents& ev, bool measure_working_set, double now,
                            bool text = true);
AlertCheck check_node_alert(std::string_view alert, const NodeSample& n, bool text = true);

}  // namespace mobasher
