// The action side of the daemon in one place: systemd's properties into the snapshot, the
// policy's decisions carried out by the executor over D-Bus, and what they did as logs, history
// events, counters and the failures the MobasherUnitActionFailed alert reports.
#pragma once

#include <boost/asio/io_context.hpp>
#include <functional>
#include <map>
#include <memory>
#include <string>

#include "agent/actions/executor.hpp"
#include "agent/actions/systemd_client.hpp"
#include "agent/config/config.hpp"
#include "agent/state/action_stats.hpp"
#include "agent/state/policy.hpp"
#include "agent/state/unit_tracker.hpp"

namespace mobasher::actions {

// A job's limit when actions.job_timeout is unset and the unit's own timeouts are not known yet:
// systemd's default TimeoutStopSec + TimeoutStartSec (90 s each).
inline constexpr std::chrono::milliseconds kDefaultJobTimeout{180'000};
// Added to a job's own timeouts: the reply and JobRemoved's way back.
inline constexpr std::chrono::milliseconds kJobReplyAllowance{5'000};

// Unset actions.job_timeout: how long a `verb` ("start", "stop", "restart") job of a unit with
// properties `p` may take: its own TimeoutStopUSec (stop, restart) plus TimeoutStartUSec (start,
// restart), each capped at 10 min (infinity and 0 included), systemd's 90 s defaults while p is
// unknown (nullptr), plus kJobReplyAllowance.
std::chrono::milliseconds job_timeout_from(const std::string& verb, const UnitProperties* p);

// May start/stop/restart `unit`: it matches the unit glob of a configured group.
bool allowed_unit(const Config& c, const std::string& unit);
// `live` must outlive the client: its unit globs are read at every call (reloads count).
SystemdClientOptions client_options(const Config& live);
ExecutorSettings executor_settings(const Config& c);

class Restarter {
 public:
  using History = std::function<void(std::string line)>;
  Restarter(boost::asio::io_context& io, const Config& c, History history);
  ~Restarter();
  void set_config(const Config& c);  // SIGHUP: a changed bus address reconnects

  // Before the tracker: systemd's last properties and the failed actions into the units.
  void annotate(Snapshot& snap) const;
  // After the tracker: decide, carry out, and ask systemd for fresh properties (asynchronously).
  void act(const Snapshot& snap, UnitTracker& tracker);

  ActionStats stats() const;
  Policy& policy() { return policy_; }

  static constexpr size_t kMaxUnits = 1024;

 private:
  struct Failure {
    int count = 0;
    std::string error;
    uint64_t restarts_seen = 0;  // the unit's restarts then: a later restart resolves the failure
  };
  void rebuild();
  // actions.job_timeout if set, else job_timeout_from() the unit's last known properties.
  std::chrono::milliseconds job_timeout(const std::string& verb, const std::string& unit) const;
  void report(const ActionReport& r);
  void refresh_properties(const Snapshot& snap);
  void count(const Decision& d, const std::string& result) {
    ++total_[{to_string(d.action), to_string(d.cause), result}];
  }

  boost::asio::io_context& io_;
  Config config_;
  History history_;
  Policy policy_;
  std::unique_ptr<SystemdClient> client_;
  std::unique_ptr<Executor> executor_;
  std::map<std::string, UnitProperties> properties_;  // the last answer per unit
  bool properties_pending_ = false;
  bool rebuild_ = true;  // the client must be (re)made for the current config
  std::map<std::string, Failure> failures_;
  std::map<std::string, uint64_t> totals_;  // restarts of each unit in the last snapshot
  UnitTracker* tracker_ = nullptr;          // the daemon's, which outlives this
  size_t age_unknown_logged_ = 0;           // logged when it changes, not every scan
  std::map<std::vector<std::string>, uint64_t> total_;
  std::shared_ptr<Restarter*> self_;  // property answers arriving after destruction are dropped
};

}  // namespace mobasher::actions
