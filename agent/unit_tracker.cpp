#include "agent/unit_tracker.hpp"

#include <algorithm>

namespace mobasher {

namespace {

// Least-squares slope of bytes over time, in bytes per second.
std::optional<double> slope(const std::deque<std::pair<double, double>>& s) {
  if (s.size() < 4 || s.back().first - s.front().first < 15.0) return std::nullopt;
  double n = static_cast<double>(s.size()), mt = 0, mb = 0;
  for (auto& [t, b] : s) mt += t, mb += b;
  mt /= n, mb /= n;
  double num = 0, den = 0;
  for (auto& [t, b] : s) num += (t - mt) * (b - mb), den += (t - mt) * (t - mt);
  if (den <= 0) return std::nullopt;
  return num / den;
}

RestartCause cause_from(const std::string& s) {
  for (auto c : kRestartCauses)
    if (s == to_string(c)) return c;
  throw nlohmann::json::other_error::create(501, "unknown restart cause \"" + s + "\"", nullptr);
}

}  // namespace

void UnitTracker::update(State& st, UnitSample& u, double now, bool node_oom_increased) {
  // OOM kills: the cgroup counter restarts at 0 with every new cgroup (systemd recreates it on
  // restart), so earlier generations are folded into oom_base.
  bool oom_seen = false, regenerated = !u.memory.present;
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
      oom_seen = true;
      st.oom_last_raw = raw;
      dirty_ = true;
    }
  }

  const ProcessSample* main = u.main_process();
  if (main) {
    if (st.main && *st.main != main->id) {
      RestartCause cause = RestartCause::external;
      if (oom_seen) {
        cause = RestartCause::oom;
      } else if (node_oom_increased && regenerated) {
        // The kill happened in the old cgroup, which systemd removed before we read it: the
        // node counter is the only witness left. Count it, so the total stays truthful.
        cause = RestartCause::oom;
        ++st.oom_base;
      }
      ++st.restarts[cause];
      st.samples.clear();  // a new process: its growth starts again
      dirty_ = true;
    }
    st.main = main->id;
  }

  double bytes = opts_.measure_working_set && u.memory.working_set()
                     ? static_cast<double>(*u.memory.working_set())
                     : static_cast<double>(u.rss());
  if (u.up()) {
    st.samples.emplace_back(now, bytes);
    while (!st.samples.empty() &&
           (st.samples.size() > opts_.max_samples ||
            now - st.samples.front().first > static_cast<double>(opts_.growth_window.count())))
      st.samples.pop_front();
  }
  st.last_seen = now;

  u.oom_kills_total = st.oom_base + st.oom_last_raw;
  for (auto c : kRestartCauses) u.restarts[c] = st.restarts.count(c) ? st.restarts.at(c) : 0;
  u.growth_bytes_per_second = slope(st.samples);
  u.seconds_to_limit.reset();
  uint64_t limit = u.effective_limit();
  if (u.growth_bytes_per_second && *u.growth_bytes_per_second > 0 && limit > 0 &&
      bytes < static_cast<double>(limit))
    u.seconds_to_limit = (static_cast<double>(limit) - bytes) / *u.growth_bytes_per_second;
}

void UnitTracker::apply(Snapshot& snap) {
  double now = std::chrono::duration<double>(snap.taken_at.time_since_epoch()).count();
  bool node_oom_increased = false;
  if (snap.node.oom_kills) {
    node_oom_increased = last_node_oom_ && *snap.node.oom_kills > *last_node_oom_;
    last_node_oom_ = snap.node.oom_kills;
  }
  for (auto& u : snap.units) {
    if (!units_.count(u.unit) && units_.size() >= opts_.max_units) continue;  // bounded
    update(units_[u.unit], u, now, node_oom_increased);
  }
  for (auto it = units_.begin(); it != units_.end();) {
    if (now - it->second.last_seen > static_cast<double>(opts_.forget_after.count())) {
      it = units_.erase(it);
      dirty_ = true;
    } else {
      ++it;
    }
  }
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
