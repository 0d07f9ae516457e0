// The D-Bus client's requests as plain logic, with no bus and no clock of its own (times are
// passed in): admission (allowed units, max_queue), each unit verb from its method call to its
// job's JobRemoved (also when the signal comes before the reply), deadlines, the properties
// fan-out, and the CallResult / PropertiesResult each request ends with.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "agent/actions/systemd_decode.hpp"
#include "agent/actions/systemd_types.hpp"

namespace mobasher::actions {

using SteadyTime = std::chrono::steady_clock::time_point;  // CLOCK_MONOTONIC, as sd-bus's

enum class Verb { kStart, kStop, kRestart };
const char* method_of(Verb v);  // "StartUnit", "StopUnit", "RestartUnit"
const char* word_of(Verb v);    // "start", "stop", "restart"

// A unit verb that ended: its result, to be completed (`done`) and logged.
struct UnitEnd {
  Verb verb = Verb::kStart;
  std::string unit;
  std::string job;    // the job's path, "" when no reply named one
  uint64_t call = 0;  // the method call still awaiting its reply (to be cancelled), else 0
  CallResult result;
  std::function<void(CallResult)> done;
};

// A properties request that ended.
struct PropertiesEnd {
  size_t asked = 0;  // units asked for
  double seconds = 0;
  PropertiesResult result;
  std::function<void(PropertiesResult)> done;
};

// "restart a.service: " + what: how every error of a unit verb starts.
std::string unit_error(Verb verb, const std::string& unit, const std::string& what);

class SystemdRequests {
 public:
  // JobRemoved signals kept for a reply that has not been seen yet (systemd may end a job before
  // its reply is dispatched here); mostly other clients' jobs, so bounded: older ones are dropped.
  static constexpr size_t kRecentJobs = 128;

  explicit SystemdRequests(size_t max_queue) : max_queue_(max_queue) {}

  // Requests accepted and not ended yet: what max_queue bounds.
  size_t accepted() const { return units_.size() + properties_.size(); }
  // Why a new unit verb is refused, without a call: "refused: not an allowed unit" or
  // "queue full (64 requests pending)"; nullopt when it is accepted.
  std::optional<std::string> unit_refusal(bool allowed) const;
  // The same for a properties request (never restricted to allowed units).
  std::optional<std::string> properties_refusal() const;

  // --- unit verbs: add, then call_sent (or fail), replied, and job_removed / expire end it -----
  uint64_t add_unit(Verb verb, std::string unit, std::chrono::milliseconds job_timeout,
                    std::function<void(CallResult)> done, SteadyTime now);
  Verb verb_of(uint64_t op) const { return units_.at(op).verb; }
  const std::string& unit_of(uint64_t op) const { return units_.at(op).unit; }
  void call_sent(uint64_t op, uint64_t call);  // the method call now awaiting its reply
  // The reply named `job`: the op waits for its JobRemoved, unless that came first (its end).
  std::optional<UnitEnd> replied(uint64_t op, std::string job, SteadyTime now);
  // The reply was an error or not readable: the op ends with `why` after the unit prefix.
  std::optional<UnitEnd> reply_failed(uint64_t op, const std::string& why, SteadyTime now);
  // Ended without a job, e.g. the call could not be sent: `why` follows the unit prefix ("bus not
  // connected (...): ..."). nullopt when the op has ended already.
  std::optional<UnitEnd> fail_unit(uint64_t op, const std::string& why, SteadyTime now);
  // Every op waiting for `job` ends with `result` ("done" is success); a job nobody waits for is
  // remembered for a reply still on its way.
  std::vector<UnitEnd> job_removed(const std::string& job, const std::string& result,
                                   SteadyTime now);
  // Ops past their job_timeout: "timed out after 1s waiting for job ..." (or "for the reply to
  // RestartUnit"). The jobs themselves are left to systemd.
  std::vector<UnitEnd> expire(SteadyTime now);
  std::optional<SteadyTime> next_deadline() const;

  // --- properties: add, then one call per unit and interface; each answer or failure counts --
  uint64_t add_properties(std::vector<std::string> units,
                          std::function<void(PropertiesResult)> done, SteadyTime now);
  const std::vector<std::string>& units_asked(uint64_t op) const {
    return properties_.at(op).units;
  }
  void properties_call_sent(uint64_t op) { ++properties_.at(op).outstanding; }
  // Every call of the request was sent: its end when no answer is outstanding (no units).
  std::optional<PropertiesEnd> properties_sent(uint64_t op, SteadyTime now);
  // The answer of a GetAll of unit `index` (its Unit or its Service interface).
  std::optional<PropertiesEnd> properties_answer(uint64_t op, size_t index,
                                                 const PropertyList& values, SteadyTime now);
  // A GetAll of the Unit (`service` false) or Service interface failed (a D-Bus error, a malformed
  // answer): the unit is left out, named.
  std::optional<PropertiesEnd> properties_error(uint64_t op, size_t index, bool service,
                                                std::string error, SteadyTime now);
  // The whole request failed ("properties: " + why); answers still on their way find no op.
  std::optional<PropertiesEnd> fail_properties(uint64_t op, const std::string& why, SteadyTime now);

  // --- the connection ----------------------------------------------------------------------
  // It was lost: everything accepted ends with `why` ("bus connection lost (...): ..."), a unit
  // verb waiting for its job with " while waiting for job ..." added. Early JobRemoved signals
  // are forgotten: job numbers belong to one systemd instance and connection.
  std::pair<std::vector<UnitEnd>, std::vector<PropertiesEnd>> fail_all(const std::string& why,
                                                                       SteadyTime now);
  // Everything dropped without an end (the client is destroyed); how many there were.
  size_t drop_all();

 private:
  struct UnitOp {
    Verb verb;
    std::string unit;
    std::function<void(CallResult)> done;
    SteadyTime started, deadline;
    std::chrono::milliseconds timeout;  // deadline - started, for the message
    uint64_t call = 0;                  // awaiting the reply to this call, else 0
    std::string job;                    // the job's object path, from the reply
  };
  struct PropertiesOp {
    std::vector<std::string> units;
    std::vector<UnitProperties> got;
    std::vector<std::string> unit_errors, service_errors;  // per unit, "" when fine
    size_t outstanding = 0;
    std::function<void(PropertiesResult)> done;
    SteadyTime started;
  };

  UnitEnd end_unit(uint64_t op, std::string job_result, std::string error, SteadyTime now);
  std::optional<PropertiesEnd> answered(uint64_t op, SteadyTime now);
  PropertiesEnd end_properties(uint64_t op, const std::string& failure, SteadyTime now);

  size_t max_queue_;
  uint64_t next_id_ = 1;
  std::map<uint64_t, UnitOp> units_;
  std::map<uint64_t, PropertiesOp> properties_;
  std::deque<std::pair<std::string, std::string>> recent_jobs_;  // path, result
};

}  // namespace mobasher::actions
