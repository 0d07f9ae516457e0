#include "exporters/http/metrics.hpp"

#include <deque>

namespace mobasher {
namespace {

using prometheus::ClientMetric;
using prometheus::MetricFamily;
using prometheus::MetricType;
using Labels = std::vector<ClientMetric::Label>;

class Families {
 public:
  MetricFamily& family(const std::string& name, const std::string& help, MetricType type) {
    out_.push_back(MetricFamily{name, help, type, {}});
    return out_.back();
  }
  static void gauge(MetricFamily& f, Labels labels, double v) {
    ClientMetric m;
    m.label = std::move(labels);
    m.gauge.value = v;
    f.metric.push_back(std::move(m));
  }
  static void counter(MetricFamily& f, Labels labels, double v) {
    ClientMetric m;
    m.label = std::move(labels);
    m.counter.value = v;
    f.metric.push_back(std::move(m));
  }
  std::vector<MetricFamily> take() {
    std::vector<MetricFamily> out;
    for (auto& f : out_)
      if (!f.metric.empty()) out.push_back(std::move(f));  // no empty families in the output
    return out;
  }

 private:
  std::deque<MetricFamily> out_;  // deque: family() references stay valid as more are added
};

Labels unit_labels(const UnitSample& u) {
  return {{"unit", u.unit}, {"group", u.group}, {"channel", u.channel}};
}

Labels with(Labels l, std::string name, std::string value) {
  l.push_back({std::move(name), std::move(value)});
  return l;
}

// Long on purpose: the unit families, declared one after the other as in the exposition, then
// one loop over the units that fills them; split, the list of what a unit exports would be in
// two places.
void unit_families(Families& fs, const Snapshot& snap) {
  const auto G = MetricType::Gauge;
  auto& rss =
      fs.family("mobasher_unit_rss_bytes",
                "Resident memory of the unit's processes (sum of RssAnon+RssFile+RssShmem).", G);
  auto& swap = fs.family("mobasher_unit_swap_bytes",
                         "Swap used by the unit's processes (sum of VmSwap).", G);
  auto& usage =
      fs.family("mobasher_unit_memory_usage_bytes", "Memory charged to the unit's cgroup.", G);
  auto& ws = fs.family(
      "mobasher_unit_memory_working_set_bytes",
      "Cgroup usage minus inactive file cache (what the kernel cannot reclaim easily).", G);
  auto& limit = fs.family(
      "mobasher_unit_memory_limit_bytes",
      "Memory limit of the unit: the cgroup's when set, else the configured memory_limit.", G);
  auto& enforced = fs.family(
      "mobasher_unit_memory_limit_enforced",
      "1 when the unit's cgroup has a memory limit; 0 when it has none (or no memory cgroup) and "
      "the limit above is only the configured memory_limit.",
      G);
  auto& warn =
      fs.family("mobasher_unit_memory_warning_bytes", "Early-warning threshold of the unit.", G);
  auto& crit =
      fs.family("mobasher_unit_memory_critical_bytes", "Critical threshold of the unit.", G);
  auto& cgswap =
      fs.family("mobasher_unit_cgroup_swap_bytes", "Swap charged to the unit's cgroup.", G);
  auto& procs = fs.family("mobasher_unit_processes", "Processes in the unit.", G);
  auto& up = fs.family("mobasher_unit_up", "1 when the unit has running processes.", G);
  auto& start = fs.family("mobasher_unit_start_time_seconds",
                          "Start time of the unit's main process (Unix time).", G);
  auto& oom = fs.family("mobasher_unit_oom_kills_total",
                        "OOM kills in the unit, kept monotonic across cgroup re-creation.",
                        MetricType::Counter);
  auto& restarts =
      fs.family("mobasher_unit_restarts_total",
                "Restarts of the unit seen by the agent (main process changed), by cause.",
                MetricType::Counter);
  auto& failcnt = fs.family("mobasher_unit_memory_failcnt_total",
                            "Times the unit's cgroup hit its limit (cgroup v1 memory.failcnt).",
                            MetricType::Counter);
  auto& growth = fs.family(
      "mobasher_unit_memory_growth_bytes_per_second",
      "Growth of the unit's measured memory over the last 10 minutes (least squares).", G);
  auto& ttl = fs.family(
      "mobasher_unit_seconds_to_limit",
      "Seconds until the unit reaches its limit at the current growth; absent when not growing.",
      G);
  auto& predict = fs.family(
      "mobasher_unit_predict_window_seconds",
      "Horizon of the exhaustion alert: the group's restart.predict (alert when seconds_to_limit "
      "is below it).",
      G);
  auto& action_failures = fs.family(
      "mobasher_unit_action_failures",
      "Consecutive failed restart actions of the agent on the unit (0 after one succeeds).", G);
  auto& alert_state = fs.family("mobasher_unit_alert_state",
                                "State of each unit alert: 0 inactive, 1 pending, 2 firing.", G);

  for (const auto& u : snap.units) {
    Labels l = unit_labels(u);
    Families::gauge(rss, l, static_cast<double>(u.rss()));
    Families::gauge(swap, l, static_cast<double>(u.swap()));
    if (u.memory.usage) Families::gauge(usage, l, static_cast<double>(*u.memory.usage));
    if (auto w = u.memory.working_set()) Families::gauge(ws, l, static_cast<double>(*w));
    if (u.memory.swap) Families::gauge(cgswap, l, static_cast<double>(*u.memory.swap));
    if (u.memory.failcnt) Families::counter(failcnt, l, static_cast<double>(*u.memory.failcnt));
    Families::gauge(limit, l, static_cast<double>(u.effective_limit()));
    Families::gauge(enforced, l, u.memory.limit ? 1 : 0);
    Families::gauge(warn, l, static_cast<double>(u.warn_bytes));
    Families::gauge(crit, l, static_cast<double>(u.critical_bytes));
    Families::gauge(procs, l, static_cast<double>(u.processes.size()));
    Families::gauge(up, l, u.up() ? 1 : 0);
    if (auto* m = u.main_process()) Families::gauge(start, l, m->start_time_seconds);
    Families::counter(oom, l, static_cast<double>(u.oom_kills_total));
    for (const auto& [cause, n] : u.restarts)
      Families::counter(restarts, with(l, "cause", to_string(cause)), static_cast<double>(n));
    if (u.growth_bytes_per_second) Families::gauge(growth, l, *u.growth_bytes_per_second);
    if (u.seconds_to_limit) Families::gauge(ttl, l, *u.seconds_to_limit);
    Families::gauge(predict, l, u.predict_seconds);
    Families::gauge(action_failures, l, u.action_failures);
    for (const auto& [alert, phase] : u.alerts)
      Families::gauge(alert_state, with(l, "alert", std::string(alert)),
                      static_cast<double>(phase));
  }
}

// The unit's processes grouped by command (process-exporter's groupname, within one unit).
void process_families(Families& fs, const Snapshot& snap) {
  const auto G = MetricType::Gauge;
  auto& prss = fs.family("mobasher_process_rss_bytes",
                         "Resident memory of the unit's processes, by command.", G);
  auto& pswap =
      fs.family("mobasher_process_swap_bytes", "Swap of the unit's processes, by command.", G);
  auto& pinst =
      fs.family("mobasher_process_instances", "Number of processes of a command in the unit.", G);
  struct PerComm {
    uint64_t rss = 0, swap = 0, n = 0;
  };
  std::map<std::string, PerComm> by_comm;
  for (const auto& u : snap.units) {
    by_comm.clear();
    for (const auto& p : u.processes) {
      auto& c = by_comm[p.comm];
      c.rss += p.rss();
      c.swap += p.swap;
      ++c.n;
    }
    Labels l = unit_labels(u);
    for (const auto& [comm, c] : by_comm) {
      Labels pl = with(l, "comm", comm);
      Families::gauge(prss, pl, static_cast<double>(c.rss));
      Families::gauge(pswap, pl, static_cast<double>(c.swap));
      Families::gauge(pinst, pl, static_cast<double>(c.n));
    }
  }
}

void node_families(Families& fs, const NodeSample& n) {
  const auto G = MetricType::Gauge;
  auto opt = [&](const char* name, const char* help, const std::optional<uint64_t>& v) {
    if (v) Families::gauge(fs.family(name, help, G), {}, static_cast<double>(*v));
  };
  opt("mobasher_node_memory_total_bytes", "MemTotal of /proc/meminfo.", n.mem_total);
  opt("mobasher_node_memory_available_bytes", "MemAvailable of /proc/meminfo.", n.mem_available);
  opt("mobasher_node_swap_total_bytes", "SwapTotal of /proc/meminfo.", n.swap_total);
  opt("mobasher_node_swap_free_bytes", "SwapFree of /proc/meminfo.", n.swap_free);
  if (n.oom_kills)
    Families::counter(fs.family("mobasher_node_oom_kills_total", "oom_kill of /proc/vmstat.",
                                MetricType::Counter),
                      {}, static_cast<double>(*n.oom_kills));
  opt("mobasher_node_memory_available_min_bytes",
      "MobasherNodeMemoryLow fires below this (alerts.node_memory_available_min).",
      n.memory_available_min);
  opt("mobasher_node_swap_used_max_bytes",
      "MobasherNodeSwapHigh fires at this much swap used (alerts.node_swap_used_max).",
      n.swap_used_max);
  if (!n.alerts.empty()) {
    auto& f = fs.family("mobasher_node_alert_state",
                        "State of each node alert: 0 inactive, 1 pending, 2 firing.", G);
    for (const auto& [alert, phase] : n.alerts)
      Families::gauge(f, {{"alert", std::string(alert)}}, static_cast<double>(phase));
  }
  if (n.pressure_some_seconds || n.pressure_full_seconds) {
    auto& f = fs.family("mobasher_node_memory_pressure_seconds_total",
                        "Time some/all tasks stalled on memory (/proc/pressure/memory total).",
                        MetricType::Counter);
    if (n.pressure_some_seconds) Families::counter(f, {{"kind", "some"}}, *n.pressure_some_seconds);
    if (n.pressure_full_seconds) Families::counter(f, {{"kind", "full"}}, *n.pressure_full_seconds);
  }
}

void history_families(Families& fs, const HistoryStatus& h) {
  const auto G = MetricType::Gauge, C = MetricType::Counter;
  Families::gauge(fs.family("mobasher_history_bytes",
                            "Bytes of every history file on disk (current and rotated).", G),
                  {}, static_cast<double>(h.bytes));
  Families::gauge(fs.family("mobasher_history_files", "History files on disk.", G), {},
                  static_cast<double>(h.files));
  auto& recs = fs.family("mobasher_history_records_total",
                         "History records by outcome: written (synced to disk), dropped (the "
                         "pending queue was full while the disk failed).",
                         C);
  Families::counter(recs, {{"result", "written"}}, static_cast<double>(h.records_written));
  Families::counter(recs, {{"result", "dropped"}}, static_cast<double>(h.records_dropped));
  Families::gauge(
      fs.family("mobasher_history_pending_records", "History records waiting to be written.", G),
      {}, static_cast<double>(h.pending));
  Families::counter(fs.family("mobasher_history_write_errors_total",
                              "Failed history writes, syncs and rotations (each retried).", C),
                    {}, static_cast<double>(h.write_errors));
  Families::counter(fs.family("mobasher_history_torn_lines_total",
                              "Torn last lines cut off the history at start (after a crash).", C),
                    {}, static_cast<double>(h.torn_lines));
  Families::gauge(fs.family("mobasher_history_writable",
                            "1 when the last history write succeeded, 0 while writes fail.", G),
                  {}, h.error.empty() ? 1 : 0);
}

void action_families(Families& fs, const ActionStats& act) {
  auto& total = fs.family("mobasher_actions_total",
                          "Restart actions of the agent by action (restart, handover), cause "
                          "(memory, predicted, age) and result (done, dry_run, or what failed).",
                          MetricType::Counter);
  for (const auto& [key, n] : act.total)
    Families::counter(total, {{"action", key.at(0)}, {"cause", key.at(1)}, {"result", key.at(2)}},
                      static_cast<double>(n));
  Families::gauge(
      fs.family("mobasher_actions_in_flight", "Restart actions under way.", MetricType::Gauge), {},
      static_cast<double>(act.in_flight));
  Families::gauge(
      fs.family("mobasher_systemd_bus_connected",
                "1 while the agent is connected to systemd's D-Bus API.", MetricType::Gauge),
      {}, act.bus_connected ? 1 : 0);
  Families::gauge(fs.family("mobasher_policy_age_unknown_units",
                            "Units with an age cycle whose process age could not be known "
                            "(no start time on the boot clock): they get no age restart.",
                            MetricType::Gauge),
                  {}, static_cast<double>(act.age_unknown));
}

// The process_* families of Prometheus' client libraries, for the agent itself.
void self_families(Families& fs, const SelfStats& self) {
  const auto G = MetricType::Gauge;
  Families::counter(
      fs.family("process_cpu_seconds_total", "Total user and system CPU time spent in seconds.",
                MetricType::Counter),
      {}, self.cpu_seconds);
  Families::gauge(fs.family("process_resident_memory_bytes", "Resident memory size in bytes.", G),
                  {}, static_cast<double>(self.resident_bytes));
  Families::gauge(fs.family("process_virtual_memory_bytes", "Virtual memory size in bytes.", G), {},
                  static_cast<double>(self.virtual_bytes));
  Families::gauge(fs.family("process_start_time_seconds",
                            "Start time of the process since unix epoch in seconds.", G),
                  {}, self.start_time_seconds);
  Families::gauge(fs.family("process_open_fds", "Number of open file descriptors.", G), {},
                  static_cast<double>(self.open_fds));
  Families::gauge(fs.family("process_max_fds", "Maximum number of open file descriptors.", G), {},
                  static_cast<double>(self.max_fds));
}

void agent_families(Families& fs, const Snapshot& snap, const AgentStats& a,
                    const std::optional<SelfStats>& self) {
  {
    ClientMetric m;
    m.histogram = a.scan_duration;
    fs.family("mobasher_scan_duration_seconds", "Duration of one scan of /proc and the cgroups.",
              MetricType::Histogram)
        .metric.push_back(std::move(m));
  }
  Families::counter(fs.family("mobasher_scans_total", "Scans completed.", MetricType::Counter), {},
                    static_cast<double>(a.scans_total));
  auto& errs = fs.family("mobasher_scan_errors_total",
                         "Read or parse errors during scans, by source.", MetricType::Counter);
  for (const auto& [source, n] : a.scan_errors_total)
    Families::counter(errs, {{"source", source}}, static_cast<double>(n));
  auto& sent = fs.family("mobasher_notifications_total",
                         "Webhook notification outcomes by receiver: sent, failed (retried), "
                         "rejected (4xx, not retried), dropped (outbox full), corrupt (unreadable "
                         "outbox file).",
                         MetricType::Counter);
  for (const auto& [receiver, results] : a.notifications_total)
    for (const auto& [result, n] : results)
      Families::counter(sent, {{"receiver", receiver}, {"result", result}}, static_cast<double>(n));
  auto& queue = fs.family("mobasher_notification_queue_length",
                          "Notifications waiting in a receiver's outbox.", MetricType::Gauge);
  for (const auto& [receiver, n] : a.notification_queue)
    Families::gauge(queue, {{"receiver", receiver}}, static_cast<double>(n));
  if (a.history) history_families(fs, *a.history);
  if (a.actions) action_families(fs, *a.actions);
  Families::gauge(
      fs.family("mobasher_units_discovered",
                "Units (and /proc-matched groups) found by the last scan.", MetricType::Gauge),
      {}, static_cast<double>(snap.units.size()));
  Families::gauge(fs.family("mobasher_last_scan_timestamp_seconds",
                            "When the last scan was taken (Unix time).", MetricType::Gauge),
                  {}, unix_seconds(snap.taken_at));
  Families::gauge(
      fs.family("mobasher_build_info", "Version of the agent and the cgroup layout it detected.",
                MetricType::Gauge),
      {{"version", a.version}, {"cgroup_layout", snap.cgroup_layout}}, 1);
  if (self) self_families(fs, *self);
}

}  // namespace

std::vector<MetricFamily> build_families(const Snapshot& snap, const AgentStats& agent,
                                         const std::optional<SelfStats>& self) {
  Families fs;
  unit_families(fs, snap);
  process_families(fs, snap);
  node_families(fs, snap.node);
  agent_families(fs, snap, agent, self);
  return fs.take();
}

}  // namespace mobasher
