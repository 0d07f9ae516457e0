#include "agent/state/alert_rules.hpp"

#include <cmath>
#include <cstdio>

namespace mobasher {
namespace {

std::string bytes(double b) {
  return format_bytes(b > 0 ? static_cast<uint64_t>(b) : 0);
}

std::string percent(double part, double whole) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "%.1f%%", whole > 0 ? 100.0 * part / whole : 0.0);
  return buf;
}

// "; growing 1.20MiB/s, limit in ~6m12s" when the tracker has a slope.
std::string growth_text(const UnitSample& u) {
  if (!u.growth_bytes_per_second || *u.growth_bytes_per_second <= 0) return "";
  std::string s = "; growing " + bytes(*u.growth_bytes_per_second) + "/s";
  if (u.seconds_to_limit) s += ", limit in ~" + format_seconds(*u.seconds_to_limit);
  return s;
}

AlertCheck threshold_check(const UnitSample& u, std::string_view level, uint64_t threshold,
                           Measure measure, bool text) {
  AlertCheck c;
  auto m = u.measured(measure);
  if (threshold == 0 || !m) return c;
  double v = static_cast<double>(*m), t = static_cast<double>(threshold);
  double limit = static_cast<double>(u.effective_limit());
  c.on = v >= t;
  c.hold = v >= t * (1 - kHysteresis);
  c.value = v;
  c.threshold = t;
  c.limit = limit;
  if (text) {
    const char* what = measure == Measure::working_set ? "working set" : "RSS";
    c.summary = u.unit + ": memory " + bytes(v) + " at or above the " + std::string(level) +
                " threshold " + bytes(t);
    c.description = u.unit + " (channel " + u.channel + ") uses " + bytes(v) + " (" + what + "), " +
                    (c.on ? "at or above" : "below") + " its " + std::string(level) +
                    " threshold of " + bytes(t) + "; limit " + bytes(limit) + " (" +
                    percent(v, limit) + " used)" + growth_text(u) + ".";
  }
  return c;
}

AlertCheck down_check(const UnitSample* u, const std::string& name, bool text) {
  AlertCheck c;
  c.on = c.hold = !u || !u->up();
  if (text) {
    c.summary = name + " is down";
    c.description = !u ? name + ": its cgroup is gone, so the unit is stopped or failed and " +
                             "nothing records this channel; check `systemctl status " + name +
                             "` and `journalctl -u " + name + "`."
                       : name + " has no running processes in its cgroup: nothing records this " +
                             "channel; check `journalctl -u " + name + "`.";
  }
  return c;
}

// The checks below fill c (limit and immediate already set) for a unit that is present.
void predicted_check(AlertCheck& c, const UnitSample& u, const std::string& name, Measure measure,
                     bool text) {
  c.threshold = u.predict_seconds;
  if (!u.seconds_to_limit || u.predict_seconds <= 0) return;
  c.value = *u.seconds_to_limit;
  c.on = c.value <= c.threshold;
  c.hold = c.value <= c.threshold * (1 + kHysteresis);
  if (text) {
    double m = static_cast<double>(u.measured(measure).value_or(0));
    c.summary =
        name + ": memory limit " + bytes(*c.limit) + " predicted in ~" + format_seconds(c.value);
    c.description = name + " (channel " + u.channel + ") uses " + bytes(m) + " and grows " +
                    bytes(u.growth_bytes_per_second.value_or(0)) + "/s: it reaches its limit of " +
                    bytes(*c.limit) + " in ~" + format_seconds(c.value) + ", within the " +
                    format_seconds(c.threshold) + " horizon.";
  }
}

void oom_check(AlertCheck& c, const UnitSample& u, const std::string& name, const UnitEvents& ev,
               double now, bool text) {
  c.threshold = 0;
  if (!ev.last_oom_kill) return;
  double ago = now - *ev.last_oom_kill;
  c.on = c.hold = ago < kEventWindowSeconds;
  c.value = static_cast<double>(u.oom_kills_total);
  if (text) {
    c.summary = name + ": a process was OOM-killed";
    c.description = "The kernel OOM-killed a process of " + name + " " + format_seconds(ago) +
                    " ago (" + std::to_string(u.oom_kills_total) + " OOM kills in all); limit " +
                    bytes(*c.limit) + ". The recording may have a gap: check `journalctl -u " +
                    name + "`.";
  }
}

void restart_loop_check(AlertCheck& c, const UnitSample& u, const std::string& name,
                        const UnitEvents& ev, bool text) {
  c.value = static_cast<double>(ev.restarts_in_window);
  c.threshold = static_cast<double>(kRestartLoopCount);
  c.on = c.hold = ev.restarts_in_window >= kRestartLoopCount;
  if (text) {
    c.summary =
        name + " restarted " + std::to_string(ev.restarts_in_window) + " times in 15 minutes";
    c.description = name + " restarted " + std::to_string(ev.restarts_in_window) +
                    " times in the last 15 minutes (" + std::to_string(u.oom_kills_total) +
                    " OOM kills in all): it is crash-looping and the channel is not being "
                    "recorded reliably.";
  }
}

// Sep 15: without a cgroup limit nothing stops a leak before the node runs out of memory, and
// every percentage silently refers to the configured memory_limit. Value: that fallback.
void no_limit_check(AlertCheck& c, const UnitSample& u, const std::string& name, bool text) {
  c.value = *c.limit;
  c.on = c.hold = u.up() && !u.memory.limit;
  if (text) {
    c.summary = name + ": no memory limit, the configured " + bytes(*c.limit) + " is not enforced";
    c.description = name + " (channel " + u.channel + ") runs with " +
                    (u.memory.present ? "no memory limit on its cgroup" : "no memory cgroup") +
                    ": nothing stops its memory before the host runs out, and the agent measures "
                    "it against the configured memory_limit of " +
                    bytes(*c.limit) + " instead. Set MemoryMax= on the unit (docs/alerts.md).";
  }
}

void action_failed_check(AlertCheck& c, const UnitSample& u, const std::string& name, bool text) {
  c.value = u.action_failures;
  c.threshold = 1;
  c.on = c.hold = u.action_failures > 0;
  if (text) {
    c.summary = name + ": the agent's restart failed " + std::to_string(u.action_failures) +
                (u.action_failures == 1 ? " time" : " times");
    c.description = u.action_error +
                    ". The agent backs off and tries again (docs/actions.md); until then the "
                    "unit keeps running as it is. Resolves when an action succeeds or the unit "
                    "restarts otherwise.";
  }
}

}  // namespace

Severity alert_severity(std::string_view alert) {
  auto a = parse_enum<Alert>(alert);
  return a ? alert_info(*a).severity : Severity::critical;
}

std::string format_alert_value(std::string_view alert, double v) {
  auto a = parse_enum<Alert>(alert);
  switch (a ? alert_info(*a).reads_as : AlertValue::bytes) {
    case AlertValue::seconds:
      return format_seconds(v);
    case AlertValue::count: {
      char buf[32];
      std::snprintf(buf, sizeof buf, "%.0f", v);
      return buf;
    }
    case AlertValue::bytes:
      break;
  }
  return bytes(v);
}

AlertCheck check_unit_alert(Alert alert, const UnitSample* u, std::string_view unit,
                            const UnitEvents& ev, Measure measure, double now, bool text) {
  const std::string name = text ? std::string(unit) : std::string();
  if (alert == Alert::unit_down) return down_check(u, name, text);
  if (!u) return {};  // a vanished unit holds no other alert: they resolve
  if (alert == Alert::unit_memory_high)
    return threshold_check(*u, "warning", u->warn_bytes, measure, text);
  if (alert == Alert::unit_memory_critical)
    return threshold_check(*u, "critical", u->critical_bytes, measure, text);

  AlertCheck c;
  c.immediate = alert_info(alert).immediate;
  c.limit = static_cast<double>(u->effective_limit());
  switch (alert) {
    case Alert::unit_memory_exhaustion_predicted:
      predicted_check(c, *u, name, measure, text);
      break;
    case Alert::unit_oom_killed:
      oom_check(c, *u, name, ev, now, text);
      break;
    case Alert::unit_restart_loop:
      restart_loop_check(c, *u, name, ev, text);
      break;
    case Alert::unit_no_memory_limit:
      no_limit_check(c, *u, name, text);
      break;
    case Alert::unit_action_failed:
      action_failed_check(c, *u, name, text);
      break;
    case Alert::unit_down:
    case Alert::unit_memory_high:
    case Alert::unit_memory_critical:
    case Alert::node_memory_low:
    case Alert::node_swap_high:
      break;
  }
  return c;
}

AlertCheck check_node_alert(Alert alert, const NodeSample& n, bool text) {
  AlertCheck c;
  if (alert == Alert::node_memory_low) {
    if (!n.mem_available || !n.memory_available_min || !n.mem_total) return c;
    c.value = static_cast<double>(*n.mem_available);
    c.threshold = static_cast<double>(*n.memory_available_min);
    c.limit = static_cast<double>(*n.mem_total);
    c.on = c.value < c.threshold;
    c.hold = c.value <= c.threshold * (1 + kHysteresis);
    if (text) {
      c.summary = "node memory available " + bytes(c.value) + " below " + bytes(c.threshold);
      c.description = "Only " + bytes(c.value) + " of " + bytes(*c.limit) + " (" +
                      percent(c.value, *c.limit) + ") is available, below the minimum of " +
                      bytes(c.threshold) + ": the OOM killer is near for every unit on this host.";
    }
  } else if (alert == Alert::node_swap_high) {
    if (!n.swap_total || !n.swap_free || !n.swap_used_max || *n.swap_total == 0) return c;
    c.value = static_cast<double>(*n.swap_total - std::min(*n.swap_free, *n.swap_total));
    c.threshold = static_cast<double>(*n.swap_used_max);
    c.limit = static_cast<double>(*n.swap_total);
    c.on = c.value >= c.threshold;
    c.hold = c.value >= c.threshold * (1 - kHysteresis);
    if (text) {
      c.summary = "node swap used " + bytes(c.value) + " at or above " + bytes(c.threshold);
      c.description = bytes(c.value) + " of " + bytes(*c.limit) + " swap (" +
                      percent(c.value, *c.limit) + ") is used, at or above " + bytes(c.threshold) +
                      ": the swap buffer is nearly spent.";
    }
  }
  return c;
}

}  // namespace mobasher
