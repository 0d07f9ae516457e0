#include "agent/app/event_log.hpp"

#include <spdlog/spdlog.h>

#include "agent/state/alert_rules.hpp"

namespace mobasher {
namespace {

// The config's unit globs for messages: "archiver@*.service, recorder@*.service".
std::string unit_globs(const Config& c) {
  std::string out;
  for (const auto& g : c.groups) {
    if (!out.empty()) out += ", ";
    out +=
        g.units.empty() ? g.name + " (by " + (g.match->comm ? "comm" : "cmdline") + ")" : g.units;
  }
  return out.empty() ? "(no groups configured)" : out;
}

void log_event(const UnitEvent& e) {
  switch (e.kind) {
    case UnitEvent::Kind::appeared:
      spdlog::info("unit appeared unit={}", e.unit);
      break;
    case UnitEvent::Kind::vanished:
      spdlog::info("unit vanished unit={}", e.unit);
      break;
    case UnitEvent::Kind::restart:
      spdlog::info("restart observed unit={} cause={} total={}", e.unit, to_string(e.cause),
                   e.total);
      break;
    case UnitEvent::Kind::oom_kill:
      spdlog::warn("oom kill unit={} total={}", e.unit, e.total);
      break;
  }
}

void log_alert(const Notification& n) {
  auto it = n.labels.find("unit");
  const std::string& unit = it == n.labels.end() ? "-" : it->second;
  if (n.status() == NotificationStatus::firing)
    spdlog::warn("alert firing alert={} unit={} severity={} value={} threshold={} summary=\"{}\"",
                 n.alertname, unit, n.labels.at("severity"),
                 format_alert_value(n.alertname, n.value),
                 format_alert_value(n.alertname, n.threshold), n.annotations.at("summary"));
  else
    spdlog::info("alert resolved alert={} unit={}", n.alertname, unit);
}

}  // namespace

void EventLog::log(const Snapshot& snap, const std::vector<Notification>& notes, const Config& c,
                   const std::string& cgroup_root) {
  for (const auto& n : notes)
    if (n.kind != NotificationKind::repeat) log_alert(n);
  const bool has_units = !snap.units.empty();
  if (first_ || has_units != had_units_) {
    if (!has_units)
      spdlog::warn(
          "no units found patterns=\"{}\" cgroup_root={} cgroup_layout={}: serving node and "
          "agent metrics only",
          unit_globs(c), cgroup_root, snap.cgroup_layout);
    else
      spdlog::info("units found count={} cgroup_layout={}", snap.units.size(), snap.cgroup_layout);
  }
  first_ = false;
  had_units_ = has_units;
  for (const auto& e : snap.events) log_event(e);
}

}  // namespace mobasher
