// Delivers notifications to the configured receivers: each is written to the receiver's outbox
// first, then POSTed one at a time, in order, with exponential back-off on failure. Everything
// runs on the agent's io_context and never blocks it.
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "agent/config/config.hpp"
#include "agent/state/alerts.hpp"
#include "exporters/alerting/alert_payload.hpp"
#include "exporters/alerting/outbox.hpp"
#include "exporters/alerting/webhook_client.hpp"

namespace mobasher {

// By receiver, then by result: sent, failed, rejected, dropped, corrupt.
using NotificationCounts = std::map<std::string, std::map<std::string, uint64_t>>;
inline constexpr const char* kNotificationResults[] = {"sent", "failed", "rejected", "dropped",
                                                       "corrupt"};

class Notifier {
 public:
  // Loads every receiver's outbox and starts delivering what an earlier run left at once.
  // counts: carried over from the notifier this one replaces (a reload).
  Notifier(boost::asio::io_context& io, const AlertsConfig& cfg,
           const std::filesystem::path& state_dir, PayloadContext context,
           NotificationCounts counts = {}, std::function<double()> clock = {});
  ~Notifier();
  Notifier(const Notifier&) = delete;
  Notifier& operator=(const Notifier&) = delete;

  // Queues each notification for every receiver.
  void notify(const std::vector<Notification>& ns);
  // Alertmanager's API forgets an alert not sent again before its endsAt: re-send the firing
  // ones every kAlertmanagerResendSeconds to alertmanager-api receivers.
  // firing() is called only when a keep-alive is due.
  void keep_alive(const std::function<std::vector<Notification>()>& firing);

  const NotificationCounts& counts() const { return counts_; }
  std::map<std::string, size_t> queue_lengths() const;

 private:
  struct Receiver;
  void push(Receiver& r, const Notification& n);
  void kick(Receiver& r);
  void on_result(Receiver& r, uint64_t seq, const HttpResult& res);

  boost::asio::io_context& io_;
  Duration max_backoff_;
  PayloadContext context_;
  NotificationCounts counts_;
  std::function<double()> clock_;
  std::vector<std::unique_ptr<Receiver>> receivers_;
};

// Where a receiver's outbox lives: its name with anything but [A-Za-z0-9._-] made '_'.
std::filesystem::path outbox_dir(const std::filesystem::path& state_dir, const std::string& name);

}  // namespace mobasher
