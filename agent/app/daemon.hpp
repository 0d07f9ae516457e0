// The daemon: one Boost.Asio io_context owns the loop. A steady timer scans every scan_interval,
// the tracker adds history, the result is rendered once and published with one atomic swap for
// the HTTP threads. SIGHUP reloads the config (a bad one is refused), SIGTERM/SIGINT stop.
#pragma once

#include <prometheus/histogram.h>
#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <memory>
#include <set>
#include <string>

#include "agent/actions/restarter.hpp"
#include "agent/app/cli.hpp"
#include "agent/config/config.hpp"
#include "agent/state/alerts.hpp"
#include "agent/state/unit_tracker.hpp"
#include "collectors/scanner.hpp"
#include "exporters/alerting/notifier.hpp"
#include "exporters/history/history_writer.hpp"
#include "exporters/http/http_server.hpp"
#include "exporters/http/metrics.hpp"

namespace mobasher {

// Config as the flags amend it (--listen, --state-dir, --dry-run win over the file).
Config apply_flags(Config c, const CliOptions& cli);
ScannerOptions scanner_options(const CliOptions& cli);
TrackerOptions tracker_options(const Config& c);
HistoryOptions history_options(const Config& c);  // dir: STATE_DIR/history
std::string host_name();                          // gethostname(), "localhost" if it fails

prometheus::Histogram::BucketBoundaries scan_duration_buckets();

// Renders everything a request can ask for from one snapshot.
std::shared_ptr<Published> render(SnapshotPtr snap, const AgentStats& stats, const Config& cfg);

class Daemon {
 public:
  Daemon(CliOptions cli, Config config);
  int run();  // returns the exit code

 private:
  void schedule_scan();
  void scan_now();
  void on_signal(int signo);
  void reload();
  void load_state();
  void save_state();
  void log_changes(const Snapshot& snap);
  void handle_alerts(Snapshot& snap);
  void start_notifier();
  void seed_from_history();
  void record_history(const Snapshot& snap);
  void history_append(std::string line) {
    if (history_) history_->append(std::move(line));
  }
  template <typename State>
  void load_json_state(State& state, const char* file);
  template <typename State>
  void save_json_state(State& state, const char* file, std::string& last_error);

  CliOptions cli_;
  Config config_;
  boost::asio::io_context io_;
  boost::asio::steady_timer timer_;
  boost::asio::signal_set signals_;
  std::unique_ptr<Scanner> scanner_;
  UnitTracker tracker_;
  AlertEvaluator alerts_;
  std::unique_ptr<Notifier> notifier_;
  std::unique_ptr<HistoryWriter> history_;
  std::unique_ptr<actions::Restarter> restarter_;
  WallTime next_history_sample_{};
  Publication pub_;
  AgentStats stats_;
  prometheus::Histogram scan_hist_;
  SnapshotPtr last_;
  std::set<std::string> known_units_;
  bool first_scan_ = true;
  std::string last_state_error_, last_alert_state_error_, last_action_state_error_;
  std::string stop_reason_ = "stopped";
  std::chrono::steady_clock::time_point next_;
};

}  // namespace mobasher
