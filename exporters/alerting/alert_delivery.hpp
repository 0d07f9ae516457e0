// Alert delivery for the daemon: the notifier for the configured webhooks (none without any),
// made anew on a reload with its counters carried over, fed every scan's notifications and the
// keep-alives Alertmanager's API needs.
#pragma once

#include <boost/asio/io_context.hpp>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "agent/config/config.hpp"
#include "agent/state/alerts.hpp"
#include "exporters/alerting/notifier.hpp"

namespace mobasher {

class AlertDelivery {
 public:
  AlertDelivery(boost::asio::io_context& io, std::string host) : io_(io), host_(std::move(host)) {}
  // At start and on a reload: a notifier for c's webhooks, or none.
  void configure(const Config& c);
  // One scan's notifications, then the keep-alives that are due (firing alerts at `now`).
  void deliver(const std::vector<Notification>& notes, const AlertEvaluator& alerts, double now);
  void stop() { notifier_.reset(); }

  // Empty without receivers (no stale series after a reload removed them).
  NotificationCounts counts() const {
    return notifier_ ? notifier_->counts() : NotificationCounts{};
  }
  std::map<std::string, size_t> queue_lengths() const {
    return notifier_ ? notifier_->queue_lengths() : std::map<std::string, size_t>{};
  }

 private:
  boost::asio::io_context& io_;
  std::string host_;
  std::unique_ptr<Notifier> notifier_;
};

}  // namespace mobasher
