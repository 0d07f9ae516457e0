// A notification as the bytes a receiver takes: Alertmanager's POST /api/v2/alerts array,
// Alertmanager's webhook v4 body (so Slack/Teams bridges work unchanged), or the agent's JSON.
#pragma once

#include <string>

#include "agent/config/config.hpp"
#include "agent/state/alerts.hpp"

namespace mobasher {

struct PayloadContext {
  std::string receiver;       // the receiver's name
  std::string generator_url;  // e.g. http://host-a:9842/
  std::string version;        // the agent's
  double now = 0;             // unix seconds: when the body is made (just before sending)
};

// An alertmanager-api firing alert ends this long after it was sent unless sent again: the
// agent re-sends firing alerts every minute, as Prometheus does (4 × its resend delay).
inline constexpr double kAlertmanagerEndsAfterSeconds = 240;
inline constexpr double kAlertmanagerResendSeconds = 60;

std::string alert_payload(WebhookFormat format, const Notification& n, const PayloadContext& ctx);

}  // namespace mobasher
