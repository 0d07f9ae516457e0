// The alert evaluator: (its state, a snapshot, the snapshot's time) -> notifications. Pending ->
// firing after `for`, repeat every repeat_interval, resolved with hysteresis; no I/O, no clock
// of its own (time is the snapshot's). The daemon persists to_json() and feeds back load_json().
#pragma once

#include <array>
#include <deque>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "agent/base/enum_names.hpp"
#include "agent/base/snapshot.hpp"
#include "agent/config/config.hpp"
#include "agent/state/alert_rules.hpp"

namespace mobasher {

// Why a notification is sent: the alert started firing, is still firing (every
// repeat_interval, and the keep-alives of alertmanager-api receivers), or resolved.
enum class NotificationKind { firing, repeat, resolved };
inline constexpr std::array<EnumName<NotificationKind>, 3> kNotificationKinds = {
    {{NotificationKind::firing, "firing"},
     {NotificationKind::repeat, "repeat"},
     {NotificationKind::resolved, "resolved"}}};
constexpr const auto& enum_table(NotificationKind) {
  return kNotificationKinds;
}

// What a receiver is told, as Alertmanager's `status`: a repeat is still firing.
enum class NotificationStatus { firing, resolved };
inline constexpr std::array<EnumName<NotificationStatus>, 2> kNotificationStatuses = {
    {{NotificationStatus::firing, "firing"}, {NotificationStatus::resolved, "resolved"}}};
constexpr const auto& enum_table(NotificationStatus) {
  return kNotificationStatuses;
}

struct Notification {
  NotificationKind kind = NotificationKind::firing;
  std::string alertname, fingerprint;
  std::map<std::string, std::string> labels, annotations;
  double starts_at = 0;           // unix seconds: when the alert became pending
  std::optional<double> ends_at;  // resolved: when it resolved
  double at = 0;                  // unix seconds: when this notification was made
  double value = 0, threshold = 0;
  std::optional<double> limit;

  NotificationStatus status() const {
    return kind == NotificationKind::resolved ? NotificationStatus::resolved
                                              : NotificationStatus::firing;
  }
  nlohmann::json to_json() const;
  static Notification from_json(const nlohmann::json& j);  // throws nlohmann::json::exception
};

// Alertmanager's fingerprint of a label set (FNV-1a 64 over sorted names and values).
std::string label_fingerprint(const std::map<std::string, std::string>& labels);

struct AlertSettings {
  Duration for_duration{30'000}, repeat_interval{4 * 3600'000};
  bool resolve = true;
  Measure measure = Measure::rss;
  std::string instance;
  Size node_memory_available_min{0, 10.0}, node_swap_used_max{0, 80.0};
  std::set<std::string> groups;  // configured groups: a vanished unit of another is forgotten
};
AlertSettings alert_settings(const Config& c, const std::string& default_instance);

class AlertEvaluator {
 public:
  explicit AlertEvaluator(AlertSettings s) : s_(std::move(s)) {}
  void set_settings(AlertSettings s) { s_ = std::move(s); }

  // Fills the alert states (and node thresholds) into snap; returns the transitions and repeats.
  std::vector<Notification> evaluate(Snapshot& snap);
  // Every alert that is firing now, as a repeat notification (for receivers that need a
  // keep-alive, like Alertmanager's API).
  std::vector<Notification> firing(double now) const;

  nlohmann::json to_json() const;
  void load_json(const nlohmann::json& j);  // throws nlohmann::json::exception on bad shape
  bool dirty() const { return dirty_; }
  void mark_saved() { dirty_ = false; }
  size_t tracked_alerts() const { return alerts_.size(); }

  static constexpr size_t kMaxUnits = 1024;
  static constexpr double kForgetVanishedSeconds = 24 * 3600;

 private:
  struct Instance {
    Alert alert = Alert::unit_down;
    std::string unit;  // empty for node alerts
    std::map<std::string, std::string> labels;
    AlertPhase phase = AlertPhase::pending;
    double active_since = 0, last_notified = 0;
    AlertCheck last;
  };
  struct UnitMemory {
    std::string group, channel;
    double last_seen = 0;
    std::optional<double> last_oom_kill;
    std::deque<double> restarts;  // times of the restarts in the window, bounded
  };

  static Instance instance(Alert alert, const std::string& unit,
                           std::map<std::string, std::string> labels);
  UnitEvents observe(UnitMemory& m, const UnitSample& u, const std::vector<UnitEvent>& events,
                     double now);
  // c: the condition (numbers only); make(): the instance when it starts; describe(): the
  // condition with its texts, called only when a notification is made.
  template <typename Make, typename Describe>
  void step(const std::string& key, const AlertCheck& c, Make&& make, Describe&& describe,
            double now, std::vector<Notification>& out);
  std::set<std::string_view> evaluate_units(Snapshot& snap, double now,
                                            std::vector<Notification>& out);
  void evaluate_vanished(const Snapshot& snap, const std::set<std::string_view>& present,
                         double now, std::vector<Notification>& out);
  void evaluate_node(NodeSample& n, double now, std::vector<Notification>& out);
  Notification make_notification(const Instance& a, NotificationKind kind, double now) const;
  AlertPhase phase_of(const std::string& key) const;
  std::map<std::string, std::string> unit_labels(Alert alert, const std::string& unit,
                                                 const UnitMemory& m) const;

  AlertSettings s_;
  std::map<std::string, Instance> alerts_;  // key: alert name + '\n' + unit
  std::map<std::string, UnitMemory> units_;
  bool dirty_ = false;
};

}  // namespace mobasher
