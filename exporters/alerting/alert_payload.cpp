#include "exporters/alerting/alert_payload.hpp"

#include <chrono>
#include <cstdio>

#include "agent/base/quantities.hpp"

namespace mobasher {
namespace {

using nlohmann::json;

std::string rfc3339(double unix_seconds) {
  // Rounded: 1800000000.25 s is 1800000000249999872 ns in a double; truncated it would be .249.
  return format_rfc3339(std::chrono::system_clock::time_point(
      std::chrono::round<std::chrono::milliseconds>(std::chrono::duration<double>(unix_seconds))));
}

// Go's %q (strconv.Quote), which Alertmanager's LabelSet.String() uses for label values.
std::string go_quote(std::string_view v) {
  std::string out = "\"";
  for (unsigned char c : v) {
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        if (c < 0x20 || c == 0x7f) {
          char hex[8];
          std::snprintf(hex, sizeof hex, "\\x%02x", c);
          out += hex;
        } else {
          out += static_cast<char>(c);
        }
    }
  }
  return out + "\"";
}

// Alertmanager writes the zero time for "not ended" in webhook bodies.
constexpr const char* kZeroTime = "0001-01-01T00:00:00Z";

std::string dump(const json& j) {
  return j.dump(-1, ' ', false, json::error_handler_t::replace);
}

// Alertmanager's POST /api/v2/alerts: an array of one alert.
std::string alertmanager_api(const Notification& n, const PayloadContext& ctx) {
  double ends = n.ends_at ? *n.ends_at : ctx.now + kAlertmanagerEndsAfterSeconds;
  return dump(json::array({{{"labels", n.labels},
                            {"annotations", n.annotations},
                            {"startsAt", rfc3339(n.starts_at)},
                            {"endsAt", rfc3339(ends)},
                            {"generatorURL", ctx.generator_url}}}));
}

// Alertmanager's webhook v4 body, one alert per body: every firing and resolved notification
// arrives on its own.
std::string alertmanager_webhook(const Notification& n, const PayloadContext& ctx) {
  const char* status = to_string(n.status());
  std::map<std::string, std::string> group = {{"alertname", n.alertname}};
  if (n.labels.count("unit")) group["unit"] = n.labels.at("unit");
  // As Alertmanager prints it: the root route's key, ':', the group's model.LabelSet.String().
  std::string key = "{}:{";
  for (const auto& [k, v] : group) key += (key.size() > 4 ? ", " : "") + k + "=" + go_quote(v);
  key += "}";
  return dump({{"version", "4"},
               {"groupKey", key},
               {"truncatedAlerts", 0},
               {"status", status},
               {"receiver", ctx.receiver},
               {"groupLabels", group},
               {"commonLabels", n.labels},
               {"commonAnnotations", n.annotations},
               {"externalURL", ctx.generator_url},
               {"alerts", json::array({{{"status", status},
                                        {"labels", n.labels},
                                        {"annotations", n.annotations},
                                        {"startsAt", rfc3339(n.starts_at)},
                                        {"endsAt", n.ends_at ? rfc3339(*n.ends_at) : kZeroTime},
                                        {"generatorURL", ctx.generator_url},
                                        {"fingerprint", n.fingerprint}}})}});
}

// The agent's own JSON: the notification with its numbers.
std::string agent_json(const Notification& n, const PayloadContext& ctx) {
  json j = {{"receiver", ctx.receiver},
            {"status", to_string(n.status())},
            {"kind", to_string(n.kind)},
            {"alertname", n.alertname},
            {"labels", n.labels},
            {"annotations", n.annotations},
            {"startsAt", rfc3339(n.starts_at)},
            {"endsAt", n.ends_at ? json(rfc3339(*n.ends_at)) : json(nullptr)},
            {"notifiedAt", rfc3339(n.at)},
            {"fingerprint", n.fingerprint},
            {"value", n.value},
            {"threshold", n.threshold},
            {"limit", n.limit ? json(*n.limit) : json(nullptr)},
            {"generatorURL", ctx.generator_url},
            {"agent", {{"version", ctx.version}}}};
  return dump(j);
}

}  // namespace

std::string alert_payload(WebhookFormat format, const Notification& n, const PayloadContext& ctx) {
  switch (format) {
    case WebhookFormat::alertmanager_api:
      return alertmanager_api(n, ctx);
    case WebhookFormat::alertmanager_webhook:
      return alertmanager_webhook(n, ctx);
    case WebhookFormat::json:
      break;
  }
  return agent_json(n, ctx);
}

}  // namespace mobasher
