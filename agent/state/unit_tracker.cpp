#include "agent/state/unit_tracker.hpp"

#include <algorithm>
#include <iterator>

#include "agent/base/slots.hpp"

namespace mobasher {

namespace {

constexpr double kMinSlopeSpan = 15;  // seconds of samples the growth gauge needs
constexpr size_t kMinSlopeSamples = 4;

// Least-squares slope of bytes over time, in bytes per second: from kMinSlopeSamples samples
// spanning min_span seconds or more.
using Samples = std::deque<std::pair<double, double>>;
std::optional<double> slope(Samples::const_iterator first, Samples::const_iterator last,
                            double min_span) {
  auto count = std::distance(first, last);
  if (count < static_cast<long>(kMinSlopeSamples) ||
      std::prev(last)->first - first->first < min_span)
    return std::nullopt;
  double n = static_cast<double>(count), mt = 0, mb = 0;
  for (auto it = first; it != last; ++it) mt += it->first, mb += it->second;
  mt /= n, mb /= n;
  double num = 0, den = 0;
  for (auto it = first; it != last; ++it)
    num += (it->first - mt) * (it->second - mb), den += (it->first - mt) * (it->first - mt);
  if (den <= 0) return std::nullopt;
  return num / den;
}

RestartCause cause_from(const std::string& s) {
  if (auto c = parse_enum<RestartCause>(s)) return *c;
  throw nlohmann::json::other_error::create(501, "unknown restart cause \"" + s + "\"", nullptr);
}

}  // namespace

// An OOM kill explains a restart that follows it within this long.
constexpr double kOomEvidenceSeconds = 60;
// systemd's NRestarts explains a restart seen from the processes within this long.
constexpr double kMatchSeconds = 30;

void UnitTracker::set_options(TrackerOptions o) {
  if (o.measure != opts_.measure)
    for (auto& [name, st] : units_) st.samples.clear();
  opts_ = o;
}

// Times: `now` is the snapshot's boot clock (OOM evidence, expectations, NRestarts matching,
// growth samples: a wall-clock step moves none of them); `wall` only dates last_seen, which
// units.json keeps across agent restarts and reboots.
UnitTracker::Update UnitTracker::update(State& st, UnitSample& u, double now, double wall) {
  Update r;
  bool regenerated = track_oom_kills(st, u, now, r);
  track_restart(st, u, now, regenerated, r);
  add_growth_sample(st, u, now);
  st.last_seen = wall;
  return r;
}

// OOM kills: the cgroup counter restarts at 0 with every new cgroup (systemd recreates it on
// restart), so earlier generations are folded into oom_base. Returns whether the unit has a new
// cgroup since the last scan.
bool UnitTracker::track_oom_kills(State& st, const UnitSample& u, double now, Update& r) {
  bool regenerated = false;
  if (u.memory.present && u.memory.oom_kills) {
    uint64_t raw = *u.memory.oom_kills;
    if (u.memory.generation != st.generation || raw < st.oom_last_raw) {
      regenerated = st.generation != 0;
      if (regenerated) st.oom_base += st.oom_last_raw;
      st.generation = u.memory.generation;
      st.oom_last_raw = 0;
      dirty_ = true;
    }
    if (raw > st.oom_last_raw) {
      r.oom_increase = raw - st.oom_last_raw;
      st.oom_last_raw = raw;
      st.oom_seen_at = now;
      dirty_ = true;
    }
  }
  if (st.oom_seen_at && now - *st.oom_seen_at > kOomEvidenceSeconds) st.oom_seen_at.reset();
  return regenerated;
}

// Restarts: the main process the unit was last seen with is gone and a main process that was
// not in the unit before has appeared. A child that outlives the old main (ffmpeg finishing
// its file, reparented outside the unit) was a member before, so it is no restart.
void UnitTracker::track_restart(State& st, const UnitSample& u, double now, bool regenerated,
                                Update& r) {
  std::vector<ProcessId> members;
  members.reserve(u.processes.size());
  for (const auto& p : u.processes) members.push_back(p.id);
  std::sort(members.begin(), members.end());
  bool expecting = st.expected && now <= st.expected_until;
  if (st.expected && !expecting) st.expected.reset();
  const ProcessSample* fresh = nullptr;
  if (!st.main) {
    fresh = u.main_process();
    if (fresh && !expecting) st.main = fresh->id, fresh = nullptr;  // first sight: no restart
  } else if (!std::binary_search(members.begin(), members.end(), *st.main)) {
    for (const auto& p : u.processes)
      if (p.main && !std::binary_search(st.members.begin(), st.members.end(), p.id) &&
          (!fresh || p.id.start_time < fresh->id.start_time))
        fresh = &p;
  }
  st.members = std::move(members);
  if (!fresh) return;
  // Without a cause yet, and systemd's properties at hand: wait for NRestarts to tell systemd's
  // Restart= from anything else, rather than count external and take it back.
  bool ask_systemd = st.n_restarts && now - st.n_restarts_at <= kMatchSeconds;
  std::optional<RestartCause> cause;
  if (expecting) {
    cause = *st.expected;
    st.expected.reset();
  } else if (st.oom_seen_at) {
    cause = RestartCause::oom;
    st.oom_seen_at.reset();
  } else {
    r.unexplained_restart = regenerated;
    if (!ask_systemd) cause = RestartCause::external;
  }
  if (ask_systemd && (!cause || *cause == RestartCause::oom)) {
    st.unmatched.push_back({now, !cause});
    if (st.unmatched.size() > 16) {  // bounded: the oldest is decided now
      if (st.unmatched.front().pending) ++st.restarts[RestartCause::external];
      st.unmatched.pop_front();
    }
  }
  if (cause) ++st.restarts[*cause];
  st.main = fresh->id;
  st.samples.clear();  // a new process: its growth starts again
  dirty_ = true;
}

// Growth samples: one measure only, never a mix (no working set this scan: no sample).
void UnitTracker::add_growth_sample(State& st, const UnitSample& u, double now) const {
  auto bytes = u.measured(opts_.measure);
  if (!u.up() || !bytes) return;
  st.samples.emplace_back(now, static_cast<double>(*bytes));
  while (!st.samples.empty() &&
         (st.samples.size() > opts_.max_samples ||
          now - st.samples.front().first > static_cast<double>(opts_.growth_window.count())))
    st.samples.pop_front();
}

// Every NRestarts increase is one automatic restart by systemd's Restart=: one already seen (an
// OOM kill stays oom, a pending one is counted systemd) or one between two scans that was never
// seen (counted systemd now). A decrease (a manual restart, reset-failed) or an observation after
// a gap (the bus was down) only rebases: what happened meanwhile was counted from the processes.
void UnitTracker::match_systemd(State& st, const UnitSample& u, double now) {
  while (!st.unmatched.empty() && now - st.unmatched.front().at > kMatchSeconds) {
    if (st.unmatched.front().pending) ++st.restarts[RestartCause::external], dirty_ = true;
    st.unmatched.pop_front();
  }
  if (!u.systemd) return;
  uint32_t n = u.systemd->n_restarts;
  bool fresh = st.n_restarts && now - st.n_restarts_at <= kMatchSeconds;
  if (fresh && n > *st.n_restarts) {
    for (uint32_t i = *st.n_restarts; i < n; ++i) {
      bool seen_oom = !st.unmatched.empty() && !st.unmatched.front().pending;
      if (!st.unmatched.empty()) st.unmatched.pop_front();
      if (!seen_oom) ++st.restarts[RestartCause::systemd];
    }
    dirty_ = true;
  }
  st.n_restarts = n;
  st.n_restarts_at = now;
}

void UnitTracker::forget_expectation(const std::string& unit) {
  if (auto it = units_.find(unit); it != units_.end()) it->second.expected.reset();
}

void UnitTracker::expect_restart(const std::string& unit, RestartCause cause, double until) {
  if (!units_.count(unit) && units_.size() >= opts_.max_units) return;
  State& st = units_[unit];
  st.expected = cause;
  st.expected_until = until;
  if (st.last_seen == 0) st.last_seen = last_wall_;  // not forgotten before it appears
}

void UnitTracker::fill(const State& st, UnitSample& u) const {
  u.oom_kills_total = st.oom_base + st.oom_last_raw;
  for (const auto& [c, name] : kRestartCauses)
    u.restarts[c] = st.restarts.count(c) ? st.restarts.at(c) : 0;
  u.growth_bytes_per_second = slope(st.samples.begin(), st.samples.end(), kMinSlopeSpan);
  u.seconds_to_limit.reset();
  uint64_t limit = u.effective_limit();
  if (st.samples.empty() || limit == 0) return;
  double current = st.samples.back().second;
  // A prediction needs predict_window of observation, and follows the current trend: the slower
  // of the whole window's growth and the newest half's. A start-up ramp that went flat has a flat
  // newest half; a steady leak has the same slope in both. The newest half needs its own
  // kMinSlopeSamples samples (not kMinSlopeSpan: a predict_window under 30 s still sees a ramp
  // as one); until it has them there is no prediction.
  double span = st.samples.back().first - st.samples.front().first;
  if (span < u.predict_window || current >= static_cast<double>(limit)) return;
  auto half = std::find_if(st.samples.begin(), st.samples.end(), [&](const auto& s) {
    return s.first >= st.samples.back().first - span / 2;
  });
  auto recent = slope(half, st.samples.end(), 0);
  if (!u.growth_bytes_per_second || !recent) return;
  double trend = std::min(*u.growth_bytes_per_second, *recent);
  if (trend > 0) u.seconds_to_limit = (static_cast<double>(limit) - current) / trend;
}

void UnitTracker::apply(Snapshot& snap) {
  const double now = snap.boot_seconds, wall = unix_seconds(snap.taken_at);
  last_wall_ = wall;
  uint64_t node_increase = 0;
  if (snap.node.oom_kills) {
    if (last_node_oom_ && *snap.node.oom_kills > *last_node_oom_)
      node_increase = *snap.node.oom_kills - *last_node_oom_;
    last_node_oom_ = snap.node.oom_kills;
  }
  uint64_t cgroup_increase = 0;
  std::vector<std::pair<State*, UnitSample*>> unexplained;
  ++applies_;
  before_.assign(snap.units.size(), Before{});
  for (size_t i = 0; i < snap.units.size(); ++i) {
    auto& u = snap.units[i];
    if (!units_.count(u.unit) && units_.size() >= opts_.max_units) continue;  // bounded
    State& st = units_[u.unit];
    Before& b = before_[i];
    b.st = &st;
    for (size_t c = 0; c < kRestartCauses.size(); ++c) {
      auto it = st.restarts.find(kRestartCauses[c].value);
      b.restarts[c] = it == st.restarts.end() ? 0 : it->second;
    }
    b.oom = st.oom_base + st.oom_last_raw;
    b.appeared = st.seen_in_apply == 0 || st.seen_in_apply + 1 != applies_;
    st.seen_in_apply = applies_;
    Update r = update(st, u, now, wall);
    cgroup_increase += r.oom_increase;
    if (r.unexplained_restart) unexplained.emplace_back(&st, &u);
  }
  attribute_node_ooms(node_increase, cgroup_increase, unexplained, now);
  for (size_t i = 0; i < snap.units.size(); ++i)
    if (State* st = before_[i].st) {
      match_systemd(*st, snap.units[i], now);  // after the OOM attribution: oom stays oom
      fill(*st, snap.units[i]);
    }
  emit_events(snap);
  forget_stale(wall);
}

// The node counted kills no unit's cgroup shows: a unit restarted into a new cgroup had its kill
// recorded in the old cgroup, removed by systemd before it could be read (on v1 systemd reports
// it as Result=signal). Each such kill explains at most one restart, within 60 s.
void UnitTracker::attribute_node_ooms(
    uint64_t node_increase, uint64_t cgroup_increase,
    const std::vector<std::pair<State*, UnitSample*>>& unexplained, double now) {
  if (now - unattributed_since_ > kOomEvidenceSeconds) unattributed_node_ooms_ = 0;
  if (node_increase > cgroup_increase) {
    unattributed_node_ooms_ += node_increase - cgroup_increase;
    unattributed_since_ = now;
  }
  for (auto [st, u] : unexplained) {
    if (unattributed_node_ooms_ == 0) break;
    --unattributed_node_ooms_;
    if (!st->unmatched.empty() && st->unmatched.back().pending && st->unmatched.back().at == now)
      st->unmatched.back().pending = false;  // not counted yet: an OOM kill, matched as one
    else
      --st->restarts[RestartCause::external];  // counted this scan, not exported yet
    ++st->restarts[RestartCause::oom];
    ++st->oom_base;
  }
}

// Units not seen for forget_after. The idle slot of a hand-over is away for a whole cycle: it
// keeps its counters while the other slot runs.
void UnitTracker::forget_stale(double wall) {
  const double forget_after = static_cast<double>(opts_.forget_after.count());
  for (auto it = units_.begin(); it != units_.end();) {
    auto other = other_slot(it->first);
    auto partner = other ? units_.find(*other) : units_.end();
    bool kept = partner != units_.end() && wall - partner->second.last_seen <= forget_after;
    if (wall - it->second.last_seen > forget_after && !kept) {
      it = units_.erase(it);
      dirty_ = true;
    } else {
      ++it;
    }
  }
}

// After fill(): each counter's increase over what apply() began with, and the units that came or
// went. A unit's first scan compares with what load_json() and seed() gave it.
void UnitTracker::emit_events(Snapshot& snap) {
  snap.events.clear();
  for (size_t i = 0; i < snap.units.size(); ++i) {
    const Before& b = before_[i];
    if (!b.st) continue;
    const UnitSample& u = snap.units[i];
    if (b.appeared) snap.events.push_back({UnitEvent::Kind::appeared, u.unit});
    for (size_t c = 0; c < kRestartCauses.size(); ++c) {
      uint64_t n = u.restarts.at(kRestartCauses[c].value);
      if (n > b.restarts[c])
        snap.events.push_back(
            {UnitEvent::Kind::restart, u.unit, kRestartCauses[c].value, n - b.restarts[c], n});
    }
    if (u.oom_kills_total > b.oom)
      snap.events.push_back({UnitEvent::Kind::oom_kill, u.unit, RestartCause::external,
                             u.oom_kills_total - b.oom, u.oom_kills_total});
  }
  // Seen by the previous apply() and not by this one. (A unit seen again after a gap appears
  // again.)
  for (const auto& [name, st] : units_)
    if (st.seen_in_apply != 0 && st.seen_in_apply + 1 == applies_)
      snap.events.push_back({UnitEvent::Kind::vanished, name});
  before_.clear();
}

void UnitTracker::seed(const std::string& unit, const UnitSeed& s, double boot_minus_wall) {
  if (!units_.count(unit) && units_.size() >= opts_.max_units) return;
  State& st = units_[unit];
  // Where the history knows more than units.json (missing, or not saved while the disk was
  // full), it is the newer record: its main process is unknown then, so the one units.json
  // names is forgotten rather than taken for a restart the history already counted.
  bool newer_restarts = false;
  for (const auto& [cause, n] : s.restarts)
    if (n > st.restarts[cause]) st.restarts[cause] = n, newer_restarts = true, dirty_ = true;
  if (newer_restarts) st.main.reset(), st.members.clear();
  if (s.oom_total > st.oom_base + st.oom_last_raw ||
      (st.generation == 0 && s.oom_generation != 0)) {
    st.generation = s.oom_generation;
    st.oom_last_raw = std::min(s.oom_cgroup, s.oom_total);
    st.oom_base = s.oom_total - st.oom_last_raw;
    dirty_ = true;
  }
  st.last_seen = std::max(st.last_seen, s.last_seen);
  if (st.samples.empty())
    for (const auto& [t, bytes] : s.samples) st.samples.emplace_back(t + boot_minus_wall, bytes);
  while (st.samples.size() > opts_.max_samples) st.samples.pop_front();
}

nlohmann::json UnitTracker::to_json() const {
  nlohmann::json units = nlohmann::json::object();
  for (const auto& [name, st] : units_) {
    nlohmann::json restarts = nlohmann::json::object();
    for (const auto& [c, n] : st.restarts) restarts[to_string(c)] = n;
    units[name] = {{"generation", st.generation},
                   {"oom_base", st.oom_base},
                   {"oom_last_raw", st.oom_last_raw},
                   {"restarts", restarts},
                   {"last_seen", st.last_seen}};
    if (st.main) units[name]["main"] = {st.main->pid, st.main->start_time};
  }
  return {{"version", 1}, {"units", units}};
}

void UnitTracker::load_json(const nlohmann::json& j) {
  if (j.at("version").get<int>() != 1)
    throw nlohmann::json::other_error::create(501, "unsupported state version", nullptr);
  std::map<std::string, State> loaded;
  for (const auto& [name, v] : j.at("units").items()) {
    State st;
    st.generation = v.at("generation").get<uint64_t>();
    st.oom_base = v.at("oom_base").get<uint64_t>();
    st.oom_last_raw = v.at("oom_last_raw").get<uint64_t>();
    st.last_seen = v.at("last_seen").get<double>();
    for (const auto& [c, n] : v.at("restarts").items())
      st.restarts[cause_from(c)] = n.get<uint64_t>();
    if (v.contains("main"))
      st.main = ProcessId{v["main"].at(0).get<pid_t>(), v["main"].at(1).get<uint64_t>()};
    loaded[name] = std::move(st);
    if (loaded.size() >= opts_.max_units) break;
  }
  units_ = std::move(loaded);
}

}  // namespace mobasher
