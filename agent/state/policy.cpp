#include "agent/state/policy.hpp"

#include <algorithm>
#include <cmath>

namespace mobasher {

namespace {

constexpr double kHour = 3600;

void trim_hour(std::deque<double>& times, double now) {
  while (!times.empty() && now - times.front() >= kHour) times.pop_front();
}

// Memory emergencies: a unit (or the node) runs out of memory now. Only the group's action in
// flight, its unit coming back, emergency_gap and max_per_unit_per_hour hold them, and of those
// only the first when the unit would reach its limit before the hold ends (imminent).
bool is_emergency(RestartCause c) {
  return c == RestartCause::memory || c == RestartCause::node_memory;
}

// Active: it has processes, and systemd (when it answers) says "active". A channel under overlap
// is active when either of its slots is.
bool active(const UnitSample& u) {
  return u.up() && (!u.systemd || u.systemd->active_state == "active");
}

double measure_of(const UnitSample& u, Measure measure) {
  return static_cast<double>(u.measured(measure).value_or(0));
}

// What a restart needs to take effect: the job (ffmpeg stops in < 1 s, starts in ~1 s), the unit
// seen active again, a scan or two.
constexpr double kRestartAllowance = 10;
constexpr double kNearLimit = 0.95;  // of the limit, for a unit with no prediction yet

// A unit in a memory emergency reaches its limit before a hold of `hold_left` seconds would end
// (and its restart take effect): holding it would hand it to the kernel's OOM killer. By the
// prediction when there is one. Without one (within predict_window of a start, whose growth
// still holds the start-up ramp and overstates the leak) a unit at kNearLimit is, unless it is
// known not to grow: then the loop guard must keep holding it.
bool imminent(const UnitSample& u, double value, double hold_left) {
  if (u.seconds_to_limit)
    return *u.seconds_to_limit <= std::max(0.0, hold_left) + kRestartAllowance;
  if (u.growth_bytes_per_second && *u.growth_bytes_per_second <= 0) return false;
  auto limit = static_cast<double>(u.effective_limit());
  return limit > 0 && value >= kNearLimit * limit;
}

}  // namespace

PolicySettings policy_settings(const Config& c) {
  PolicySettings s;
  s.enabled = c.actions.enabled;
  s.dry_run = c.actions.dry_run;
  s.handover = c.actions.handover;
  s.measure = c.measure;
  s.min_gap = seconds(c.actions.min_gap);
  s.cooldown = seconds(c.actions.cooldown);
  s.retry_backoff = seconds(c.actions.retry_backoff);
  s.max_retry_backoff = seconds(c.actions.max_retry_backoff);
  s.max_per_unit_per_hour = c.actions.max_per_unit_per_hour;
  s.max_per_hour = c.actions.max_per_hour;
  s.max_concurrent = c.actions.max_concurrent;
  s.emergency_gap = seconds(c.actions.emergency_gap);
  s.recover_wait = seconds(c.actions.start_timeout);
  s.node_memory_floor = c.actions.node_memory_floor;
  s.node_memory_for = seconds(c.actions.node_memory_for);
  for (const auto& g : c.groups) {
    PolicyGroup pg;
    pg.name = g.name;
    pg.systemd = !g.match;
    pg.on_memory = g.restart.on_memory;
    pg.for_seconds = seconds(g.restart.for_duration);
    if (g.restart.max_age) pg.max_age_seconds = seconds(*g.restart.max_age);
    if (g.restart.predict) pg.predict_seconds = seconds(*g.restart.predict);
    s.groups.push_back(std::move(pg));
  }
  return s;
}

double age_due(double start, double max_age, size_t index, size_t count) {
  double phase = count ? max_age * static_cast<double>(index) / static_cast<double>(count) : 0;
  // Start times from /proc come from the whole-second btime and read up to 1 s early: a unit
  // restarted just after its turn must not count as started before it (it would be restarted
  // again at max_age / 2, off its turn).
  constexpr double kStartTimeSlack = 1;
  double turn = phase + std::floor((start + kStartTimeSlack + max_age - phase) / max_age) * max_age;
  return std::max(turn, start + max_age / 2);
}

// Held above on_memory for `for`: the least time to the limit first (known growth ranks 3..4,
// unknown 2..3 by share).
std::optional<Policy::Candidate> Policy::memory_candidate(const UnitSample& u, const PolicyGroup& g,
                                                          UnitState& st, double now) const {
  uint64_t limit = u.effective_limit();
  double value = measure_of(u, s_.measure);
  uint64_t threshold = g.on_memory && limit ? g.on_memory->resolve(limit) : 0;
  if (threshold == 0 || value < static_cast<double>(threshold)) {
    st.above_since.reset();
    return std::nullopt;
  }
  if (!st.above_since) st.above_since = now;
  if (now - *st.above_since < g.for_seconds) return std::nullopt;
  std::string of = g.on_memory->percent
                       ? " (" + std::to_string(std::lround(*g.on_memory->percent)) + "% of the " +
                             format_bytes(limit) + " limit)"
                       : "";
  double urgency = u.seconds_to_limit ? 4 - std::min(1.0, *u.seconds_to_limit / 3600)
                                      : 2 + value / static_cast<double>(limit);
  return Candidate{
      &u,
      &g,
      RestartCause::memory,
      urgency,
      std::string(to_string(s_.measure)) + " " + format_bytes(static_cast<uint64_t>(value)) +
          " >= " + format_bytes(threshold) + of + " for " + format_seconds(now - *st.above_since),
      value,
      static_cast<double>(threshold)};
}

// The limit predicted within predict for `for`: urgency 1..2, the nearest first.
std::optional<Policy::Candidate> Policy::predicted_candidate(const UnitSample& u,
                                                             const PolicyGroup& g, UnitState& st,
                                                             double now) const {
  if (!g.predict_seconds || !u.seconds_to_limit || *u.seconds_to_limit > *g.predict_seconds) {
    st.predicted_since.reset();
    return std::nullopt;
  }
  if (!st.predicted_since) st.predicted_since = now;
  if (now - *st.predicted_since < g.for_seconds) return std::nullopt;
  return Candidate{&u,
                   &g,
                   RestartCause::predicted,
                   1 + 1 - *u.seconds_to_limit / *g.predict_seconds,
                   "limit " + format_bytes(u.effective_limit()) + " predicted in " +
                       format_seconds(*u.seconds_to_limit) + " (growth " +
                       format_bytes(static_cast<uint64_t>(u.growth_bytes_per_second.value_or(0))) +
                       "/s) <= predict " + format_seconds(*g.predict_seconds),
                   *u.seconds_to_limit,
                   *g.predict_seconds};
}

// The unit's turn (age_due) reached: urgency below any emergency's (0..0.99), the longest overdue
// first. Age is the boot clock now minus the start on the boot clock: a process that started
// after now (or a start we could not read) has no known age, and no age restart.
std::optional<Policy::Candidate> Policy::age_candidate(const UnitSample& u, const PolicyGroup& g,
                                                       const GroupState& gs, double now) {
  if (!g.max_age_seconds) return std::nullopt;
  const ProcessSample* main = u.main_process();
  if (!main || main->start_boot_seconds <= 0 || main->start_boot_seconds > now + 1) {
    ++age_unknown_;
    return std::nullopt;
  }
  auto turn = gs.turns.find(logical_unit(u.unit));
  size_t index = turn == gs.turns.end() ? 0 : turn->second, count = gs.members.size();
  double start = main->start_boot_seconds;
  double due = age_due(start, *g.max_age_seconds, index, count);
  if (now < due) return std::nullopt;
  return Candidate{&u,
                   &g,
                   RestartCause::age,
                   0.99 * std::min(1.0, (now - due) / *g.max_age_seconds),
                   "age " + format_seconds(now - start) + " reached its turn at " +
                       format_seconds(due - start) + " (turn " + std::to_string(index + 1) +
                       " of " + std::to_string(count) + ", max_age " +
                       format_seconds(*g.max_age_seconds) + ")",
                   now - start,
                   due - start};
}

std::optional<Policy::Candidate> Policy::candidate(const UnitSample& u, const PolicyGroup& g,
                                                   UnitState& st, GroupState& gs, bool interrupted,
                                                   double now) {
  std::optional<Candidate> best;
  auto offer = [&](std::optional<Candidate> c) {
    if (c && (!best || c->urgency > best->urgency)) best = std::move(c);
  };
  offer(memory_candidate(u, g, st, now));
  offer(predicted_candidate(u, g, st, now));
  offer(age_candidate(u, g, gs, now));
  if (interrupted) {
    offer(Candidate{&u, &g, RestartCause::age, 0.995,
                    "both slots running: finishing an interrupted hand-over", 0, 0});
    best->interrupted = true;
  }
  return best;
}

std::optional<Policy::Block> Policy::blocked(const Candidate& c, const UnitState& st,
                                             const GroupState& gs, bool group_healthy, double now,
                                             std::string& waived) const {
  // Reported (once per key) are the holds worth an operator's attention; the rest is queueing.
  bool emergency = is_emergency(c.cause);
  // The holds a memory emergency passes when its unit would reach the limit first. Only the
  // group's action in flight (one at a time) still holds it.
  auto waive = [&](const char* hold, double hold_left) {
    if (c.cause != RestartCause::memory || !imminent(*c.unit, c.value, hold_left)) return false;
    if (waived.empty()) waived = hold;
    return true;
  };
  if (static_cast<int>(st.actions.size()) >= s_.max_per_unit_per_hour &&  // the loop guard
      !waive("max_per_unit_per_hour", 0))  // a graceful restart on the verge, not a loop
    return Block{"unit hour",
                 std::to_string(st.actions.size()) +
                     " restarts of this unit in the last hour (max_per_unit_per_hour " +
                     std::to_string(s_.max_per_unit_per_hour) + ")",
                 true};
  // The group's last restarted unit must be active again (bounded: a unit that does not come
  // back within recover_wait failed by itself), and emergency_gap more.
  double since_last = now - std::max(gs.last_started, gs.last_finished);
  if (!gs.last_unit.empty() && gs.recovered_at == 0 && since_last < s_.recover_wait &&
      !waive("waiting for the last restarted unit", s_.recover_wait - since_last))
    return Block{"recovering " + gs.last_unit, "", false};
  if (gs.recovered_at > 0 && now - gs.recovered_at < s_.emergency_gap &&
      !waive("emergency_gap", s_.emergency_gap - (now - gs.recovered_at)))
    return Block{"emergency_gap", "", false};
  if (emergency) return std::nullopt;  // never cooldown, min_gap, back-off or host-wide limits

  if (now < st.backoff_until)
    return Block{"backoff " + std::to_string(st.failures),
                 "backing off after " + std::to_string(st.failures) + " failed attempt" +
                     (st.failures == 1 ? "" : "s") + " for " +
                     format_seconds(st.backoff_until - now),
                 true};
  if (static_cast<int>(recent_.size()) >= s_.max_per_hour)
    return Block{"host hour",
                 std::to_string(recent_.size()) +
                     " restarts on this host in the last hour (max_per_hour " +
                     std::to_string(s_.max_per_hour) + ")",
                 true};
  if (st.last_finished > 0 && now - st.last_finished < s_.cooldown)
    return Block{"cooldown", "", false};
  if (static_cast<int>(in_flight_.size()) >= s_.max_concurrent)
    return Block{"max_concurrent", "", false};
  if (c.cause == RestartCause::age && !c.interrupted) {
    if (!group_healthy) return Block{"group not healthy", "", false};
    if (gs.last_started > 0 && now - gs.last_started < s_.min_gap)
      return Block{"min_gap", "", false};
  }
  return std::nullopt;
}

Decision Policy::make_decision(const Candidate& c, const Snapshot& snap) const {
  Decision d;
  d.unit = c.unit->unit;
  d.group = c.group->name;
  d.cause = c.cause;
  d.reason = c.reason;
  d.value = c.value;
  d.threshold = c.threshold;
  d.dry_run = s_.dry_run;
  if (s_.handover == HandoverStrategy::overlap) {
    if (auto other = other_slot(d.unit)) {
      d.action = ActionKind::handover;
      d.target = *other;
      for (const auto& u : snap.units)
        if (u.unit == *other && u.up()) d.reason += "; " + *other + " is already running";
    } else {
      d.reason += "; not a slot instance (UNIT:a/UNIT:b), restarted instead";
    }
  }
  return d;
}

// A wall clock stepped back must not leave times in the future: they would never leave the
// hourly windows and would stretch every cooldown and gap by the step.
void Policy::clamp(double now) {
  auto cap = [now](double& t) { t = std::min(t, now); };
  for (double& t : recent_) cap(t);
  for (auto& [name, st] : units_) {
    for (double& t : st.actions) cap(t);
    cap(st.last_finished);
    st.backoff_until = std::min(st.backoff_until, now + s_.max_retry_backoff);
  }
  for (auto& [name, gs] : groups_)
    cap(gs.last_started), cap(gs.last_finished), cap(gs.recovered_at);
}

PolicyResult Policy::decide(const Snapshot& snap) {
  PolicyResult out;
  if (!s_.enabled) return out;
  double now = snap.boot_seconds;
  clamp(now);
  trim_hour(recent_, now);
  age_unknown_ = 0;
  std::map<std::string, const PolicyGroup*> groups;
  for (const auto& g : s_.groups)
    if (g.systemd) groups[g.name] = &g;
  std::set<std::string> busy_groups;  // one unit per group at a time
  for (const auto& [unit, group] : in_flight_) busy_groups.insert(group);

  std::set<std::string> unhealthy = observe_groups(snap, groups, busy_groups, now);
  auto by_group = unit_candidates(snap, groups, now);
  if (auto c = node_candidate(snap, groups, now)) by_group[c->group->name].push_back(*c);
  for (auto& [group, cands] : most_urgent_first(std::move(by_group)))
    choose(snap, cands, busy_groups.count(group) > 0, !unhealthy.count(group), now, out);
  forget(now);
  return out;
}

// Records the groups' members and turns; returns the unhealthy groups. A group is healthy when
// every unit it had in the last hour is active, whoever stopped it.
std::set<std::string> Policy::observe_groups(
    const Snapshot& snap, const std::map<std::string, const PolicyGroup*>& groups,
    const std::set<std::string>& busy_groups, double now) {
  std::set<std::string> active_units;  // logical units active now
  for (const auto& u : snap.units) {
    if (!groups.count(u.group)) continue;
    if (u.up()) groups_[u.group].members[logical_unit(u.unit)] = now;
    if (active(u)) active_units.insert(logical_unit(u.unit));
  }
  std::set<std::string> unhealthy;
  for (auto& [name, gs] : groups_) {
    for (const auto& [member, seen] : gs.members)
      if (!active_units.count(member)) unhealthy.insert(name);
    if (!gs.last_unit.empty() && gs.recovered_at == 0 && !busy_groups.count(name) &&
        active_units.count(gs.last_unit))
      gs.recovered_at = now;
    gs.turns.clear();
    size_t i = 0;
    for (const auto& [member, seen] : gs.members) gs.turns[member] = i++;
  }
  return unhealthy;
}

// Every watched unit's best candidate, by group. Start times of running slots: both slots up
// with nothing in flight is a hand-over left half done (the agent stopped during it); the older
// slot is replaced by the younger.
std::map<std::string, std::vector<Policy::Candidate>> Policy::unit_candidates(
    const Snapshot& snap, const std::map<std::string, const PolicyGroup*>& groups, double now) {
  std::map<std::string, double> slot_start;
  if (s_.handover == HandoverStrategy::overlap)
    for (const auto& u : snap.units)
      if (const ProcessSample* m = u.main_process(); m && other_slot(u.unit))
        slot_start[u.unit] = m->start_time_seconds;

  std::map<std::string, std::vector<Candidate>> by_group;
  for (const auto& u : snap.units) {
    auto g = groups.find(u.group);
    if (g == groups.end() || !u.up() || in_flight_.count(u.unit) || targets_.count(u.unit))
      continue;
    bool interrupted = false;
    if (auto other = other_slot(u.unit); other && slot_start.count(u.unit))
      if (auto o = slot_start.find(*other); o != slot_start.end() && !in_flight_.count(*other))
        interrupted = o->second > slot_start[u.unit];
    std::string key = logical_unit(u.unit);
    if (!units_.count(key) && units_.size() >= kMaxUnits) continue;  // bounded
    UnitState& st = units_[key];
    st.last_seen = now;
    trim_hour(st.actions, now);
    if (auto c = candidate(u, *g->second, st, groups_[u.group], interrupted, now))
      by_group[u.group].push_back(std::move(*c));
  }
  return by_group;
}

// Memory emergencies jump the queue of age restarts, within a group and across groups (the
// group with the most urgent candidate takes a free max_concurrent slot first).
std::vector<std::pair<std::string, std::vector<Policy::Candidate>>> Policy::most_urgent_first(
    std::map<std::string, std::vector<Candidate>> by_group) {
  std::vector<std::pair<std::string, std::vector<Candidate>>> order;
  for (auto& [group, cands] : by_group) {
    std::sort(cands.begin(), cands.end(),
              [](const Candidate& a, const Candidate& b) { return a.urgency > b.urgency; });
    order.emplace_back(group, std::move(cands));
  }
  std::stable_sort(order.begin(), order.end(), [](const auto& a, const auto& b) {
    return a.second.front().urgency > b.second.front().urgency;
  });
  return order;
}

// One group's candidates, most urgent first: the first not blocked is decided, the others are
// held (each reason reported once).
void Policy::choose(const Snapshot& snap, const std::vector<Candidate>& cands, bool busy,
                    bool healthy, double now, PolicyResult& out) {
  bool decided = busy;
  for (const auto& c : cands) {
    UnitState& st = units_[logical_unit(c.unit->unit)];
    GroupState& gs = groups_[c.group->name];
    std::string waived;
    std::optional<Block> why =
        decided ? Block{"group busy", "", false} : blocked(c, st, gs, healthy, now, waived);
    if (!why) {
      Decision d = make_decision(c, snap);
      if (!waived.empty())
        d.reason +=
            "; not held by " + waived + ": the limit would come first" +
            (c.unit->seconds_to_limit ? " (in ~" + format_seconds(*c.unit->seconds_to_limit) + ")"
                                      : "");
      st.held.clear();
      started(d, now);
      if (d.dry_run) finished(d.unit, true, now);
      out.decisions.push_back(std::move(d));
      decided = true;
      continue;
    }
    if (why->report && st.held != why->key) {
      st.held = why->key;
      out.held.push_back({c.unit->unit, c.group->name, c.cause, why->text});
    }
  }
}

// The node stays under its MemAvailable floor for node_memory_for: the watched unit using the most
// memory is the candidate (what oomd does for a whole host, before the kernel's OOM killer).
std::optional<Policy::Candidate> Policy::node_candidate(
    const Snapshot& snap, const std::map<std::string, const PolicyGroup*>& groups, double now) {
  const NodeSample& n = snap.node;
  uint64_t floor = n.mem_total ? s_.node_memory_floor.resolve(*n.mem_total) : 0;
  if (floor == 0 || !n.mem_available || *n.mem_available >= floor) {
    node_low_since_.reset();
    return std::nullopt;
  }
  if (!node_low_since_) node_low_since_ = now;
  if (now - *node_low_since_ < s_.node_memory_for || !in_flight_.empty()) return std::nullopt;
  // The biggest whose hourly cap is not used up (else the biggest, to be held and reported).
  const UnitSample* biggest = nullptr;
  double most = 0;
  bool capped = true;
  for (const auto& u : snap.units) {
    if (!groups.count(u.group) || !u.up() || targets_.count(u.unit)) continue;
    auto st = units_.find(logical_unit(u.unit));
    bool full = st != units_.end() &&
                static_cast<int>(st->second.actions.size()) >= s_.max_per_unit_per_hour;
    double v = measure_of(u, s_.measure);
    if (!biggest || (capped && !full) || (capped == full && v > most))
      biggest = &u, most = v, capped = full;
  }
  if (!biggest) return std::nullopt;
  return Candidate{biggest,
                   groups.at(biggest->group),
                   RestartCause::node_memory,
                   5,  // before any unit's own emergency: the whole host is at stake
                   "node MemAvailable " + format_bytes(*n.mem_available) + " < floor " +
                       format_bytes(floor) + " for " + format_seconds(now - *node_low_since_) +
                       "; the biggest watched unit (" + to_string(s_.measure) + " " +
                       format_bytes(static_cast<uint64_t>(most)) + ")",
                   static_cast<double>(*n.mem_available),
                   static_cast<double>(floor)};
}

void Policy::started(const Decision& d, double now) {
  in_flight_[d.unit] = d.group;
  if (d.cause == RestartCause::node_memory) node_low_since_.reset();  // `for` again after it
  GroupState& gs = groups_[d.group];
  gs.last_unit = logical_unit(d.unit);
  gs.recovered_at = 0;
  if (!d.target.empty()) targets_.insert(d.target);
  UnitState& st = units_[logical_unit(d.unit)];
  st.actions.push_back(now);
  if (d.dry_run) st.above_since.reset(), st.predicted_since.reset();  // nothing was done
  recent_.push_back(now);
  groups_[d.group].last_started = now;
  dirty_ = true;
}

void Policy::finished(const std::string& unit, bool ok, double now) {
  auto it = in_flight_.find(unit);
  if (it == in_flight_.end()) return;
  std::string group = it->second;
  in_flight_.erase(it);
  if (auto other = other_slot(unit)) targets_.erase(*other);
  UnitState& st = units_[logical_unit(unit)];
  st.last_finished = now;
  if (ok) {  // a failed one leaves the conditions as they were: retried without `for` again
    st.failures = 0;
    st.backoff_until = 0;
    st.above_since.reset();
    st.predicted_since.reset();
  } else {
    ++st.failures;
    double backoff = s_.retry_backoff * std::pow(2.0, std::min(st.failures - 1, 20));
    st.backoff_until = now + std::min(backoff, s_.max_retry_backoff);
  }
  groups_[group].last_finished = now;
  dirty_ = true;
}

void Policy::forget(double now) {
  for (auto it = units_.begin(); it != units_.end();) {
    bool flying = in_flight_.count(it->first) > 0;
    if (!flying && now - it->second.last_seen > kForgetSeconds) {
      it = units_.erase(it);
      dirty_ = true;
    } else {
      ++it;
    }
  }
  // A unit gone for an hour gives up its age turn: the others spread over the cycle again.
  for (auto& [name, gs] : groups_)
    std::erase_if(gs.members, [&](const auto& m) { return now - m.second > kHour; });
}

nlohmann::json Policy::to_json() const {
  nlohmann::json units = nlohmann::json::object(), groups = nlohmann::json::object();
  for (const auto& [name, st] : units_)
    units[name] = {{"actions", st.actions},
                   {"last_finished", st.last_finished},
                   {"backoff_until", st.backoff_until},
                   {"failures", st.failures},
                   {"last_seen", st.last_seen}};
  for (const auto& [name, gs] : groups_)
    groups[name] = {{"last_started", gs.last_started},
                    {"last_finished", gs.last_finished},
                    {"last_unit", gs.last_unit},
                    {"recovered_at", gs.recovered_at}};
  return {{"version", 1}, {"units", units}, {"groups", groups}, {"recent", recent_}};
}

void Policy::load_json(const nlohmann::json& j) {
  if (j.at("version").get<int>() != 1)
    throw nlohmann::json::other_error::create(501, "unsupported state version", nullptr);
  std::map<std::string, UnitState> units;
  for (const auto& [name, v] : j.at("units").items()) {
    UnitState st;
    for (const auto& t : v.at("actions")) st.actions.push_back(t.get<double>());
    st.last_finished = v.at("last_finished").get<double>();
    st.backoff_until = v.at("backoff_until").get<double>();
    st.failures = v.at("failures").get<int>();
    st.last_seen = v.at("last_seen").get<double>();
    units[name] = std::move(st);
    if (units.size() >= kMaxUnits) break;
  }
  std::map<std::string, GroupState> groups;
  for (const auto& [name, v] : j.at("groups").items()) {
    GroupState gs;
    gs.last_started = v.at("last_started").get<double>();
    gs.last_finished = v.at("last_finished").get<double>();
    // An agent stopped during an action: the next one waits for that unit to come back too.
    gs.last_unit = v.value("last_unit", std::string());
    gs.recovered_at = v.value("recovered_at", 0.0);
    groups[name] = std::move(gs);
    if (groups.size() >= kMaxUnits) break;
  }
  std::deque<double> recent;
  for (const auto& t : j.at("recent")) recent.push_back(t.get<double>());
  units_ = std::move(units);
  groups_ = std::move(groups);
  recent_ = std::move(recent);
}

}  // namespace mobasher
