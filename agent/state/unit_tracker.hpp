// What needs more than one snapshot: restarts seen as a change of the main process (pid,
// start time), OOM kills kept monotonic across cgroup re-creation, and memory growth.
// No I/O: the daemon persists to_json() and feeds back load_json() after a restart.
#pragma once

#include <array>
#include <cstdint>
#include <deque>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "agent/base/snapshot.hpp"

namespace mobasher {

// What the history store knows of a unit (exporters/history/history_seed.hpp): re-seeds the tracker
// after an agent restart, so counters and the growth estimate do not start from zero.
struct UnitSeed {
  std::vector<std::pair<double, double>> samples;  // (Unix seconds, bytes of the measure), in order
  std::map<RestartCause, uint64_t> restarts;
  uint64_t oom_total = 0, oom_cgroup = 0, oom_generation = 0;
  double last_seen = 0;
};

struct TrackerOptions {
  std::chrono::seconds growth_window{600};  // samples used for the growth slope
  size_t max_samples = 240;                 // per unit, bounded
  std::chrono::seconds forget_after{3600};  // a vanished unit's history is kept this long
  size_t max_units = 1024;
  Measure measure = Measure::rss;
};

class UnitTracker {
 public:
  explicit UnitTracker(TrackerOptions opts = {}) : opts_(opts) {}

  // Fills oom_kills_total, restarts, growth and seconds_to_limit of every unit in snap, and
  // snap.events: units that appeared or vanished since the last apply(), restarts by cause and
  // OOM kills (each counter's increase since the last apply(), or since load_json() and seed()
  // for a unit's first scan). This is the one place that decides them.
  void apply(Snapshot& snap);

  // Counters that must survive an agent restart. dirty(): changed since the last mark_saved().
  nlohmann::json to_json() const;
  void mark_saved() { dirty_ = false; }
  void load_json(const nlohmann::json& j);  // throws nlohmann::json::exception on bad shape
  // After load_json: adds what units.json lacks. Counters become the larger of both (each only
  // grows; units.json may be missing, unreadable or older after a full disk); growth samples
  // come from the history alone (units.json has none).
  // The seed's samples are dated on the wall clock; boot_minus_wall (boot_clock_seconds() minus
  // the Unix time, taken together) moves them onto the boot clock the tracker's samples use.
  void seed(const std::string& unit, const UnitSeed& s, double boot_minus_wall);
  // The agent is about to replace `unit` for `cause` (RestartUnit, or the new slot of a
  // hand-over): the next new main process seen before `until` (on the boot clock of
  // Snapshot::boot_seconds) is counted with that cause, not as external, also when the unit was
  // not tracked before (a slot that was stopped).
  void expect_restart(const std::string& unit, RestartCause cause, double until);
  void forget_expectation(const std::string& unit);  // the action failed: nothing to expect
  bool dirty() const { return dirty_; }
  size_t tracked_units() const { return units_.size(); }
  void set_options(TrackerOptions o);  // a change of measure starts the growth samples anew

 private:
  struct State {
    std::optional<ProcessId> main;      // the main process the unit was last seen with
    std::vector<ProcessId> members;     // all processes of the last scan, sorted
    uint64_t generation = 0;            // cgroup directory inode
    uint64_t oom_base = 0;              // OOM kills of earlier cgroup generations
    uint64_t oom_last_raw = 0;          // last value read from the current generation
    std::optional<double> oom_seen_at;  // an OOM kill not yet followed by a restart
    std::map<RestartCause, uint64_t> restarts;
    std::deque<std::pair<double, double>> samples;  // (boot seconds, bytes)
    double last_seen = 0;                           // Unix seconds
    std::optional<RestartCause> expected;           // expect_restart()
    double expected_until = 0;
    std::optional<uint32_t> n_restarts;  // systemd's NRestarts when last seen, and when
    double n_restarts_at = 0;
    // Restarts seen that an NRestarts increase may still explain (systemd's properties can be a
    // scan or two late): pending ones are not counted yet (systemd if NRestarts rises within
    // kMatchSeconds, else external); counted ones are OOM kills (they stay oom).
    struct Seen {
      double at = 0;
      bool pending = false;
    };
    std::deque<Seen> unmatched;
    uint64_t seen_in_apply = 0;  // the apply() that saw it last (appeared / vanished events)
  };
  struct Update {
    uint64_t oom_increase = 0;         // OOM kills the unit's cgroup counter showed this scan
    bool unexplained_restart = false;  // restarted into a new cgroup with no OOM evidence
  };
  Update update(State& st, UnitSample& u, double now, double wall);
  bool track_oom_kills(State& st, const UnitSample& u, double now, Update& r);
  void track_restart(State& st, const UnitSample& u, double now, bool regenerated, Update& r);
  void add_growth_sample(State& st, const UnitSample& u, double now) const;
  void attribute_node_ooms(uint64_t node_increase, uint64_t cgroup_increase,
                           const std::vector<std::pair<State*, UnitSample*>>& unexplained,
                           double now);
  void forget_stale(double wall);
  void match_systemd(State& st, const UnitSample& u, double now);
  void fill(const State& st, UnitSample& u) const;
  // A unit's counters when apply() began: what its events are the increase over.
  struct Before {
    State* st = nullptr;  // null: not tracked (max_units)
    std::array<uint64_t, kRestartCauses.size()> restarts{};
    uint64_t oom = 0;
    bool appeared = false;
  };
  void emit_events(Snapshot& snap);

  TrackerOptions opts_;
  std::map<std::string, State> units_;
  std::optional<uint64_t> last_node_oom_;
  // Node OOM kills (/proc/vmstat) that no unit's cgroup counter accounts for, and since when:
  // evidence for restarts whose old cgroup systemd removed before it could be read.
  uint64_t unattributed_node_ooms_ = 0;
  double unattributed_since_ = 0;
  bool dirty_ = false;
  double last_wall_ = 0;        // Unix seconds of the last apply()
  uint64_t applies_ = 0;        // apply() calls so far
  std::vector<Before> before_;  // one per unit of the snapshot being applied; reused
};

}  // namespace mobasher
