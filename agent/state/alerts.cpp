#include "agent/state/alerts.hpp"

#include <algorithm>

#include "agent/base/slots.hpp"

namespace mobasher {
namespace {

std::string key_of(Alert alert, const std::string& unit) {
  return std::string(to_string(alert)) + '\n' + unit;
}

}  // namespace

AlertEvaluator::Instance AlertEvaluator::instance(Alert alert, const std::string& unit,
                                                  std::map<std::string, std::string> labels) {
  Instance a;
  a.alert = alert;
  a.unit = unit;
  a.labels = std::move(labels);
  return a;
}

std::string label_fingerprint(const std::map<std::string, std::string>& labels) {
  // Alertmanager's model.LabelSet.Fingerprint: FNV-1a 64 over name, 0xff, value, 0xff in name
  // order (std::map iterates sorted), so the same alert has the same fingerprint in both.
  uint64_t h = 14695981039346656037ull;
  auto add = [&](std::string_view s) {
    for (unsigned char c : s) h = (h ^ c) * 1099511628211ull;
    h = (h ^ 0xffu) * 1099511628211ull;
  };
  for (const auto& [k, v] : labels) add(k), add(v);
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(h));
  return buf;
}

nlohmann::json Notification::to_json() const {
  nlohmann::json j = {{"status", to_string(status())},
                      {"kind", to_string(kind)},
                      {"alertname", alertname},
                      {"fingerprint", fingerprint},
                      {"labels", labels},
                      {"annotations", annotations},
                      {"starts_at", starts_at},
                      {"at", at},
                      {"value", value},
                      {"threshold", threshold}};
  if (ends_at) j["ends_at"] = *ends_at;
  if (limit) j["limit"] = *limit;
  return j;
}

Notification Notification::from_json(const nlohmann::json& j) {
  Notification n;
  if (!parse_enum<NotificationStatus>(j.at("status").get<std::string>()))
    throw nlohmann::json::other_error::create(501, "status is not firing or resolved", &j);
  auto kind = parse_enum<NotificationKind>(j.at("kind").get<std::string>());
  if (!kind)
    throw nlohmann::json::other_error::create(501, "kind is not firing, repeat or resolved", &j);
  n.kind = *kind;
  n.alertname = j.at("alertname").get<std::string>();
  n.fingerprint = j.at("fingerprint").get<std::string>();
  n.labels = j.at("labels").get<std::map<std::string, std::string>>();
  n.annotations = j.at("annotations").get<std::map<std::string, std::string>>();
  n.starts_at = j.at("starts_at").get<double>();
  n.at = j.at("at").get<double>();
  n.value = j.at("value").get<double>();
  n.threshold = j.at("threshold").get<double>();
  if (j.contains("ends_at")) n.ends_at = j["ends_at"].get<double>();
  if (j.contains("limit")) n.limit = j["limit"].get<double>();
  return n;
}

AlertSettings alert_settings(const Config& c, const std::string& default_instance) {
  AlertSettings s;
  s.for_duration = c.alerts.for_duration;
  s.repeat_interval = c.alerts.repeat_interval;
  s.resolve = c.alerts.resolve;
  s.measure = c.measure;
  s.instance = c.alerts.instance.empty() ? default_instance : c.alerts.instance;
  s.node_memory_available_min = c.alerts.node_memory_available_min;
  s.node_swap_used_max = c.alerts.node_swap_used_max;
  for (const auto& g : c.groups) s.groups.insert(g.name);
  return s;
}

// The tracker decided this scan's restarts and OOM kills (snap.events); the evaluator keeps when
// they happened, for the restart-loop and OOM alerts.
UnitEvents AlertEvaluator::observe(UnitMemory& m, const UnitSample& u,
                                   const std::vector<UnitEvent>& events, double now) {
  m.group = u.group;
  m.channel = u.channel;
  m.last_seen = now;
  for (const auto& e : events) {
    if (e.unit != u.unit) continue;
    if (e.kind == UnitEvent::Kind::oom_kill) m.last_oom_kill = now, dirty_ = true;
    if (e.kind != UnitEvent::Kind::restart) continue;
    for (uint64_t i = 0; i < e.increase && m.restarts.size() < 64; ++i) m.restarts.push_back(now);
    dirty_ = true;
  }
  while (!m.restarts.empty() && now - m.restarts.front() >= kEventWindowSeconds)
    m.restarts.pop_front(), dirty_ = true;
  return UnitEvents{m.last_oom_kill, m.restarts.size()};
}

std::map<std::string, std::string> AlertEvaluator::unit_labels(Alert alert, const std::string& unit,
                                                               const UnitMemory& m) const {
  return {{"alertname", to_string(alert)},
          {"severity", to_string(alert_info(alert).severity)},
          {"unit", unit},
          {"group", m.group},
          {"channel", m.channel},
          {"instance", s_.instance}};
}

Notification AlertEvaluator::make_notification(const Instance& a, NotificationKind kind,
                                               double now) const {
  Notification n;
  n.kind = kind;
  n.alertname = to_string(a.alert);
  n.labels = a.labels;
  n.fingerprint = label_fingerprint(a.labels);
  n.annotations = {{"summary", a.last.summary}, {"description", a.last.description}};
  n.starts_at = a.active_since;
  if (kind == NotificationKind::resolved) n.ends_at = now;
  n.at = now;
  n.value = a.last.value;
  n.threshold = a.last.threshold;
  n.limit = a.last.limit;
  return n;
}

template <typename Make, typename Describe>
void AlertEvaluator::step(const std::string& key, const AlertCheck& c, Make&& make,
                          Describe&& describe, double now, std::vector<Notification>& out) {
  auto it = alerts_.find(key);
  if (it == alerts_.end()) {
    if (!c.on) return;
    Instance a = make();
    a.phase = AlertPhase::pending;
    a.active_since = now;
    it = alerts_.emplace(key, std::move(a)).first;
    dirty_ = true;
  }
  Instance& a = it->second;
  if (!c.hold) {
    if (a.phase == AlertPhase::firing && s_.resolve) {
      // The resolve says what the value is now, not what it was when the alert fired.
      AlertCheck full = describe();
      if (!full.summary.empty()) a.last = std::move(full);
      a.last.summary = "resolved: " + a.last.summary;
      out.push_back(make_notification(a, NotificationKind::resolved, now));
    }
    alerts_.erase(it);
    dirty_ = true;
    return;
  }
  a.last.value = c.value;
  a.last.threshold = c.threshold;
  a.last.limit = c.limit;
  if (a.phase == AlertPhase::pending &&
      (c.immediate || now - a.active_since >= seconds(s_.for_duration))) {
    a.phase = AlertPhase::firing;
    a.last_notified = now;
    a.last = describe();
    out.push_back(make_notification(a, NotificationKind::firing, now));
    dirty_ = true;
  } else if (a.phase == AlertPhase::firing &&
             now - a.last_notified >= seconds(s_.repeat_interval)) {
    a.last_notified = now;
    a.last = describe();
    out.push_back(make_notification(a, NotificationKind::repeat, now));
    dirty_ = true;
  }
}

AlertPhase AlertEvaluator::phase_of(const std::string& key) const {
  auto a = alerts_.find(key);
  return a == alerts_.end() ? AlertPhase::inactive : a->second.phase;
}

std::vector<Notification> AlertEvaluator::evaluate(Snapshot& snap) {
  double now = unix_seconds(snap.taken_at);
  std::vector<Notification> out;
  std::set<std::string_view> present = evaluate_units(snap, now, out);
  evaluate_vanished(snap, present, now, out);
  evaluate_node(snap.node, now, out);
  return out;
}

// The units in the snapshot; returns their names.
std::set<std::string_view> AlertEvaluator::evaluate_units(Snapshot& snap, double now,
                                                          std::vector<Notification>& out) {
  std::set<std::string_view> present;
  for (auto& u : snap.units) {
    present.insert(u.unit);
    auto mit = units_.find(u.unit);
    if (mit == units_.end()) {
      if (units_.size() >= kMaxUnits) continue;  // bounded; such a unit gets no alerts
      mit = units_.emplace(u.unit, UnitMemory{}).first;
      dirty_ = true;
    }
    const UnitMemory& m = mit->second;
    UnitEvents ev = observe(mit->second, u, snap.events, now);
    u.alerts.reserve(kUnitAlerts.size());
    for (auto alert : kUnitAlerts) {
      std::string key = key_of(alert, u.unit);
      step(
          key, check_unit_alert(alert, &u, u.unit, ev, s_.measure, now, false),
          [&] { return instance(alert, u.unit, unit_labels(alert, u.unit, m)); },
          [&] { return check_unit_alert(alert, &u, u.unit, ev, s_.measure, now); }, now, out);
      u.alerts.emplace_back(to_string(alert), phase_of(key));
    }
  }
  return present;
}

// Units seen before and absent now: stopped or failed (systemd removed the cgroup). They stay
// down until they return, their group is no longer configured, or a day has passed.
void AlertEvaluator::evaluate_vanished(const Snapshot& snap,
                                       const std::set<std::string_view>& present, double now,
                                       std::vector<Notification>& out) {
  for (auto mit = units_.begin(); mit != units_.end();) {
    // Named references, not a structured binding: the lambdas below capture them (clang 14,
    // which builds the fuzzers, cannot capture a structured binding).
    const std::string& unit = mit->first;
    const auto& m = mit->second;
    if (present.count(unit)) {
      ++mit;
      continue;
    }
    // The old slot of a hand-over is stopped on purpose while the other one records.
    std::optional<std::string> other = other_slot(unit);
    bool handed_over =
        other && std::any_of(snap.units.begin(), snap.units.end(),
                             [&](const UnitSample& u) { return u.unit == *other && u.up(); });
    bool forget =
        handed_over || !s_.groups.count(m.group) || now - m.last_seen > kForgetVanishedSeconds;
    for (auto alert : kUnitAlerts) {
      auto describe = [&] {
        AlertCheck c = check_unit_alert(alert, nullptr, unit, {}, s_.measure, now);
        if (handed_over) {
          c.on = c.hold = false;
          c.summary = unit + " handed over to " + *other;
          c.description = unit + " was stopped after " + *other +
                          " took over the recording (overlap hand-over).";
        } else if (forget) {  // resolves, and says why: the unit did not come back
          c.on = c.hold = false;
          c.summary = unit + " is no longer tracked";
          c.description = unit + " has been gone for more than " +
                          std::to_string(static_cast<int>(kForgetVanishedSeconds / 3600)) +
                          " h, or its group is no longer configured: the agent stops reporting "
                          "it. If the channel should still be recorded, start the unit.";
        }
        return c;
      };
      AlertCheck c = check_unit_alert(alert, nullptr, unit, {}, s_.measure, now, false);
      if (forget) c.on = c.hold = false;
      step(
          key_of(alert, unit), c,
          [&] { return instance(alert, unit, unit_labels(alert, unit, m)); }, describe, now, out);
    }
    if (forget) {
      mit = units_.erase(mit);
      dirty_ = true;
    } else {
      ++mit;
    }
  }
}

// The node's thresholds, filled in for the exporters, and its alerts.
void AlertEvaluator::evaluate_node(NodeSample& n, double now, std::vector<Notification>& out) {
  if (n.mem_total) n.memory_available_min = s_.node_memory_available_min.resolve(*n.mem_total);
  if (n.swap_total && *n.swap_total > 0)
    n.swap_used_max = s_.node_swap_used_max.resolve(*n.swap_total);
  for (auto alert : kNodeAlerts) {
    std::string key = key_of(alert, "");
    step(
        key, check_node_alert(alert, n, false),
        [&] {
          return instance(alert, "",
                          {{"alertname", to_string(alert)},
                           {"severity", to_string(alert_info(alert).severity)},
                           {"instance", s_.instance}});
        },
        [&] { return check_node_alert(alert, n); }, now, out);
    n.alerts.emplace_back(to_string(alert), phase_of(key));
  }
}

std::vector<Notification> AlertEvaluator::firing(double now) const {
  std::vector<Notification> out;
  for (const auto& [key, a] : alerts_)
    if (a.phase == AlertPhase::firing)
      out.push_back(make_notification(a, NotificationKind::repeat, now));
  return out;
}

nlohmann::json AlertEvaluator::to_json() const {
  nlohmann::json alerts = nlohmann::json::array(), units = nlohmann::json::object();
  for (const auto& [key, a] : alerts_) {
    alerts.push_back({{"alertname", to_string(a.alert)},
                      {"unit", a.unit},
                      {"labels", a.labels},
                      {"phase", to_string(a.phase)},
                      {"active_since", a.active_since},
                      {"last_notified", a.last_notified},
                      {"value", a.last.value},
                      {"threshold", a.last.threshold},
                      {"summary", a.last.summary},
                      {"description", a.last.description}});
    if (a.last.limit) alerts.back()["limit"] = *a.last.limit;
  }
  for (const auto& [unit, m] : units_) {
    nlohmann::json j = {{"group", m.group},
                        {"channel", m.channel},
                        {"last_seen", m.last_seen},
                        {"restarts", m.restarts}};
    if (m.last_oom_kill) j["last_oom_kill"] = *m.last_oom_kill;
    units[unit] = std::move(j);
  }
  return {{"version", 1}, {"alerts", alerts}, {"units", units}};
}

void AlertEvaluator::load_json(const nlohmann::json& j) {
  if (j.at("version").get<int>() != 1)
    throw nlohmann::json::other_error::create(501, "unsupported alert state version", &j);
  std::map<std::string, Instance> alerts;
  std::map<std::string, UnitMemory> units;
  for (const auto& v : j.at("alerts")) {
    Instance a;
    auto alert = parse_enum<Alert>(v.at("alertname").get<std::string>());
    a.unit = v.at("unit").get<std::string>();
    a.labels = v.at("labels").get<std::map<std::string, std::string>>();
    auto phase = parse_enum<AlertPhase>(v.at("phase").get<std::string>());
    if (phase != AlertPhase::pending && phase != AlertPhase::firing)
      throw nlohmann::json::other_error::create(501, "phase is not pending or firing", &v);
    a.phase = *phase;
    a.active_since = v.at("active_since").get<double>();
    a.last_notified = v.at("last_notified").get<double>();
    a.last.value = v.at("value").get<double>();
    a.last.threshold = v.at("threshold").get<double>();
    a.last.summary = v.at("summary").get<std::string>();
    a.last.description = v.at("description").get<std::string>();
    if (v.contains("limit")) a.last.limit = v["limit"].get<double>();
    if (!alert) continue;  // an alert this version does not evaluate: it ends here, unannounced
    a.alert = *alert;
    if (alerts.size() < kMaxUnits * (kUnitAlerts.size() + 1))
      alerts.emplace(key_of(a.alert, a.unit), std::move(a));
  }
  for (const auto& [unit, v] : j.at("units").items()) {
    if (units.size() >= kMaxUnits) break;
    UnitMemory m;
    m.group = v.at("group").get<std::string>();
    m.channel = v.at("channel").get<std::string>();
    m.last_seen = v.at("last_seen").get<double>();
    for (const auto& t : v.at("restarts")) m.restarts.push_back(t.get<double>());
    if (v.contains("last_oom_kill")) m.last_oom_kill = v["last_oom_kill"].get<double>();
    units.emplace(unit, std::move(m));
  }
  alerts_ = std::move(alerts);
  units_ = std::move(units);
  dirty_ = false;
}

}  // namespace mobasher
