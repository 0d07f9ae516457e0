#include "agent/actions/systemd_jobs.hpp"

#include <algorithm>

#include "agent/base/quantities.hpp"

namespace mobasher::actions {

namespace {

double seconds_between(SteadyTime from, SteadyTime to) {
  return std::chrono::duration<double>(to - from).count();
}

struct VerbName {
  const char* method;
  const char* word;
};
// Indexed by Verb: in the order of its enumerators.
constexpr VerbName kVerbNames[] = {
    {"StartUnit", "start"},
    {"StopUnit", "stop"},
    {"RestartUnit", "restart"},
};

std::string queue_full(size_t max_queue) {
  return "queue full (" + std::to_string(max_queue) + " requests pending)";
}

}  // namespace

const char* method_of(Verb v) {
  return kVerbNames[static_cast<size_t>(v)].method;
}

const char* word_of(Verb v) {
  return kVerbNames[static_cast<size_t>(v)].word;
}

std::string unit_error(Verb verb, const std::string& unit, const std::string& what) {
  return std::string(word_of(verb)) + " " + unit + ": " + what;
}

std::optional<std::string> SystemdRequests::unit_refusal(bool allowed) const {
  if (!allowed) return "refused: not an allowed unit";
  return properties_refusal();
}

std::optional<std::string> SystemdRequests::properties_refusal() const {
  if (accepted() >= max_queue_) return queue_full(max_queue_);
  return std::nullopt;
}

// --- unit verbs ----------------------------------------------------------------------------------

uint64_t SystemdRequests::add_unit(Verb verb, std::string unit,
                                   std::chrono::milliseconds job_timeout,
                                   std::function<void(CallResult)> done, SteadyTime now) {
  uint64_t id = next_id_++;
  units_.emplace(id, UnitOp{verb, std::move(unit), std::move(done), now, now + job_timeout,
                            job_timeout, 0, ""});
  return id;
}

void SystemdRequests::call_sent(uint64_t op, uint64_t call) {
  if (auto it = units_.find(op); it != units_.end()) it->second.call = call;
}

std::optional<UnitEnd> SystemdRequests::replied(uint64_t op, std::string job, SteadyTime now) {
  auto it = units_.find(op);
  if (it == units_.end()) return std::nullopt;
  it->second.call = 0;
  it->second.job = std::move(job);
  auto early = std::find_if(recent_jobs_.begin(), recent_jobs_.end(),
                            [&](const auto& j) { return j.first == it->second.job; });
  if (early == recent_jobs_.end()) return std::nullopt;
  std::string result = std::move(early->second);
  recent_jobs_.erase(early);
  return end_unit(op, std::move(result), "", now);
}

std::optional<UnitEnd> SystemdRequests::reply_failed(uint64_t op, const std::string& why,
                                                     SteadyTime now) {
  auto it = units_.find(op);
  if (it == units_.end()) return std::nullopt;
  it->second.call = 0;  // answered
  return end_unit(op, "", why, now);
}

std::optional<UnitEnd> SystemdRequests::fail_unit(uint64_t op, const std::string& why,
                                                  SteadyTime now) {
  if (!units_.count(op)) return std::nullopt;
  return end_unit(op, "", why, now);
}

std::vector<UnitEnd> SystemdRequests::job_removed(const std::string& job, const std::string& result,
                                                  SteadyTime now) {
  std::vector<uint64_t> waiting;
  for (const auto& [id, op] : units_)
    if (!op.job.empty() && op.job == job) waiting.push_back(id);
  std::vector<UnitEnd> ends;
  for (uint64_t id : waiting) ends.push_back(end_unit(id, result, "", now));
  if (ends.empty()) {
    recent_jobs_.emplace_back(job, result);
    if (recent_jobs_.size() > kRecentJobs) recent_jobs_.pop_front();
  }
  return ends;
}

std::vector<UnitEnd> SystemdRequests::expire(SteadyTime now) {
  std::vector<uint64_t> expired;
  for (const auto& [id, op] : units_)
    if (op.deadline <= now) expired.push_back(id);
  std::vector<UnitEnd> ends;
  for (uint64_t id : expired) {
    const UnitOp& op = units_.at(id);
    std::string what =
        op.job.empty() ? std::string("the reply to ") + method_of(op.verb) : "job " + op.job;
    ends.push_back(end_unit(
        id, "", "timed out after " + format_duration(op.timeout) + " waiting for " + what, now));
  }
  return ends;
}

std::optional<SteadyTime> SystemdRequests::next_deadline() const {
  std::optional<SteadyTime> first;
  for (const auto& [id, op] : units_)
    if (!first || op.deadline < *first) first = op.deadline;
  return first;
}

UnitEnd SystemdRequests::end_unit(uint64_t op_id, std::string job_result, std::string error,
                                  SteadyTime now) {
  auto node = units_.extract(op_id);
  UnitOp& op = node.mapped();
  UnitEnd end{op.verb, op.unit, op.job, op.call, {}, std::move(op.done)};
  CallResult& r = end.result;
  r.job_result = std::move(job_result);
  r.ok = error.empty() && r.job_result == "done";
  if (error.empty() && !r.ok)
    error = "job " + op.job + " ended with result \"" + r.job_result + "\"";
  if (!r.ok) r.error = unit_error(op.verb, op.unit, error);
  r.seconds = seconds_between(op.started, now);
  return end;
}

// --- properties ----------------------------------------------------------------------------------

uint64_t SystemdRequests::add_properties(std::vector<std::string> units,
                                         std::function<void(PropertiesResult)> done,
                                         SteadyTime now) {
  uint64_t id = next_id_++;
  PropertiesOp& op = properties_[id];
  op.units = std::move(units);
  op.got.resize(op.units.size());
  for (size_t i = 0; i < op.units.size(); ++i) op.got[i].unit = op.units[i];
  op.unit_errors.resize(op.units.size());
  op.service_errors.resize(op.units.size());
  op.done = std::move(done);
  op.started = now;
  return id;
}

std::optional<PropertiesEnd> SystemdRequests::properties_sent(uint64_t op, SteadyTime now) {
  auto it = properties_.find(op);
  if (it == properties_.end() || it->second.outstanding > 0) return std::nullopt;
  return end_properties(op, "", now);
}

std::optional<PropertiesEnd> SystemdRequests::properties_answer(uint64_t op, size_t index,
                                                                const PropertyList& values,
                                                                SteadyTime now) {
  auto it = properties_.find(op);
  if (it == properties_.end() || index >= it->second.got.size()) return std::nullopt;
  apply_properties(values, it->second.got[index]);
  return answered(op, now);
}

std::optional<PropertiesEnd> SystemdRequests::properties_error(uint64_t op, size_t index,
                                                               bool service, std::string error,
                                                               SteadyTime now) {
  auto it = properties_.find(op);
  if (it == properties_.end() || index >= it->second.got.size()) return std::nullopt;
  (service ? it->second.service_errors : it->second.unit_errors)[index] = std::move(error);
  return answered(op, now);
}

std::optional<PropertiesEnd> SystemdRequests::fail_properties(uint64_t op, const std::string& why,
                                                              SteadyTime now) {
  if (!properties_.count(op)) return std::nullopt;
  return end_properties(op, why, now);
}

std::optional<PropertiesEnd> SystemdRequests::answered(uint64_t op, SteadyTime now) {
  PropertiesOp& p = properties_.at(op);
  if (p.outstanding > 0) --p.outstanding;
  if (p.outstanding > 0) return std::nullopt;
  return end_properties(op, "", now);
}

PropertiesEnd SystemdRequests::end_properties(uint64_t op_id, const std::string& failure,
                                              SteadyTime now) {
  auto node = properties_.extract(op_id);
  PropertiesOp& op = node.mapped();
  PropertiesEnd end;
  end.asked = op.units.size();
  end.seconds = seconds_between(op.started, now);
  end.done = std::move(op.done);
  PropertiesResult& r = end.result;
  if (!failure.empty()) {
    r.error = "properties: " + failure;
    return end;
  }
  for (size_t i = 0; i < op.units.size(); ++i) {
    std::string err = op.unit_errors[i];
    // a unit nobody installed has no Service properties to give; that is not a failure
    if (err.empty() && op.got[i].load_state != "not-found") err = op.service_errors[i];
    if (!err.empty()) {
      r.error += (r.error.empty() ? "" : "; ") + op.units[i] + ": " + err;
      continue;
    }
    r.units.push_back(std::move(op.got[i]));
  }
  return end;
}

// --- the connection ------------------------------------------------------------------------------

std::pair<std::vector<UnitEnd>, std::vector<PropertiesEnd>> SystemdRequests::fail_all(
    const std::string& why, SteadyTime now) {
  recent_jobs_.clear();
  std::vector<UnitEnd> units;
  while (!units_.empty()) {
    auto& [id, op] = *units_.begin();
    units.push_back(
        end_unit(id, "", op.job.empty() ? why : why + " while waiting for job " + op.job, now));
  }
  std::vector<PropertiesEnd> properties;
  while (!properties_.empty())
    properties.push_back(end_properties(properties_.begin()->first, why, now));
  return {std::move(units), std::move(properties)};
}

size_t SystemdRequests::drop_all() {
  size_t n = accepted();
  units_.clear();
  properties_.clear();
  recent_jobs_.clear();
  return n;
}

}  // namespace mobasher::actions
