#include "agent/config/config.hpp"

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "agent/base/url.hpp"
#include "agent/config/config_keys.hpp"
#include "default_config.hpp"  // generated from deploy/config.json

namespace mobasher {

const char* const kDefaultConfigText = kEmbeddedDefaultConfig;

namespace {

using namespace config_keys;
using namespace std::chrono_literals;

// ---- checks of one value ----------------------------------------------------------------------

std::string not_empty(const std::string& s) {
  return s.empty() ? "must not be empty" : "";
}

std::string host_port(const std::string& s) {
  auto colon = s.rfind(':');
  if (colon == std::string::npos || colon + 1 == s.size() ||
      s.find_first_not_of("0123456789", colon + 1) != std::string::npos)
    return "\"" + s + "\" is not HOST:PORT (e.g. \"0.0.0.0:9842\")";
  return "";
}

std::string unit_glob(const std::string& s) {
  return s.empty() || s.find('/') != std::string::npos ? "\"" + s + "\" is not a unit name glob"
                                                       : "";
}

std::string positive(const uint64_t& bytes) {
  return bytes == 0 ? "must be more than 0" : "";
}

std::string at_least_4k(const uint64_t& bytes) {
  return bytes < 4096 ? "must be at least 4K" : "";
}

std::string of_node_total(const Size& s) {
  return s.percent && *s.percent > 100 ? "more than 100% of the node's total" : "";
}

std::string of_node_memtotal(const Size& s) {
  return s.percent && *s.percent > 100 ? "more than 100% of the node's MemTotal" : "";
}

std::string bus_address(const std::string& s) {
  return s != "system" && s.find(':') == std::string::npos
             ? "\"" + s +
                   "\" is neither \"system\" nor a D-Bus address like "
                   "\"unix:path=/run/dbus/system_bus_socket\""
             : "";
}

std::string absolute_path(const std::string& s) {
  return !s.empty() && s.front() != '/' ? "\"" + s + "\" is not an absolute path" : "";
}

std::string http_url(const std::string& s) {
  std::string error;
  if (parse_url(s, error)) return "";
  return error.find(s) == std::string::npos ? "\"" + s + "\": " + error : error;
}

// A file the agent must be able to read (token, CA): checked now, so the error names the key.
std::string readable_file(const std::string& file) {
  std::error_code ec;
  if (std::filesystem::is_directory(file, ec)) return "\"" + file + "\" is a directory";
  std::ifstream in(file);
  if (!in) return "\"" + file + "\": cannot read: " + std::strerror(errno);
  return "";
}

std::string group_twice(const std::string& name) {
  return "group \"" + name + "\" is defined twice";
}

std::string receiver_twice(const std::string& name) {
  return "receiver \"" + name + "\" is defined twice (give each webhook its own \"name\")";
}

// ---- keys that are objects of their own kind --------------------------------------------------

// alerts.webhooks[].headers: an object of header names and string values.
Key<WebhookConfig> headers_key() {
  return custom<WebhookConfig>(
      "headers",
      [](const ConfigReader& r, const json& h, const std::string& path, WebhookConfig& w) {
        if (!h.is_object())
          r.fail(path,
                 "must be an object of header names and values, not " + ConfigReader::describe(h));
        for (auto& [name, value] : h.items()) {
          std::string at = path + "." + name;
          if (name.empty() || name.find_first_of(" :\r\n\t") != std::string::npos)
            r.fail(at, "\"" + name + "\" is not an HTTP header name");
          std::string val = r.string(value, at);
          if (val.find_first_of("\r\n") != std::string::npos)
            r.fail(at, "header values must not contain line breaks");
          w.headers.emplace_back(name, val);
        }
      },
      [](const WebhookConfig& w) {
        json h = json::object();
        for (const auto& [name, value] : w.headers) h[name] = value;
        return h;
      });
}

// ---- the tables: every key once, in the order they are read ----------------------------------

const KeyTable<RestartPolicy>& restart_keys() {
  using R = RestartPolicy;
  static const KeyTable<R> t = {
      {
          share("on_memory", &R::on_memory),
          duration("for", &R::for_duration, 0ms),
          duration("max_age", &R::max_age, 10s),
          duration("predict", &R::predict, 1s),
          duration("predict_window", &R::predict_window, 1s),
      },
      nullptr,
  };
  return t;
}

// groups[].match: processes by comm and/or cmdline.
void check_match(const ConfigReader& r, const json&, const std::string& path, ProcessMatch& m) {
  if (!m.comm && !m.cmdline) r.fail(path, "needs \"comm\" or \"cmdline\"");
}

const KeyTable<ProcessMatch>& match_keys() {
  using M = ProcessMatch;
  static const KeyTable<M> t = {
      {
          regex("comm", &M::comm_pattern, &M::comm),
          regex("cmdline", &M::cmdline_pattern, &M::cmdline),
      },
      check_match,
  };
  return t;
}

void check_group(const ConfigReader& r, const json& v, const std::string& path, GroupConfig& g) {
  if (g.units.empty() == !g.match)
    r.fail(path,
           "needs exactly one of \"units\" (a unit glob like \"archiver@*.service\") or "
           "\"match\" (processes by comm/cmdline)");
  uint64_t warn = g.warn.resolve(g.memory_limit), critical = g.critical.resolve(g.memory_limit);
  if (warn <= critical) return;
  if (v.contains("warn"))
    r.fail(path + ".warn", "warn (" + format_bytes(warn) + ") is above " +
                               r.other(v, "critical", format_bytes(critical), "the default"));
  r.fail(path + ".critical", "critical (" + format_bytes(critical) + ") is below " +
                                 r.other(v, "warn", format_bytes(warn), "the default"));
}

const KeyTable<GroupConfig>& group_keys() {
  using G = GroupConfig;
  static const KeyTable<G> t = {
      {
          text("name", &G::name, not_empty, true),
          text("units", &G::units, unit_glob),
          optional_object("match", &G::match, match_keys),
          bytes("memory_limit", &G::memory_limit, positive, true),
          share("warn", &G::warn),
          share("critical", &G::critical),
          object("restart", &G::restart, restart_keys),
      },
      check_group,
  };
  return t;
}

// The receiver's name defaults to HOST:PORT of its url.
void name_webhook(const ConfigReader&, const json&, const std::string&, WebhookConfig& w) {
  if (!w.name.empty()) return;
  std::string error;
  auto url = parse_url(w.url, error);  // valid: the url key checked it
  w.name = (url->host.find(':') != std::string::npos ? "[" + url->host + "]" : url->host) + ":" +
           url->port;
}

const KeyTable<WebhookConfig>& webhook_keys() {
  using W = WebhookConfig;
  static const KeyTable<W> t = {
      {
          text("url", &W::url, http_url, true),
          text("name", &W::name, not_empty),
          choice("format", &W::format),
          duration("timeout", &W::timeout, 10ms),
          headers_key(),
          text("bearer_token_file", &W::bearer_token_file, readable_file),
          text("ca_file", &W::ca_file, readable_file),
          flag("insecure_skip_verify", &W::insecure_skip_verify),
      },
      name_webhook,
  };
  return t;
}

const KeyTable<AlertsConfig>& alerts_keys() {
  using A = AlertsConfig;
  static const KeyTable<A> t{
      {
          duration("for", &A::for_duration, 0ms),
          duration("repeat_interval", &A::repeat_interval, 1min),
          flag("resolve", &A::resolve),
          duration("max_backoff", &A::max_backoff, 1s),
          text("instance", &A::instance),
          share("node_memory_available_min", &A::node_memory_available_min, of_node_total),
          share("node_swap_used_max", &A::node_swap_used_max, of_node_total),
          count("outbox_max", &A::outbox_max, 1, 1'000'000),
          list("webhooks", &A::webhooks, webhook_keys, receiver_twice),
      },
      nullptr,
  };
  return t;
}

const KeyTable<ActionsConfig>& handover_keys() {
  using A = ActionsConfig;
  static const KeyTable<A> t = {
      {
          choice("strategy", &A::handover),
          duration("overlap", &A::overlap, 0ms),
          duration("start_timeout", &A::start_timeout, 1s),
          text("output", &A::output, absolute_path),
      },
      nullptr,
  };
  return t;
}

void check_retry_backoff(const ConfigReader& r, const json& v, const std::string& path,
                         ActionsConfig& a) {
  if (a.max_retry_backoff >= a.retry_backoff) return;
  std::string first = format_duration(a.retry_backoff), max = format_duration(a.max_retry_backoff);
  if (v.contains("max_retry_backoff"))
    r.fail(path + ".max_retry_backoff",
           max + " is shorter than " + r.other(v, "retry_backoff", first));
  r.fail(path + ".retry_backoff",
         first + " is longer than " + r.other(v, "max_retry_backoff", max));
}

const KeyTable<ActionsConfig>& actions_keys() {
  using A = ActionsConfig;
  static const KeyTable<A> t{
      {
          flag("enabled", &A::enabled),
          flag("dry_run", &A::dry_run),
          text("bus", &A::bus, bus_address),
          duration("min_gap", &A::min_gap, 0ms),
          duration("cooldown", &A::cooldown, 0ms),
          duration("emergency_gap", &A::emergency_gap, 0ms),
          share("node_memory_floor", &A::node_memory_floor, of_node_memtotal),
          duration("node_memory_for", &A::node_memory_for, 0ms),
          duration("job_timeout", &A::job_timeout, 1s),
          duration("retry_backoff", &A::retry_backoff, 1s),
          duration("max_retry_backoff", &A::max_retry_backoff, 1s),
          count("max_per_unit_per_hour", &A::max_per_unit_per_hour, 0, 60),
          count("max_per_hour", &A::max_per_hour, 0, 1000),
          count("max_concurrent", &A::max_concurrent, 1, 64),
          object("handover", handover_keys),
      },
      check_retry_backoff,
  };
  return t;
}

void check_history_sizes(const ConfigReader& r, const json& v, const std::string& path,
                         HistoryConfig& h) {
  if (h.max_total_size >= 2 * h.max_file_size) return;
  r.fail(path + (v.contains("max_total_size") ? ".max_total_size" : ".max_file_size"),
         r.other(v, "max_total_size", format_bytes(h.max_total_size)) + " must be at least twice " +
             r.other(v, "max_file_size", format_bytes(h.max_file_size)) +
             ": the current file and one rotated file must fit");
}

const KeyTable<HistoryConfig>& history_keys() {
  using H = HistoryConfig;
  static const KeyTable<H> t = {
      {
          duration("interval", &H::interval, 1s),
          bytes("max_file_size", &H::max_file_size, at_least_4k),
          count("max_files", &H::max_files, 1, 10'000),
          duration("max_age", &H::max_age, 1min),
          bytes("max_total_size", &H::max_total_size),
      },
      check_history_sizes,
  };
  return t;
}

const KeyTable<Config>& top_level_keys() {
  using C = Config;
  static const KeyTable<C> t = {
      {
          text("listen", &C::listen, host_port),
          duration("scan_interval", &C::scan_interval, 10ms),
          duration("discovery_interval", &C::discovery_interval, 10ms),
          text("state_dir", &C::state_dir),
          choice("measure", &C::measure),
          flag("pss", &C::pss),
          list("groups", &C::groups, group_keys, group_twice),
          object("alerts", &C::alerts, alerts_keys),
          object("actions", &C::actions, actions_keys),
          object("history", &C::history, history_keys),
      },
      nullptr,
  };
  return t;
}

// `base` is the built-in config, or the struct defaults when the built-in text itself is read.
Config parse_onto(Config base, std::string_view text, const std::string& source_name) {
  LocatedJson doc;
  try {
    doc = parse_json_with_lines(text);
  } catch (const JsonSyntaxError& e) {
    throw ConfigError("config error: " + source_name + ":" + std::to_string(e.line) +
                      ": not valid JSON: " + e.message);
  }
  Config c = std::move(base);
  c.source = source_name;
  read_object(ConfigReader(doc, source_name), doc.value, "", top_level_keys(), c);
  return c;
}

}  // namespace

Config default_config() {
  static const Config built_in = parse_onto(Config{}, kDefaultConfigText, "built-in default");
  return built_in;
}

Config parse_config(std::string_view text, const std::string& source_name) {
  return parse_onto(default_config(), text, source_name);
}

Config load_config_file(const std::string& path) {
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec))
    throw ConfigError("config error: " + path + ": cannot read: is a directory, not a file");
  std::ifstream in(path, std::ios::binary);
  if (!in) throw ConfigError("config error: " + path + ": cannot read: " + std::strerror(errno));
  std::ostringstream buf;
  buf << in.rdbuf();
  if (in.bad())
    throw ConfigError("config error: " + path + ": cannot read: " + std::strerror(errno));
  return parse_config(buf.str(), path);
}

std::vector<std::string> config_key_paths() {
  std::vector<std::string> out;
  paths_of(top_level_keys(), "", out);
  return out;
}

nlohmann::json config_values(const Config& c) {
  return values_of(top_level_keys(), c);
}

}  // namespace mobasher
