// The daemon: the loop and the reload. One Boost.Asio io_context owns the loop: a steady timer
// runs one Pipeline step every scan_interval and hands its result to the outputs (alert
// delivery, history, log, state files, the rendering the HTTP threads read with one atomic
// swap). SIGHUP reloads the config and the web config (a bad one is refused), SIGTERM/SIGINT
// stop.
#pragma once

#include <prometheus/histogram.h>
#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <memory>
#include <string>

#include "agent/actions/restarter.hpp"
#include "agent/app/cli.hpp"
#include "agent/app/event_log.hpp"
#include "agent/app/pipeline.hpp"
#include "agent/app/state_files.hpp"
#include "agent/config/config.hpp"
#include "collectors/self_metrics.hpp"
#include "exporters/alerting/alert_delivery.hpp"
#include "exporters/history/history_recorder.hpp"
#include "exporters/http/http_server.hpp"
#include "exporters/http/metrics.hpp"

namespace mobasher {

class Daemon {
 public:
  // web: --web.config.file as read at start (read again on SIGHUP).
  Daemon(CliOptions cli, Config config, WebConfig web = {});
  int run();  // returns the exit code

 private:
  void schedule_scan();
  void scan_now();
  void output(const ScanStep& step);
  void on_signal(int signo);
  void reload();
  void reload_web();
  std::unique_ptr<HttpServer> make_http(const WebConfig& web);
  void load_state();
  void save_state();
  void history_append(std::string line) {
    if (history_) history_->append(std::move(line));
  }

  CliOptions cli_;
  Config config_;
  WebConfig web_;
  boost::asio::io_context io_;
  boost::asio::steady_timer timer_;
  boost::asio::signal_set signals_;
  Pipeline pipeline_;
  AlertDelivery delivery_;
  EventLog log_;
  std::unique_ptr<HistoryRecorder> history_;
  std::unique_ptr<actions::Restarter> restarter_;
  StateFile units_file_{"units.json"}, alerts_file_{"alerts.json"}, actions_file_{"actions.json"};
  Publication pub_;
  std::unique_ptr<HttpServer> http_;  // after pub_, which it reads
  std::shared_ptr<ExpositionCache> exposition_ = std::make_shared<ExpositionCache>();
  AgentStats stats_;
  SelfReader self_;  // the agent's own process_* metrics
  prometheus::Histogram scan_hist_;
  std::string stop_reason_ = "stopped";
  std::chrono::steady_clock::time_point next_;
};

}  // namespace mobasher
