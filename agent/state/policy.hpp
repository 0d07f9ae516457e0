// The restart policy: (its state, a snapshot, the snapshot's time, the settings) -> decisions.
// No I/O, no clock of its own: the executor (agent/actions/executor.hpp) carries decisions out and
// reports back with started()/finished(); the daemon persists to_json() across agent restarts.
#pragma once

#include <array>
#include <deque>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "agent/base/enum_names.hpp"
#include "agent/base/slots.hpp"
#include "agent/base/snapshot.hpp"
#include "agent/config/config.hpp"

namespace mobasher {

// What the executor does: RestartUnit, or the overlapping hand-over (the `action` label).
enum class ActionKind { restart, handover };
inline constexpr std::array<EnumName<ActionKind>, 2> kActionKinds = {
    {{ActionKind::restart, "restart"}, {ActionKind::handover, "handover"}}};
constexpr const auto& enum_table(ActionKind) {
  return kActionKinds;
}

struct Decision {
  std::string unit, group;  // the unit to replace: for a hand-over, the running slot
  std::string target;       // hand-over: the idle slot to start; empty for a restart
  ActionKind action = ActionKind::restart;
  RestartCause cause = RestartCause::memory;  // memory, predicted, node_memory or age
  std::string reason;  // "rss 1.81GiB >= 1.80GiB (90% of 2GiB limit) for 30s"
  double value = 0, threshold = 0;
  bool dry_run = false;  // decided and logged, not carried out
};

// A candidate the policy would act on but may not now, reported once when the reason changes.
struct Held {
  std::string unit, group;
  RestartCause cause = RestartCause::memory;
  std::string why;  // "3 restarts of this unit in the last hour (max_per_unit_per_hour 3)"
};

struct PolicyResult {
  std::vector<Decision> decisions;
  std::vector<Held> held;
};

struct PolicyGroup {
  std::string name;
  bool systemd = true;  // units of a unit glob; process-matched groups have nothing to restart
  std::optional<Size> on_memory;
  double for_seconds = 30;
  std::optional<double> max_age_seconds, predict_seconds;
};

struct PolicySettings {
  bool enabled = true, dry_run = false;
  HandoverStrategy handover = HandoverStrategy::restart;
  Measure measure = Measure::rss;
  double min_gap = 600, cooldown = 120, retry_backoff = 300, max_retry_backoff = 3600;
  double emergency_gap = 5;
  // How long a group waits for its last restarted unit to be active again before it gives up
  // waiting (the unit failed by itself): the hand-over's start_timeout.
  double recover_wait = 60;
  Size node_memory_floor{0, 5.0};  // of MemTotal; 0: no node emergencies
  double node_memory_for = 30;
  int max_per_unit_per_hour = 3, max_per_hour = 12, max_concurrent = 1;
  std::vector<PolicyGroup> groups;
};
PolicySettings policy_settings(const Config& c);

// When a unit started at `start` is due for its age restart: the units of a group take turns at
// fixed points of the max_age cycle (unit i of n at i * max_age / n past a multiple of max_age,
// counted on the boot clock from boot, so agents agree after restarts and a wall clock step
// changes nothing). A unit restarts at its last turn
// before it reaches max_age, but never younger than max_age / 2: a unit started off its turn
// reaches it within two restarts and keeps it. A start up to 1 s before a turn counts as on it
// (/proc start times are up to 1 s early).
double age_due(double start, double max_age, size_t index, size_t count);

class Policy {
 public:
  explicit Policy(PolicySettings s) : s_(std::move(s)) {}
  void set_settings(PolicySettings s) { s_ = std::move(s); }
  const PolicySettings& settings() const { return s_; }

  // At most one decision per group, max_concurrent in all (memory emergencies: one per group). A
  // dry-run decision counts as started and finished at once (cooldown, min_gap and rate limits
  // apply as if it had been done). Every time is the snapshot's boot clock (boot_seconds).
  PolicyResult decide(const Snapshot& snap);

  // Units whose age could not be known in the last decide() (no start time, or one after now):
  // they get no age restart.
  size_t age_unknown() const { return age_unknown_; }

  // The executor began carrying d out at `now` / it ended (ok: the unit was replaced); `now` on
  // the boot clock (boot_clock_seconds()).
  void started(const Decision& d, double now);
  void finished(const std::string& unit, bool ok, double now);

  size_t in_flight() const { return in_flight_.size(); }
  nlohmann::json to_json() const;
  void load_json(const nlohmann::json& j);  // throws nlohmann::json::exception on bad shape
  bool dirty() const { return dirty_; }
  void mark_saved() { dirty_ = false; }

  static constexpr size_t kMaxUnits = 1024;
  static constexpr double kForgetSeconds = 24 * 3600;

 private:
  struct UnitState {
    std::optional<double> above_since, predicted_since;  // condition true continuously since
    std::deque<double> actions;                          // starts of actions in the last hour
    double last_finished = 0, backoff_until = 0;
    int failures = 0;  // consecutive failed actions: the back-off doubles with each
    double last_seen = 0;
    std::string held;  // the last reason reported in Held, to report changes only
  };
  struct GroupState {
    double last_started = 0, last_finished = 0;
    std::string last_unit;    // logical unit of the last action: must be active again ...
    double recovered_at = 0;  // ... since this (0: not yet) before the next emergency
    std::map<std::string, double> members;  // logical unit -> last seen: the age turns
    std::map<std::string, size_t> turns;    // logical unit -> its index among members
  };
  struct Candidate {
    const UnitSample* unit = nullptr;
    const PolicyGroup* group = nullptr;
    RestartCause cause = RestartCause::memory;
    double urgency = 0;  // larger first: share of the limit for memory, overdue seconds for age
    std::string reason;
    double value = 0, threshold = 0;
    bool interrupted = false;  // finishing a hand-over left half done: not held by min_gap
  };
  struct Block {
    std::string key;   // stable while the reason holds: a held candidate is reported once
    std::string text;  // for the operator
    bool report = false;
  };

  std::set<std::string> observe_groups(const Snapshot& snap,
                                       const std::map<std::string, const PolicyGroup*>& groups,
                                       const std::set<std::string>& busy_groups, double now);
  std::map<std::string, std::vector<Candidate>> unit_candidates(
      const Snapshot& snap, const std::map<std::string, const PolicyGroup*>& groups, double now);
  static std::vector<std::pair<std::string, std::vector<Candidate>>> most_urgent_first(
      std::map<std::string, std::vector<Candidate>> by_group);
  void choose(const Snapshot& snap, const std::vector<Candidate>& cands, bool busy, bool healthy,
              double now, PolicyResult& out);
  std::optional<Candidate> memory_candidate(const UnitSample& u, const PolicyGroup& g,
                                            UnitState& st, double now) const;
  std::optional<Candidate> predicted_candidate(const UnitSample& u, const PolicyGroup& g,
                                               UnitState& st, double now) const;
  std::optional<Candidate> age_candidate(const UnitSample& u, const PolicyGroup& g,
                                         const GroupState& gs, double now);
  // interrupted: the unit's other slot runs too and is younger (a hand-over left half done).
  std::optional<Candidate> candidate(const UnitSample& u, const PolicyGroup& g, UnitState& st,
                                     GroupState& gs, bool interrupted, double now);
  // Why c waits, if it does; `waived` names a hold an imminent memory emergency passed.
  std::optional<Block> blocked(const Candidate& c, const UnitState& st, const GroupState& gs,
                               bool group_healthy, double now, std::string& waived) const;
  std::optional<Candidate> node_candidate(const Snapshot& snap,
                                          const std::map<std::string, const PolicyGroup*>& groups,
                                          double now);
  void clamp(double now);
  Decision make_decision(const Candidate& c, const Snapshot& snap) const;
  void forget(double now);

  PolicySettings s_;
  std::map<std::string, UnitState> units_;
  std::map<std::string, GroupState> groups_;
  std::map<std::string, std::string> in_flight_;  // unit being replaced -> its group
  std::set<std::string> targets_;                 // hand-over slots being started
  std::deque<double> recent_;                     // starts of all actions in the last hour
  std::optional<double> node_low_since_;          // MemAvailable under the floor since
  size_t age_unknown_ = 0;
  bool dirty_ = false;
};

}  // namespace mobasher
