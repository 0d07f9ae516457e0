#include "agent/actions/restarter.hpp"

#include <fnmatch.h>
#include <spdlog/spdlog.h>

#include "exporters/history/history_record.hpp"

namespace mobasher::actions {

namespace {

std::string fixed(double v, int digits) {
  char buf[48];
  std::snprintf(buf, sizeof buf, "%.*f", digits, v);
  return buf;
}

uint64_t total_restarts(const UnitSample& u) {
  uint64_t n = 0;
  for (const auto& [cause, k] : u.restarts) n += k;
  return n;
}

nlohmann::ordered_json decision_fields(const Decision& d) {
  nlohmann::ordered_json f = {{"action", to_string(d.action)}, {"cause", to_string(d.cause)}};
  if (!d.target.empty()) f["target"] = d.target;
  f["reason"] = d.reason;
  f["value"] = d.value;
  f["threshold"] = d.threshold;
  return f;
}

}  // namespace

bool allowed_unit(const Config& c, const std::string& unit) {
  if (unit.find('/') != std::string::npos) return false;
  for (const auto& g : c.groups)
    if (!g.match && !g.units.empty() && ::fnmatch(g.units.c_str(), unit.c_str(), 0) == 0)
      return true;
  return false;
}

SystemdClientOptions client_options(const Config& live) {
  SystemdClientOptions o;
  o.address = live.actions.bus;
  o.job_timeout = live.actions.job_timeout.value_or(kDefaultJobTimeout);
  // Follows reloads: `allowed` is asked on the caller's (the loop's) thread, where `live` changes.
  o.allowed = [&live](const std::string& unit) { return allowed_unit(live, unit); };
  return o;
}

ExecutorSettings executor_settings(const Config& c) {
  ExecutorSettings s;
  s.overlap = c.actions.overlap;
  s.start_timeout = c.actions.start_timeout;
  s.output = c.actions.output;
  return s;
}

Restarter::Restarter(boost::asio::io_context& io, const Config& c, History history)
    : io_(io),
      config_(c),
      history_(std::move(history)),
      policy_(policy_settings(c)),
      self_(std::make_shared<Restarter*>(this)) {
  rebuild();
}

Restarter::~Restarter() {
  self_.reset();
  executor_.reset();  // before the client: its completions find no executor
  client_.reset();
}

void Restarter::set_config(const Config& c) {
  rebuild_ = rebuild_ || !client_ || c.actions.bus != config_.actions.bus ||
             c.actions.job_timeout != config_.actions.job_timeout ||
             c.actions.enabled != config_.actions.enabled;
  config_ = c;
  policy_.set_settings(policy_settings(c));
  if (executor_) executor_->set_settings(executor_settings(c));
  rebuild();
}

// A new bus address or job timeout needs a new client; never under an action in flight.
void Restarter::rebuild() {
  if (!rebuild_) return;
  if (executor_ && executor_->active() > 0) {
    spdlog::info("actions: new bus settings take effect after the {} action(s) in flight",
                 executor_->active());
    return;
  }
  rebuild_ = false;
  executor_.reset();
  client_.reset();
  properties_.clear();
  properties_pending_ = false;
  if (!config_.actions.enabled) return;
  try {
    SystemdClientOptions o = client_options(config_);
    if (!config_.actions.job_timeout)  // asked on the loop's thread, where properties_ lives
      o.job_timeout_for = [this](const std::string& verb, const std::string& unit) {
        return job_timeout(verb, unit);
      };
    client_ = std::make_unique<SystemdClient>(std::move(o), io_);
    executor_ = std::make_unique<Executor>(io_, unit_ops(*client_), executor_settings(config_),
                                           [this](const ActionReport& r) { report(r); });
  } catch (const std::exception& e) {  // out of memory: retried every scan
    spdlog::error("actions: cannot start the D-Bus client error=\"{}\"", e.what());
    executor_.reset();
    client_.reset();
    rebuild_ = true;
  }
}

std::chrono::milliseconds job_timeout_from(const std::string& verb, const UnitProperties* p) {
  using std::chrono::milliseconds;
  constexpr uint64_t kDefaultUsec = 90'000'000, kCapUsec = 600'000'000;
  // Known properties: a missing timeout is infinity (capped), and so is 0 (systemd reads
  // TimeoutStartSec=0 as "no timeout"); unknown: systemd's default.
  auto part = [&](const std::optional<uint64_t>& usec) {
    if (!p) return kDefaultUsec;
    return usec && *usec > 0 ? std::min(*usec, kCapUsec) : kCapUsec;
  };
  uint64_t usec = 0;
  if (verb != "start") usec += part(p ? p->timeout_stop_usec : std::nullopt);
  if (verb != "stop") usec += part(p ? p->timeout_start_usec : std::nullopt);
  return milliseconds(usec / 1000) + kJobReplyAllowance;
}

std::chrono::milliseconds Restarter::job_timeout(const std::string& verb,
                                                 const std::string& unit) const {
  if (config_.actions.job_timeout) return *config_.actions.job_timeout;
  auto p = properties_.find(unit);
  return job_timeout_from(verb, p == properties_.end() ? nullptr : &p->second);
}

void Restarter::annotate(Snapshot& snap) const {
  for (auto& u : snap.units) {
    if (auto p = properties_.find(u.unit);
        p != properties_.end() && p->second.load_state == "loaded")
      u.systemd = UnitSample::Systemd{p->second.active_state, p->second.sub_state, p->second.result,
                                      p->second.n_restarts};
    if (auto f = failures_.find(u.unit); f != failures_.end()) {
      u.action_failures = f->second.count;
      u.action_error = f->second.error;
    }
  }
}

void Restarter::act(const Snapshot& snap, UnitTracker& tracker) {
  rebuild();
  if (!config_.actions.enabled) return;
  tracker_ = &tracker;
  // A failure is moot once the unit restarted some other way (systemd, an operator) or is gone.
  totals_.clear();
  for (const auto& u : snap.units) totals_[u.unit] = total_restarts(u);
  std::erase_if(failures_, [&](const auto& f) {
    auto t = totals_.find(f.first);
    return t == totals_.end() || t->second > f.second.restarts_seen;
  });

  PolicyResult r = policy_.decide(snap);
  if (policy_.age_unknown() != age_unknown_logged_) {
    if (policy_.age_unknown() > 0)
      spdlog::warn(
          "age unknown units={}: no start time on the boot clock, no age restarts for them",
          policy_.age_unknown());
    age_unknown_logged_ = policy_.age_unknown();
  }
  for (const auto& h : r.held)
    spdlog::warn("restart held unit={} group={} cause={} reason=\"{}\"", h.unit, h.group,
                 to_string(h.cause), h.why);
  for (const auto& d : r.decisions) {
    spdlog::info(
        "restart decided unit={} group={} action={}{} cause={} value={} threshold={} "
        "dry_run={} reason=\"{}\"",
        d.unit, d.group, to_string(d.action), d.target.empty() ? "" : " target=" + d.target,
        to_string(d.cause), fixed(d.value, 0), fixed(d.threshold, 0), d.dry_run, d.reason);
    if (d.dry_run) {
      count(d, "dry_run");
      auto f = decision_fields(d);
      f["result"] = "dry_run";
      history_(history_event("action", snap.taken_at, d.unit, f));
      continue;
    }
    if (!executor_) {  // the client could not be made: a failed action, retried after back-off
      ActionReport rep;
      rep.decision = d;
      rep.result = "failed";
      rep.error = d.unit + ": no D-Bus client (see the log)";
      report(rep);
      continue;
    }
    // The restart the tracker will see is this one, with this cause (not "external").
    const std::string& replaced = d.target.empty() ? d.unit : d.target;
    double until = snap.boot_seconds +
                   seconds(job_timeout("restart", replaced) + config_.actions.start_timeout +
                           config_.actions.overlap) +
                   2 * seconds(config_.scan_interval) + 30;
    tracker.expect_restart(replaced, d.cause, until);
    if (!d.target.empty()) failures_.erase(d.target);
    executor_->execute(d);
  }
  refresh_properties(snap);
}

void Restarter::report(const ActionReport& r) {
  const Decision& d = r.decision;
  policy_.finished(d.unit, r.ok, boot_clock_seconds());
  count(d, r.result);
  auto f = decision_fields(d);
  f["result"] = r.result;
  f["seconds"] = std::round(r.seconds * 1000) / 1000;
  if (r.overlap_seconds >= 0) f["overlap_seconds"] = std::round(r.overlap_seconds * 1000) / 1000;
  if (r.ok) {
    failures_.erase(d.unit);
    if (!d.target.empty()) failures_.erase(d.target);
    spdlog::info("restart done unit={} action={}{} cause={} seconds={}{}", d.unit,
                 to_string(d.action), d.target.empty() ? "" : " target=" + d.target,
                 to_string(d.cause), fixed(r.seconds, 2),
                 r.overlap_seconds >= 0 ? " overlap=" + fixed(r.overlap_seconds, 2) : "");
    history_(history_event("action", WallClock::now(), d.unit, f));
    return;
  }
  if (tracker_) tracker_->forget_expectation(d.target.empty() ? d.unit : d.target);
  if (failures_.size() < kMaxUnits || failures_.count(d.unit)) {
    Failure& fl = failures_[d.unit];
    ++fl.count;
    fl.error = r.error;
    // A restart the failed job still caused (it failed after the new process appeared) must not
    // clear the failure: only later ones do.
    if (auto t = totals_.find(d.unit); t != totals_.end()) fl.restarts_seen = t->second;
  }
  f["error"] = r.error;
  spdlog::error("restart failed unit={} action={}{} cause={} result={} seconds={} error=\"{}\"",
                d.unit, to_string(d.action), d.target.empty() ? "" : " target=" + d.target,
                to_string(d.cause), r.result, fixed(r.seconds, 2), r.error);
  history_(history_event("action_failed", WallClock::now(), d.unit, f));
}

void Restarter::refresh_properties(const Snapshot& snap) {
  if (!client_ || properties_pending_) return;  // one request at a time: answers never pile up
  std::vector<std::string> units;
  for (const auto& u : snap.units)
    if (units.size() < kMaxUnits && allowed_unit(config_, u.unit)) units.push_back(u.unit);
  if (units.empty()) return;
  properties_pending_ = true;
  client_->get_properties(std::move(units),
                          [w = std::weak_ptr<Restarter*>(self_)](PropertiesResult r) {
                            auto self = w.lock();
                            if (!self) return;
                            Restarter& me = **self;
                            me.properties_pending_ = false;
                            me.properties_.clear();
                            for (auto& p : r.units) me.properties_[p.unit] = std::move(p);
                          });
}

ActionStats Restarter::stats() const {
  ActionStats s;
  s.total = total_;
  s.in_flight = executor_ ? executor_->active() : 0;
  s.bus_connected = client_ && client_->status().connected;
  s.age_unknown = policy_.age_unknown();
  return s;
}

}  // namespace mobasher::actions
