// The agent's configuration: the model, the built-in default (the Mobasher plan) and the loader
// that turns JSON-with-comments into it or into an error naming file, line and key path.
#pragma once

#include <array>
#include <chrono>
#include <nlohmann/json_fwd.hpp>
#include <optional>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "agent/base/enum_names.hpp"
#include "agent/base/measure.hpp"
#include "agent/base/quantities.hpp"
#include "agent/base/regex.hpp"

namespace mobasher {

using Duration = std::chrono::milliseconds;
inline double seconds(Duration d) {
  return std::chrono::duration<double>(d).count();
}

struct RestartPolicy {
  std::optional<Size> on_memory;
  Duration for_duration{30'000};
  std::optional<Duration> max_age;
  std::optional<Duration> predict;
  // No prediction before the growth was watched this long (a start-up ramp is not a leak).
  Duration predict_window{300'000};
};

// Fallback for archivers started without systemd: match processes in /proc.
struct ProcessMatch {
  std::string comm_pattern, cmdline_pattern;  // as written, for messages
  std::optional<Regex> comm, cmdline;         // either may be absent, not both
};

struct GroupConfig {
  std::string name;
  std::string units;  // glob on unit names, e.g. "archiver@*.service"; empty with `match`
  std::optional<ProcessMatch> match;
  uint64_t memory_limit = 0;
  Size warn{0, 75.0}, critical{0, 95.0};  // of the limit
  RestartPolicy restart;
};

// The body a receiver gets (exporters/alerting/alert_payload.hpp).
enum class WebhookFormat { alertmanager_api, alertmanager_webhook, json };
inline constexpr std::array<EnumName<WebhookFormat>, 3> kWebhookFormats = {
    {{WebhookFormat::alertmanager_api, "alertmanager-api"},
     {WebhookFormat::alertmanager_webhook, "alertmanager-webhook"},
     {WebhookFormat::json, "json"}}};
constexpr const auto& enum_table(WebhookFormat) {
  return kWebhookFormats;
}

struct WebhookConfig {
  std::string name;  // unique; default HOST:PORT of the url. Names the outbox directory too.
  std::string url;
  WebhookFormat format = WebhookFormat::alertmanager_api;
  Duration timeout{10'000};
  std::vector<std::pair<std::string, std::string>> headers;
  std::string bearer_token_file, ca_file;
  bool insecure_skip_verify = false;
};

struct AlertsConfig {
  Duration for_duration{30'000}, repeat_interval{4 * 3600'000}, max_backoff{300'000};
  bool resolve = true;
  std::string instance;                     // the instance label; empty: the host name
  Size node_memory_available_min{0, 10.0};  // of MemTotal
  Size node_swap_used_max{0, 80.0};         // of SwapTotal
  size_t outbox_max = 1000;                 // per receiver
  std::vector<WebhookConfig> webhooks;
};

// How a unit is replaced: RestartUnit, or the overlapping hand-over between two slots.
enum class HandoverStrategy { restart, overlap };
inline constexpr std::array<EnumName<HandoverStrategy>, 2> kHandoverStrategies = {
    {{HandoverStrategy::restart, "restart"}, {HandoverStrategy::overlap, "overlap"}}};
constexpr const auto& enum_table(HandoverStrategy) {
  return kHandoverStrategies;
}

struct ActionsConfig {
  bool enabled = true, dry_run = false;
  std::string bus = "system";  // or an sd-bus address: "unix:path=/run/dbus/system_bus_socket"
  Duration min_gap{600'000}, cooldown{120'000};
  // After a memory emergency's restart, the unit must be active again and this long more before
  // the group's next emergency restart (docs/actions.md: six archivers crossing 90 % together).
  Duration emergency_gap{5'000};
  // MemAvailable below this (of MemTotal) for node_memory_for: the biggest watched unit is
  // restarted (cause node_memory). 0 disables it.
  Size node_memory_floor{0, 5.0};
  Duration node_memory_for{30'000};
  int max_per_unit_per_hour = 3;
  int max_per_hour = 12;   // every unit on this host together
  int max_concurrent = 1;  // actions in flight on this host
  // A systemd job must end within this; unset: the unit's own TimeoutStopUSec + TimeoutStartUSec
  // (a restart is a stop and a start), read over D-Bus.
  std::optional<Duration> job_timeout;
  Duration retry_backoff{300'000}, max_retry_backoff{3600'000};  // after a failed action, doubling
  HandoverStrategy handover = HandoverStrategy::restart;
  Duration overlap{30'000};        // both slots running before the old one is stopped
  Duration start_timeout{60'000};  // the new slot must be active within this
  std::string output;  // optional path; "{unit}", "{instance}": the new slot's file must grow
};

struct HistoryConfig {
  Duration interval{15'000}, max_age{30LL * 86400'000};
  uint64_t max_file_size = 32ull << 20;  // a day of 12 units (19 MB) fits: rotation stays daily
  int max_files = 30;
  uint64_t max_total_size = 512ull << 20;  // every history file together
};

struct Config {
  std::string source = "built-in default";
  std::string listen = "0.0.0.0:9842";
  Duration scan_interval{5'000}, discovery_interval{30'000};
  std::string state_dir = "/var/lib/mobasher-agent";
  Measure measure = Measure::rss;
  bool pss = false;
  std::vector<GroupConfig> groups;
  AlertsConfig alerts;
  ActionsConfig actions;
  HistoryConfig history;
};

// Message is complete: "config error: FILE:LINE: key.path: what is wrong".
class ConfigError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

extern const char* const kDefaultConfigText;

// The built-in plan: kDefaultConfigText (deploy/config.json) over the struct defaults above.
Config default_config();
// A file names only what it changes: its keys over default_config(). Objects merge key by key;
// arrays (`groups`, `alerts.webhooks`) replace, so `"groups": []` means no groups.
Config parse_config(std::string_view text, const std::string& source_name);
Config load_config_file(const std::string& path);  // ConfigError also for unreadable files

// Every key the loader knows, by path: "scan_interval", "actions.handover.strategy",
// "groups[].restart.for", "alerts.webhooks[].url".
std::vector<std::string> config_key_paths();
// c key by key, in the file's shape: durations in ms, sizes in bytes or {"percent": P}, enums by
// name, unset optional keys null. Two configs with equal values give equal trees.
nlohmann::json config_values(const Config& c);

}  // namespace mobasher
