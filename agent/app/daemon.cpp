#include "agent/app/daemon.hpp"

#include <unistd.h>

#include <spdlog/spdlog.h>

#include <boost/asio/post.hpp>
#include <csignal>

#include "exporters/history/history_record.hpp"
#include "exporters/http/publish.hpp"

namespace mobasher {
namespace {

// The built-in plan has groups, so none can only be a file's "groups": [].
void warn_if_no_groups(const Config& c) {
  if (c.groups.empty())
    spdlog::warn("config: no groups: watching no units (groups is [] in {})", c.source);
}

}  // namespace

Daemon::Daemon(CliOptions cli, Config config, WebConfig web)
    : cli_(std::move(cli)),
      config_(std::move(config)),
      web_(std::move(web)),
      timer_(io_),
      signals_(io_, SIGTERM, SIGINT, SIGHUP),
      pipeline_(scanner_options(cli_), config_, host_name()),
      delivery_(io_, host_name()),
      scan_hist_(scan_duration_buckets()) {
  stats_.version = MOBASHER_VERSION;
  for (const char* source : {"cgroup", "proc", "node", "state", "duplicate_unit"})
    stats_.scan_errors_total[source] = 0;
}

// units.json first, then what the history adds (HistoryRecorder::seed).
void Daemon::load_state() {
  const std::filesystem::path dir = config_.state_dir;
  int unreadable = !units_file_.load(pipeline_.tracker(), dir);
  unreadable += !alerts_file_.load(pipeline_.alerts(), dir);
  if (restarter_) unreadable += !actions_file_.load(restarter_->policy(), dir);
  stats_.scan_errors_total["state"] += unreadable;
  if (history_) history_->seed(pipeline_.tracker(), tracker_options(config_));
}

void Daemon::save_state() {
  const std::filesystem::path dir = config_.state_dir;
  int failed = !units_file_.save(pipeline_.tracker(), dir);
  failed += !alerts_file_.save(pipeline_.alerts(), dir);
  if (restarter_) failed += !actions_file_.save(restarter_->policy(), dir);
  stats_.scan_errors_total["state"] += failed;
}

// A scan's outputs. The outbox is written before alerts.json (save_state): a crash between the
// two repeats a notification, it never loses one.
void Daemon::output(const ScanStep& step) {
  const Snapshot& snap = *step.snapshot;
  delivery_.deliver(step.notes, pipeline_.alerts(), unix_seconds(snap.taken_at));
  stats_.notifications_total = delivery_.counts();
  stats_.notification_queue = delivery_.queue_lengths();
  if (restarter_) stats_.actions = restarter_->stats();
  ++stats_.scans_total;
  for (const auto& [source, n] : snap.errors) stats_.scan_errors_total[source] += n;
  scan_hist_.Observe(snap.scan_seconds);
  stats_.scan_duration = scan_hist_.Collect().histogram;
  log_.log(snap, step.notes, config_, pipeline_.scanner_options().cgroup_root.string());
  if (history_) {
    history_->record(snap, step.notes);
    stats_.history = history_->status();
  }
  stats_.self = self_.read();
  // Bodies are made on this loop, never on an HTTP worker (lazy_text.hpp says why).
  pub_.publish(
      render(step.snapshot, stats_, config_, exposition_,
             [this](std::function<void()> job) { boost::asio::post(io_, std::move(job)); }));
}

void Daemon::scan_now() {
  try {
    output(pipeline_.step(restarter_.get()));
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
    pipeline_.reconfigure(fresh);
    if (restarter_) restarter_->set_config(fresh);
    config_ = std::move(fresh);
    delivery_.configure(config_);
    if (history_) history_->reconfigure(config_);
    spdlog::info("config reloaded file={} groups={} cgroup_layout={}", config_.source,
                 config_.groups.size(), to_string(pipeline_.scanner().hierarchies().layout));
    warn_if_no_groups(config_);
    scan_now();
    timer_.cancel();
    next_ = std::chrono::steady_clock::now();
    schedule_scan();
  } catch (const ConfigError& e) {
    spdlog::error("reload refused, keeping the previous config: {}", e.what());
  }
}

std::unique_ptr<HttpServer> Daemon::make_http(const WebConfig& web) {
  // The directory is fixed for the run (state_dir changes take effect on restart).
  return std::make_unique<HttpServer>(config_.listen, pub_, history_handler(history_->dir()), web);
}

// A renewed certificate or a changed password takes effect on SIGHUP: the server is started
// again with the file as it is now (a few ms without a listener). A file that does not load is
// refused and the server keeps the previous one.
void Daemon::reload_web() {
  if (!cli_.web_config_file) return;
  WebConfig fresh;
  try {
    fresh = load_web_config(*cli_.web_config_file);
  } catch (const WebConfigError& e) {
    spdlog::error("reload refused, keeping the previous web config: {}", e.what());
    return;
  }
  http_.reset();
  try {
    http_ = make_http(fresh);
    web_ = std::move(fresh);
    spdlog::info("web config reloaded file={} serving=\"{}\"", web_.source, describe(web_));
  } catch (const std::exception& e) {  // HttpError, WebConfigError (the TLS files)
    spdlog::error("reload refused, keeping the previous web config: {}", e.what());
    try {
      http_ = make_http(web_);
    } catch (const std::exception& again) {
      spdlog::error("HTTP server down until the next reload: {}", again.what());
    }
  }
}

void Daemon::on_signal(int signo) {
  if (signo == SIGHUP) {
    reload();
    reload_web();
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
  history_ = std::make_unique<HistoryRecorder>(config_);
  restarter_ = std::make_unique<actions::Restarter>(
      io_, config_, [this](std::string line) { history_append(std::move(line)); });
  try {
    http_ = make_http(web_);
  } catch (const HttpError& e) {
    spdlog::error("{}", e.what());
    return 1;
  } catch (const WebConfigError& e) {
    spdlog::error("{}", e.what());
    return 2;
  }
  spdlog::info(
      "started version={} listen={} serving=\"{}\" config=\"{}\" cgroup_layout={} "
      "scan_interval={} state_dir={}",
      MOBASHER_VERSION, config_.listen, describe(web_), config_.source,
      to_string(pipeline_.scanner().hierarchies().layout), format_duration(config_.scan_interval),
      config_.state_dir);
  warn_if_no_groups(config_);
  load_state();
  history_append(history_event(
      "agent_start", WallClock::now(), "",
      {{"version", MOBASHER_VERSION}, {"pid", ::getpid()}, {"config", config_.source}}));
  delivery_.configure(config_);
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
  delivery_.stop();
  http_.reset();
  spdlog::info("stopped");
  return 0;
}

}  // namespace mobasher
