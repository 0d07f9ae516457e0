// What each alert checks and says: one snapshot's view of one unit (or the node) turned into a
// condition with hysteresis and human-readable annotations. The phase machine is alerts.hpp's.
#pragma once

#include <array>
#include <chrono>
#include <optional>
#include <string>
#include <string_view>

#include "agent/base/enum_names.hpp"
#include "agent/base/quantities.hpp"
#include "agent/base/snapshot.hpp"

namespace mobasher {

// Every alert the agent evaluates. Its name (kAlerts) is the `alertname` label, the key in
// alerts.json, the outbox and history records, and the Prometheus rules' name (alerts/).
enum class Alert {
  unit_memory_high,
  unit_memory_critical,
  unit_memory_exhaustion_predicted,
  unit_oom_killed,
  unit_restart_loop,
  unit_down,
  unit_action_failed,
  unit_no_memory_limit,
  node_memory_low,
  node_swap_high,
};

enum class Severity { warning, critical };
inline constexpr std::array<EnumName<Severity>, 2> kSeverities = {
    {{Severity::warning, "warning"}, {Severity::critical, "critical"}}};
constexpr const auto& enum_table(Severity) {
  return kSeverities;
}

// How an alert's value reads: bytes, a time ("6m12s"), or a plain count.
enum class AlertValue { bytes, seconds, count };

struct AlertInfo {
  Alert value;
  const char* name;
  Severity severity;
  AlertValue reads_as;
  bool immediate;  // an event (OOM kill, restart loop, failed action): fires without waiting `for`
};
inline constexpr std::array<AlertInfo, 10> kAlerts = {{
    {Alert::unit_memory_high, "MobasherUnitMemoryHigh", Severity::warning, AlertValue::bytes,
     false},
    {Alert::unit_memory_critical, "MobasherUnitMemoryCritical", Severity::critical,
     AlertValue::bytes, false},
    {Alert::unit_memory_exhaustion_predicted, "MobasherUnitMemoryExhaustionPredicted",
     Severity::warning, AlertValue::seconds, false},
    {Alert::unit_oom_killed, "MobasherUnitOOMKilled", Severity::critical, AlertValue::count, true},
    {Alert::unit_restart_loop, "MobasherUnitRestartLoop", Severity::critical, AlertValue::count,
     true},
    {Alert::unit_down, "MobasherUnitDown", Severity::critical, AlertValue::count, false},
    {Alert::unit_action_failed, "MobasherUnitActionFailed", Severity::critical, AlertValue::count,
     true},
    {Alert::unit_no_memory_limit, "MobasherUnitNoMemoryLimit", Severity::warning, AlertValue::bytes,
     false},
    {Alert::node_memory_low, "MobasherNodeMemoryLow", Severity::critical, AlertValue::bytes, false},
    {Alert::node_swap_high, "MobasherNodeSwapHigh", Severity::warning, AlertValue::bytes, false},
}};
constexpr const auto& enum_table(Alert) {
  return kAlerts;
}
constexpr bool alerts_in_enum_order() {
  for (size_t i = 0; i < kAlerts.size(); ++i)
    if (kAlerts[i].value != static_cast<Alert>(i)) return false;
  return true;
}
static_assert(alerts_in_enum_order(), "kAlerts lists every Alert, in the enum's order");
constexpr const AlertInfo& alert_info(Alert a) {
  return kAlerts[static_cast<size_t>(a)];
}

// In the order the status JSON, the metrics and the page show them.
inline constexpr std::array<Alert, 8> kUnitAlerts = {
    Alert::unit_memory_high,   Alert::unit_memory_critical, Alert::unit_memory_exhaustion_predicted,
    Alert::unit_oom_killed,    Alert::unit_restart_loop,    Alert::unit_down,
    Alert::unit_action_failed, Alert::unit_no_memory_limit};
inline constexpr std::array<Alert, 2> kNodeAlerts = {Alert::node_memory_low, Alert::node_swap_high};

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
  bool on = false;         // the condition that starts an alert
  bool hold = false;       // the (looser) condition that keeps it pending or firing
  bool immediate = false;  // alert_info().immediate
  double value = 0, threshold = 0;
  std::optional<double> limit;
  std::string summary, description;
};

// By name, as records and the status JSON carry it; a name the agent does not know: critical.
Severity alert_severity(std::string_view alert);
// An alert's value as a person reads it (alert_info().reads_as): bytes for the memory alerts,
// "6m12s" for the prediction, a plain count for OOM kills and restarts; by name, as records and
// notifications carry it (an unknown name: bytes).
std::string format_alert_value(std::string_view alert, double v);

// u == nullptr: the unit vanished (its cgroup is gone), which only MobasherUnitDown holds for.
// text: also write summary and description (only needed when a notification is made; the
// conditions alone are checked every scan for every unit, and cost far less).
// alert: one of kUnitAlerts.
AlertCheck check_unit_alert(Alert alert, const UnitSample* u, std::string_view unit,
                            const UnitEvents& ev, Measure measure, double now, bool text = true);
// alert: one of kNodeAlerts.
AlertCheck check_node_alert(Alert alert, const NodeSample& n, bool text = true);

}  // namespace mobasher
