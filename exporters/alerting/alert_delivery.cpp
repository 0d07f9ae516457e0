#include "exporters/alerting/alert_delivery.hpp"

namespace mobasher {

void AlertDelivery::configure(const Config& c) {
  NotificationCounts carried = counts();
  notifier_.reset();  // before the new one opens the same outboxes
  if (c.alerts.webhooks.empty()) return;
  auto port = c.listen.substr(c.listen.rfind(':') + 1);
  PayloadContext ctx{"", "http://" + host_ + ":" + port + "/", MOBASHER_VERSION, 0};
  notifier_ = std::make_unique<Notifier>(io_, c.alerts, c.state_dir, ctx, std::move(carried));
}

void AlertDelivery::deliver(const std::vector<Notification>& notes, const AlertEvaluator& alerts,
                            double now) {
  if (!notifier_) return;
  notifier_->notify(notes);
  notifier_->keep_alive([&] { return alerts.firing(now); });
}

}  // namespace mobasher
