#include "exporters/http/status_json.hpp"

#include "agent/base/quantities.hpp"

namespace mobasher {

namespace {

template <typename T>
nlohmann::json opt(const std::optional<T>& v) {
  return v ? nlohmann::json(*v) : nlohmann::json(nullptr);
}

nlohmann::json process_json(const ProcessSample& p) {
  return {{"pid", p.id.pid},
          {"start_time_ticks", p.id.start_time},
          {"ppid", p.ppid},
          {"comm", p.comm},
          {"main", p.main},
          {"rss_bytes", p.rss()},
          {"rss_anon_bytes", p.rss_anon},
          {"rss_file_bytes", p.rss_file},
          {"rss_shmem_bytes", p.rss_shmem},
          {"swap_bytes", p.swap},
          {"pss_bytes", opt(p.pss)},
          {"start_time", p.start_time_seconds}};
}

nlohmann::json cgroup_memory_json(const CgroupMemory& m) {
  return {{"present", m.present},
          {"usage_bytes", opt(m.usage)},
          {"working_set_bytes", opt(m.working_set())},
          {"limit_bytes", opt(m.limit)},
          {"swap_bytes", opt(m.swap)},
          {"anon_bytes", opt(m.anon)},
          {"file_bytes", opt(m.file)},
          {"inactive_file_bytes", opt(m.inactive_file)},
          {"oom_kills", opt(m.oom_kills)},
          {"failcnt", opt(m.failcnt)}};
}

nlohmann::json unit_json(const UnitSample& u, double now) {
  nlohmann::json procs = nlohmann::json::array();
  for (const auto& p : u.processes) procs.push_back(process_json(p));
  nlohmann::json restarts = nlohmann::json::object();
  for (const auto& [c, n] : u.restarts) restarts[to_string(c)] = n;
  nlohmann::json alerts = nlohmann::json::object();
  for (const auto& [a, phase] : u.alerts) alerts[std::string(a)] = to_string(phase);
  const ProcessSample* main = u.main_process();
  uint64_t limit = u.effective_limit();
  auto of_main = [&](auto value) { return main ? nlohmann::json(value) : nlohmann::json(nullptr); };
  return {
      {"unit", u.unit},
      {"group", u.group},
      {"channel", u.channel},
      {"cgroup", u.cgroup},
      {"up", u.up()},
      {"rss_bytes", u.rss()},
      {"swap_bytes", u.swap()},
      {"limit_bytes", limit},
      {"limit_enforced", u.memory.limit.has_value()},  // false: limit_bytes is the configured one
      {"warning_bytes", u.warn_bytes},
      {"critical_bytes", u.critical_bytes},
      {"percent_of_limit",
       limit ? 100.0 * static_cast<double>(u.rss()) / static_cast<double>(limit) : 0.0},
      {"cgroup_memory", cgroup_memory_json(u.memory)},
      {"main_pid", of_main(main ? main->id.pid : 0)},
      {"start_time", of_main(main ? main->start_time_seconds : 0)},
      {"age_seconds", of_main(main ? now - main->start_time_seconds : 0)},
      {"oom_kills_total", u.oom_kills_total},
      {"restarts", restarts},
      {"growth_bytes_per_second", opt(u.growth_bytes_per_second)},
      {"seconds_to_limit", opt(u.seconds_to_limit)},
      {"predict_window_seconds", u.predict_seconds},
      {"alerts", alerts},
      {"processes", procs}};
}

nlohmann::json node_json(const NodeSample& n) {
  nlohmann::json alerts = nlohmann::json::object();
  for (const auto& [a, phase] : n.alerts) alerts[std::string(a)] = to_string(phase);
  return {{"memory_total_bytes", opt(n.mem_total)},
          {"memory_available_bytes", opt(n.mem_available)},
          {"swap_total_bytes", opt(n.swap_total)},
          {"swap_free_bytes", opt(n.swap_free)},
          {"oom_kills", opt(n.oom_kills)},
          {"memory_available_min_bytes", opt(n.memory_available_min)},
          {"swap_used_max_bytes", opt(n.swap_used_max)},
          {"alerts", alerts}};
}

}  // namespace

nlohmann::json status_json(const Snapshot& snap, const std::string& version) {
  double now = unix_seconds(snap.taken_at);
  nlohmann::json units = nlohmann::json::array();
  for (const auto& u : snap.units) units.push_back(unit_json(u, now));
  nlohmann::json errors = nlohmann::json::object();
  for (const auto& [k, v] : snap.errors) errors[k] = v;
  return {{"version", version},
          {"taken_at", format_rfc3339(snap.taken_at)},
          {"cgroup_layout", snap.cgroup_layout},
          {"scan_seconds", snap.scan_seconds},
          {"scan_errors", errors},
          {"node", node_json(snap.node)},
          {"units", units}};
}

}  // namespace mobasher
