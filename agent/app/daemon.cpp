#include "agent/app/daemon.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <spdlog/spdlog.h>
#include <algorithm>
#include <csignal>
#include <cstring>
#include <filesystem>
#include <fstream>

#include "agent/base/atomic_file.hpp"
#include "collectors/self_metrics.hpp"
#include "exporters/history/history_api.hpp"
#include "exporters/history/history_record.hpp"
#include "exporters/history/history_seed.hpp"
#include "exporters/http/status_json.hpp"
#include "exporters/http/status_page.hpp"

namespace mobasher {
namespace {

std::string unit_globs(const Config& c) {
  std::string out;
  for (const auto& g : c.groups) {
    if (!out.empty()) out += ", ";
    out +=
        g.units.empty() ? g.name + " (by " + (g.match->comm ? "comm" : "cmdline") + ")" : g.units;
  }
  return out.empty() ? "(no groups configured)" : out;
}

// The built-in plan has groups, so none can only be a file's "groups": [].
void warn_if_no_groups(const Config& c) {
  if (c.groups.empty())
    spdlog::warn("config: no groups: watching no units (groups is [] in {})", c.source);
}

}  // namespace

prometheus::Histogram::BucketBoundaries scan_duration_buckets() {
  return {0.0002, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1};
}

Config apply_flags(Config c, const CliOptions& cli) {
  if (cli.listen) c.listen = *cli.listen;
  if (cli.state_dir) c.state_dir = *cli.state_dir;
  if (cli.dry_run) c.actions.dry_run = true;
  return c;
}

ScannerOptions scanner_options(const CliOptions& cli) {
  ScannerOptions o;
  if (cli.proc_root) o.proc_root = *cli.proc_root;
  if (cli.cgroup_root) o.cgroup_root = *cli.cgroup_root;
  return o;
}

TrackerOptions tracker_options(const Config& c) {
  TrackerOptions o;
  o.measure = c.measure;
  return o;
}

HistoryOptions history_options(const Config& c) {
  HistoryOptions o;
  o.dir = std::filesystem::path(c.state_dir) / "history";
  o.max_file_size = c.history.max_file_size;
  o.max_files = c.history.max_files;
  o.max_age = std::chrono::duration_cast<std::chrono::seconds>(c.history.max_age);
  o.max_total_size = c.history.max_total_size;
  return o;
}

std::string host_name() {
  char buf[256] = {};
  if (::gethostname(buf, sizeof buf - 1) != 0 || buf[0] == 0) return "localhost";
  return buf;
}

std::shared_ptr<Published> render(SnapshotPtr snap, const AgentStats& stats, const Config& cfg) {
  auto p = std::make_shared<Published>();
  p->metrics = render_exposition(build_families(*snap, stats, read_self_stats()));
  auto status = status_json(*snap, stats.version);
  p->status = status.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  p->page = status_page(status);
  p->scanned_at = std::chrono::steady_clock::now();
  p->stale_after = 3 * cfg.scan_interval;
  if (snap->errors.count("node") && !snap->node.mem_total)
    p->failure = "cannot read meminfo under the proc root";
  if (stats.history && !stats.history->error.empty())
    p->warning = "history not written since " + format_rfc3339(stats.history->error_since) + ": " +
                 stats.history->error + " (" + std::to_string(stats.history->pending) +
                 " records pending, " + std::to_string(stats.history->records_dropped) +
                 " dropped)";
  p->snapshot = std::move(snap);
  return p;
}

Daemon::Daemon(CliOptions cli, Config config)
    : cli_(std::move(cli)),
      config_(std::move(config)),
      timer_(io_),
      signals_(io_, SIGTERM, SIGINT, SIGHUP),
      scanner_(std::make_unique<Scanner>(scanner_options(cli_), config_)),
      tracker_(tracker_options(config_)),
      alerts_(alert_settings(config_, host_name())),
      scan_hist_(scan_duration_buckets()) {
  stats_.version = MOBASHER_VERSION;
  for (const char* source : {"cgroup", "proc", "node", "state", "duplicate_unit"})
    stats_.scan_errors_total[source] = 0;
}

// Reads STATE_DIR/file into state. An unreadable file is kept aside for inspection (never
// overwritten with what this run knows) and counted.
template <typename State>
void Daemon::load_json_state(State& state, const char* file) {
  auto path = std::filesystem::path(config_.state_dir) / file;
  std::ifstream in(path);
  if (!in) return;  // first start
  try {
    state.load_json(nlohmann::json::parse(in));
    spdlog::info("state loaded file={}", path.string());
  } catch (const std::exception& e) {
    auto aside = path.string() + ".corrupt";
    std::error_code ec;
    std::filesystem::rename(path, aside, ec);
    ++stats_.scan_errors_total["state"];
    spdlog::error("state file unreadable file={} error=\"{}\" kept_as={}", path.string(), e.what(),
                  aside);
  }
}

template <typename State>
void Daemon::save_json_state(State& state, const char* file, std::string& last_error) {
  if (!state.dirty()) return;
  std::string err;
  auto path = std::filesystem::path(config_.state_dir) / file;
  if (!write_file_atomic(
          path,
          state.to_json().dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n",
          err)) {
    ++stats_.scan_errors_total["state"];
    if (err != last_error) spdlog::warn("state not saved error=\"{}\"", err);  // once per cause
    last_error = err;
  } else {
    state.mark_saved();
    last_error.clear();
  }
}

void Daemon::load_state() {
  load_json_state(tracker_, "units.json");
  load_json_state(alerts_, "alerts.json");
  if (restarter_) load_json_state(restarter_->policy(), "actions.json");
  seed_from_history();
}

// After units.json: what it lacks (growth samples; counters when it is missing or older) comes
// from the history, so restarts_total and predictions do not start from zero.
void Daemon::seed_from_history() {
  if (!history_) return;
  SeedOptions o;
  o.growth_window = tracker_options(config_).growth_window;
  o.measure = config_.measure;
  HistoryReadStats read;
  const WallTime now = WallClock::now();
  const double boot_minus_wall = boot_clock_seconds() - unix_seconds(now);
  auto seeds = read_seeds(history_->options().dir, now, o, &read);
  for (const auto& [unit, seed] : seeds) tracker_.seed(unit, seed, boot_minus_wall);
  for (const auto& e : read.errors) spdlog::warn("history unreadable {}", e);
  spdlog::info("history read units={} files={} records={} bad_records={}", seeds.size(), read.files,
               read.matched, read.bad_lines);
}

// Events of this scan, then (every history.interval) one sample per unit and one of the node.
void Daemon::record_history(const Snapshot& snap) {
  if (!history_) return;
  const auto interval = config_.history.interval;
  // Not due yet; but a clock stepped back by more than an interval must not stop the samples.
  if (snap.taken_at < next_history_sample_ && next_history_sample_ - snap.taken_at <= interval)
    return;
  for (const auto& u : snap.units) history_append(history_unit_sample(u, snap.taken_at));
  history_append(history_node_sample(snap.node, snap.taken_at));
  // Half a scan early counts as due: 15 s at 5 s scans stays 15 s instead of 15 or 20.
  next_history_sample_ = snap.taken_at + interval - std::min(interval, config_.scan_interval) / 2;
}

void Daemon::save_state() {
  save_json_state(tracker_, "units.json", last_state_error_);
  save_json_state(alerts_, "alerts.json", last_alert_state_error_);
  if (restarter_) save_json_state(restarter_->policy(), "actions.json", last_action_state_error_);
}

void Daemon::start_notifier() {
  NotificationCounts counts;
  if (notifier_) counts = notifier_->counts();
  notifier_.reset();  // before the new one opens the same outboxes
  if (config_.alerts.webhooks.empty()) return;
  auto port = config_.listen.substr(config_.listen.rfind(':') + 1);
  PayloadContext ctx{"", "http://" + host_name() + ":" + port + "/", MOBASHER_VERSION, 0};
  notifier_ = std::make_unique<Notifier>(io_, config_.alerts, config_.state_dir, ctx, counts);
}

// Evaluates the alerts on the new snapshot, logs the transitions and hands them to delivery.
// The outbox is written before alerts.json: a crash between the two repeats a notification,
// it never loses one.
void Daemon::handle_alerts(Snapshot& snap) {
  auto notes = alerts_.evaluate(snap);
  for (const auto& n : notes) {
    if (n.kind == NotificationKind::repeat) continue;
    const std::string unit = n.labels.count("unit") ? n.labels.at("unit") : "-";
    history_append(
        history_event(n.status() == NotificationStatus::firing ? "alert_firing" : "alert_resolved",
                      snap.taken_at, unit == "-" ? "" : unit,
                      {{"alert", n.alertname},
                       {"severity", n.labels.at("severity")},
                       {"value", n.value},
                       {"threshold", n.threshold}}));
    if (n.status() == NotificationStatus::firing)
      spdlog::warn("alert firing alert={} unit={} severity={} value={} threshold={} summary=\"{}\"",
                   n.alertname, unit, n.labels.at("severity"),
                   format_alert_value(n.alertname, n.value),
                   format_alert_value(n.alertname, n.threshold), n.annotations.at("summary"));
    else
      spdlog::info("alert resolved alert={} unit={}", n.alertname, unit);
  }
  if (!notifier_) {  // none configured (perhaps no longer, after a reload): no stale series
    stats_.notifications_total.clear();
    stats_.notification_queue.clear();
    return;
  }
  notifier_->notify(notes);
  double now = unix_seconds(snap.taken_at);
  notifier_->keep_alive([&] { return alerts_.firing(now); });
  stats_.notifications_total = notifier_->counts();
  stats_.notification_queue = notifier_->queue_lengths();
}

void Daemon::log_changes(const Snapshot& snap) {
  std::set<std::string> now;
  for (const auto& u : snap.units) now.insert(u.unit);
  if (first_scan_ || now.empty() != known_units_.empty()) {
    if (now.empty())
      spdlog::warn(
          "no units found patterns=\"{}\" cgroup_root={} cgroup_layout={}: serving node and "
          "agent metrics only",
          unit_globs(config_), scanner_options(cli_).cgroup_root.string(), snap.cgroup_layout);
    else
      spdlog::info("units found count={} cgroup_layout={}", now.size(), snap.cgroup_layout);
  }
  for (const auto& u : now)
    if (!known_units_.count(u)) spdlog::info("unit appeared unit={}", u);
  for (const auto& u : known_units_)
    if (!now.count(u)) spdlog::info("unit vanished unit={}", u);
  if (last_) {
    for (const auto& u : snap.units) {
      auto prev = std::find_if(last_->units.begin(), last_->units.end(),
                               [&](auto& x) { return x.unit == u.unit; });
      if (prev == last_->units.end()) continue;
      for (const auto& [cause, n] : u.restarts) {
        auto old = prev->restarts.count(cause) ? prev->restarts.at(cause) : 0;
        if (n <= old) continue;
        spdlog::info("restart observed unit={} cause={} total={}", u.unit, to_string(cause), n);
        history_append(history_event("restart", snap.taken_at, u.unit,
                                     {{"cause", to_string(cause)}, {"total", n}}));
      }
      if (u.oom_kills_total > prev->oom_kills_total) {
        spdlog::warn("oom kill unit={} total={}", u.unit, u.oom_kills_total);
        history_append(history_event("oom_kill", snap.taken_at, u.unit,
                                     {{"increase", u.oom_kills_total - prev->oom_kills_total},
                                      {"total", u.oom_kills_total}}));
      }
    }
  }
  known_units_ = std::move(now);
  first_scan_ = false;
}

void Daemon::scan_now() {
  auto snap = std::make_shared<Snapshot>();
  try {
    *snap = scanner_->scan(WallClock::now(), std::chrono::steady_clock::now());
    if (restarter_) restarter_->annotate(*snap);
    tracker_.apply(*snap);
    if (restarter_) {
      restarter_->act(*snap, tracker_);
      stats_.actions = restarter_->stats();
    }
    handle_alerts(*snap);
    ++stats_.scans_total;
    for (const auto& [source, n] : snap->errors) stats_.scan_errors_total[source] += n;
    scan_hist_.Observe(snap->scan_seconds);
    stats_.scan_duration = scan_hist_.Collect().histogram;
    log_changes(*snap);
    record_history(*snap);
    if (history_) stats_.history = history_->status();
    pub_.publish(render(snap, stats_, config_));
    last_ = snap;
  } catch (const std::exception& e) {
    // Never expected: count it, keep serving the previous rendering marked as failed (so
    // /healthz says why), and keep the loop and what is already recorded.
    ++stats_.scan_errors_total["scan"];
    spdlog::error("scan failed error=\"{}\"", e.what());
    if (auto prev = pub_.latest()) {
      auto p = std::make_shared<Published>(*prev);
      p->failure = e.what();
      pub_.publish(std::move(p));
    }
  }
  save_state();
}

void Daemon::schedule_scan() {
  auto now = std::chrono::steady_clock::now();
  next_ += config_.scan_interval;
  if (next_ < now) next_ = now + config_.scan_interval;  // fell behind: do not burst
  timer_.expires_at(next_);
  timer_.async_wait([this](const boost::system::error_code& ec) {
    if (ec) return;
    scan_now();
    schedule_scan();
  });
}

void Daemon::reload() {
  try {
    // Without a file the built-in config stays, but the cgroup layout is detected anew.
    Config fresh = cli_.config ? apply_flags(load_config_file(*cli_.config), cli_) : config_;
    if (fresh.listen != config_.listen)
      spdlog::warn("reload: listen changed from {} to {}; takes effect on restart", config_.listen,
                   fresh.listen);
    fresh.listen = config_.listen;
    if (fresh.state_dir != config_.state_dir)
      spdlog::warn("reload: state_dir changed from {} to {}; takes effect on restart",
                   config_.state_dir, fresh.state_dir);
    fresh.state_dir = config_.state_dir;
    bool history_changed = history_ && history_options(fresh) != history_->options();
    scanner_ = std::make_unique<Scanner>(scanner_options(cli_), fresh);
    tracker_.set_options(tracker_options(fresh));
    alerts_.set_settings(alert_settings(fresh, host_name()));
    if (restarter_) restarter_->set_config(fresh);
    config_ = std::move(fresh);
    start_notifier();
    if (history_changed) {
      history_.reset();  // syncs what is pending before the new one recovers the directory
      history_ = std::make_unique<HistoryWriter>(history_options(config_));
    }
    spdlog::info("config reloaded file={} groups={} cgroup_layout={}", config_.source,
                 config_.groups.size(), to_string(scanner_->hierarchies().layout));
    warn_if_no_groups(config_);
    scan_now();
    timer_.cancel();
    next_ = std::chrono::steady_clock::now();
    schedule_scan();
  } catch (const ConfigError& e) {
    spdlog::error("reload refused, keeping the previous config: {}", e.what());
  }
}

void Daemon::on_signal(int signo) {
  if (signo == SIGHUP) {
    reload();
    signals_.async_wait([this](const boost::system::error_code& ec, int s) {
      if (!ec) on_signal(s);
    });
    return;
  }
  stop_reason_ = signo == SIGTERM ? "SIGTERM" : "SIGINT";
  spdlog::info("stopping signal={}", stop_reason_);
  io_.stop();
}

int Daemon::run() {
  history_ = std::make_unique<HistoryWriter>(history_options(config_));
  restarter_ = std::make_unique<actions::Restarter>(
      io_, config_, [this](std::string line) { history_append(std::move(line)); });
  // The directory is fixed for the run (state_dir changes take effect on restart).
  HistoryHandler history_api_handler = [dir = history_->options().dir](const QueryParams& q) {
    try {
      auto req = parse_history_query(q, WallClock::now());
      return HttpReply{
          200, "application/json",
          history_api(dir, req).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace)};
    } catch (const HistoryQueryError& e) {
      return HttpReply{400, "text/plain; charset=utf-8", std::string(e.what()) + "\n"};
    }
  };
  std::unique_ptr<HttpServer> http;
  try {
    http = std::make_unique<HttpServer>(config_.listen, pub_, std::move(history_api_handler));
  } catch (const HttpError& e) {
    spdlog::error("{}", e.what());
    return 1;
  }
  spdlog::info(
      "started version={} listen={} config=\"{}\" cgroup_layout={} scan_interval={} state_dir={}",
      MOBASHER_VERSION, config_.listen, config_.source, to_string(scanner_->hierarchies().layout),
      format_duration(config_.scan_interval), config_.state_dir);
  warn_if_no_groups(config_);
  load_state();
  history_append(history_event(
      "agent_start", WallClock::now(), "",
      {{"version", MOBASHER_VERSION}, {"pid", ::getpid()}, {"config", config_.source}}));
  start_notifier();
  signals_.async_wait([this](const boost::system::error_code& ec, int s) {
    if (!ec) on_signal(s);
  });
  scan_now();
  next_ = std::chrono::steady_clock::now();
  schedule_scan();
  io_.run();
  save_state();
  restarter_.reset();  // an action in flight is left to systemd; a hand-over is finished on start
  history_append(history_event("agent_stop", WallClock::now(), "", {{"reason", stop_reason_}}));
  history_.reset();  // syncs the records still pending
  notifier_.reset();
  http.reset();
  spdlog::info("stopped");
  return 0;
}

}  // namespace mobasher
