#include "exporters/http/status_json.hpp"

#include "agent/base/quantities.hpp"

namespace mobasher {

namespace {

template <typename T>
nlohmann::json opt(const std::optional<T>& v) {
  return v ? nlohmann::json(*v) : nlohmann::json(nullptr);
}

}  // namespace

nlohmann::json status_json(const Snapshot& snap, const std::string& version) {
  double now = unix_seconds(snap.taken_at);
  nlohmann::json units = nlohmann::json::array();
  for (const auto& u : snap.units) {
    nlohmann::json procs = nlohmann::json::array();
    for (const auto& p : u.processes) {
      procs.push_back({{"pid", p.id.pid},
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
                       {"start_time", p.start_time_seconds}});
    }
    nlohmann::json restarts = nlohmann::json::object();
    for (const auto& [c, n] : u.restarts) restarts[to_string(c)] = n;
    nlohmann::json alerts = nlohmann::json::object();
    for (const auto& [a, phase] : u.alerts) alerts[std::string(a)] = to_string(phase);
    const ProcessSample* main = u.main_process();
    uint64_t limit = u.effective_limit();
    nlohmann::json j = {
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
        {"cgroup_memory",
         {{"present", u.memory.present},
          {"usage_bytes", opt(u.memory.usage)},
          {"working_set_bytes", opt(u.memory.working_set())},
          {"limit_bytes", opt(u.memory.limit)},
          {"swap_bytes", opt(u.memory.swap)},
          {"anon_bytes", opt(u.memory.anon)},
          {"file_bytes", opt(u.memory.file)},
          {"inactive_file_bytes", opt(u.memory.inactive_file)},
          {"oom_kills", opt(u.memory.oom_kills)},
          {"failcnt", opt(u.memory.failcnt)}}},
        {"main_pid", main ? nlohmann::json(main->id.pid) : nlohmann::json(nullptr)},
        {"start_time", main ? nlohmann::json(main->start_time_seconds) : nlohmann::json(nullptr)},
        {"age_seconds",
         main ? nlohmann::json(now - main->start_time_seconds) : nlohmann::json(nullptr)},
        {"oom_kills_total", u.oom_kills_total},
        {"restarts", restarts},
        {"growth_bytes_per_second", opt(u.growth_bytes_per_second)},
        {"seconds_to_limit", opt(u.seconds_to_limit)},
        {"predict_window_seconds", u.predict_seconds},
        {"alerts", alerts},
        {"processes", procs}};
    units.push_back(std::move(j));
  }
  nlohmann::json node_alerts = nlohmann::json::object();
  for (const auto& [a, phase] : snap.node.alerts) node_alerts[std::string(a)] = to_string(phase);
  nlohmann::json errors = nlohmann::json::object();
  for (const auto& [k, v] : snap.errors) errors[k] = v;
  return {{"version", version},
          {"taken_at", format_rfc3339(snap.taken_at)},
          {"cgroup_layout", snap.cgroup_layout},
          {"scan_seconds", snap.scan_seconds},
          {"scan_errors", errors},
          {"node",
           {{"memory_total_bytes", opt(snap.node.mem_total)},
            {"memory_available_bytes", opt(snap.node.mem_available)},
            {"swap_total_bytes", opt(snap.node.swap_total)},
            {"swap_free_bytes", opt(snap.node.swap_free)},
            {"oom_kills", opt(snap.node.oom_kills)},
            {"memory_available_min_bytes", opt(snap.node.memory_available_min)},
            {"swap_used_max_bytes", opt(snap.node.swap_used_max)},
            {"alerts", node_alerts}}},
          {"units", units}};
}

}  // namespace mobasher
