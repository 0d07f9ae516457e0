#include "agent/config/config.hpp"

#include <fnmatch.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

#include "agent/base/json_locations.hpp"
#include "agent/base/url.hpp"
#include "default_config.hpp"  // generated from deploy/config.json

namespace mobasher {

const char* const kDefaultConfigText = kEmbeddedDefaultConfig;

namespace {

using nlohmann::json;

// Reads one document; every accessor knows the key path, so every error can name it.
class Reader {
 public:
  Reader(const LocatedJson& doc, std::string source) : doc_(doc), source_(std::move(source)) {}

  [[noreturn]] void fail(const std::string& path, const std::string& what) const {
    std::ostringstream msg;
    msg << "config error: " << source_ << ":" << doc_.line_of(path) << ": "
        << (path.empty() ? "(top level)" : path) << ": " << what;
    throw ConfigError(msg.str());
  }

  // For a cross-key message: what the other side is and where it came from.
  static std::string other(const json& obj, const std::string& key, const std::string& value,
                           const std::string& unset = "the built-in value") {
    return key + " (" + value + (obj.contains(key) ? ")" : ", " + unset + ")");
  }

  static std::string join(const std::string& parent, const std::string& key) {
    return parent.empty() ? key : parent + "." + key;
  }

  void only_keys(const json& obj, const std::string& path, std::set<std::string> allowed) const {
    if (!obj.is_object()) fail(path, "must be an object, not " + describe(obj));
    for (auto& [k, v] : obj.items()) {
      if (!allowed.count(k)) {
        std::string list;
        for (auto& a : allowed) list += (list.empty() ? "" : ", ") + a;
        fail(join(path, k), "unknown key (known here: " + list + ")");
      }
    }
  }

  static std::string describe(const json& v) {
    std::string dumped = v.dump();
    if (dumped.size() > 40) dumped = dumped.substr(0, 37) + "...";
    return std::string(v.type_name()) + " " + dumped;
  }

  std::string string(const json& v, const std::string& path) const {
    if (!v.is_string()) fail(path, "must be a string, not " + describe(v));
    return v.get<std::string>();
  }
  bool boolean(const json& v, const std::string& path) const {
    if (!v.is_boolean()) fail(path, "must be true or false, not " + describe(v));
    return v.get<bool>();
  }
  int64_t integer(const json& v, const std::string& path, int64_t lo, int64_t hi) const {
    if (!v.is_number_integer()) fail(path, "must be a whole number, not " + describe(v));
    int64_t n = v.get<int64_t>();
    if (n < lo || n > hi)
      fail(path, std::to_string(n) + " is out of range " + std::to_string(lo) + ".." +
                     std::to_string(hi));
    return n;
  }
  Size size(const json& v, const std::string& path, bool allow_percent) const {
    if (v.is_number_unsigned() || (v.is_number_integer() && v.get<int64_t>() >= 0))
      return Size{v.get<uint64_t>(), std::nullopt};
    const char* hint =
        allow_percent ? "(use bytes, 1.5G, 512M or 80%)" : "(use bytes, 1.5G or 512M)";
    if (!v.is_string()) fail(path, "must be a size " + std::string(hint) + ", not " + describe(v));
    auto s = parse_size(v.get<std::string>(), allow_percent);
    if (!s) fail(path, v.dump() + " is not a size " + hint);
    return *s;
  }
  Duration duration(const json& v, const std::string& path, Duration min) const {
    if (!v.is_string())
      fail(path, "must be a duration like \"5s\", \"10m\" or \"4h\", not " + describe(v));
    auto d = parse_duration(v.get<std::string>());
    if (!d) fail(path, v.dump() + " is not a duration (use ms, s, m, h or d: \"5s\", \"4h\")");
    if (*d < min) fail(path, v.dump() + " is too short (at least " + format_duration(min) + ")");
    return *d;
  }
  Regex regex(const json& v, const std::string& path) const {
    std::string pattern = string(v, path), error;
    auto re = Regex::compile(pattern, error);
    if (!re)
      fail(path, "\"" + pattern + "\" is not a valid POSIX extended regular expression: " + error);
    return *re;
  }

 private:
  const LocatedJson& doc_;
  std::string source_;
};

RestartPolicy parse_restart(const Reader& r, const json& v, const std::string& path) {
  r.only_keys(v, path, {"on_memory", "for", "max_age", "predict", "predict_window"});
  RestartPolicy p;
  if (v.contains("on_memory")) p.on_memory = r.size(v["on_memory"], path + ".on_memory", true);
  if (v.contains("for")) p.for_duration = r.duration(v["for"], path + ".for", Duration(0));
  if (v.contains("max_age"))
    p.max_age = r.duration(v["max_age"], path + ".max_age", Duration(10'000));
  if (v.contains("predict"))
    p.predict = r.duration(v["predict"], path + ".predict", Duration(1'000));
  if (v.contains("predict_window"))
    p.predict_window = r.duration(v["predict_window"], path + ".predict_window", Duration(1'000));
  return p;
}

GroupConfig parse_group(const Reader& r, const json& v, const std::string& path) {
  r.only_keys(v, path, {"name", "units", "match", "memory_limit", "warn", "critical", "restart"});
  GroupConfig g;
  if (!v.contains("name")) r.fail(path, "missing \"name\"");
  g.name = r.string(v["name"], path + ".name");
  if (g.name.empty()) r.fail(path + ".name", "must not be empty");
  if (v.contains("units") == v.contains("match"))
    r.fail(path,
           "needs exactly one of \"units\" (a unit glob like \"archiver@*.service\") or "
           "\"match\" (processes by comm/cmdline)");
  if (v.contains("units")) {
    g.units = r.string(v["units"], path + ".units");
    if (g.units.empty() || g.units.find('/') != std::string::npos)
      r.fail(path + ".units", "\"" + g.units + "\" is not a unit name glob");
  } else {
    const json& m = v["match"];
    std::string mp = path + ".match";
    r.only_keys(m, mp, {"comm", "cmdline"});
    ProcessMatch pm;
    if (m.contains("comm")) {
      pm.comm_pattern = r.string(m["comm"], mp + ".comm");
      pm.comm = r.regex(m["comm"], mp + ".comm");
    }
    if (m.contains("cmdline")) {
      pm.cmdline_pattern = r.string(m["cmdline"], mp + ".cmdline");
      pm.cmdline = r.regex(m["cmdline"], mp + ".cmdline");
    }
    if (!pm.comm && !pm.cmdline) r.fail(mp, "needs \"comm\" or \"cmdline\"");
    g.match = std::move(pm);
  }
  if (!v.contains("memory_limit")) r.fail(path, "missing \"memory_limit\"");
  g.memory_limit = r.size(v["memory_limit"], path + ".memory_limit", false).bytes;
  if (g.memory_limit == 0) r.fail(path + ".memory_limit", "must be more than 0");
  g.warn = v.contains("warn") ? r.size(v["warn"], path + ".warn", true) : Size{0, 75.0};
  g.critical =
      v.contains("critical") ? r.size(v["critical"], path + ".critical", true) : Size{0, 95.0};
  std::string warn = format_bytes(g.warn.resolve(g.memory_limit)),
              critical = format_bytes(g.critical.resolve(g.memory_limit));
  if (g.warn.resolve(g.memory_limit) > g.critical.resolve(g.memory_limit)) {
    if (v.contains("warn"))
      r.fail(path + ".warn",
             "warn (" + warn + ") is above " + r.other(v, "critical", critical, "the default"));
    r.fail(path + ".critical",
           "critical (" + critical + ") is below " + r.other(v, "warn", warn, "the default"));
  }
  if (v.contains("restart")) g.restart = parse_restart(r, v["restart"], path + ".restart");
  return g;
}

// A file the agent must be able to read (token, CA): checked now, so the error names the key.
void readable_file(const Reader& r, const std::string& file, const std::string& path) {
  std::error_code ec;
  if (std::filesystem::is_directory(file, ec)) r.fail(path, "\"" + file + "\" is a directory");
  std::ifstream in(file);
  if (!in) r.fail(path, "\"" + file + "\": cannot read: " + std::strerror(errno));
}

WebhookConfig parse_webhook(const Reader& r, const json& v, const std::string& path) {
  r.only_keys(v, path,
              {"name", "url", "format", "timeout", "headers", "bearer_token_file", "ca_file",
               "insecure_skip_verify"});
  WebhookConfig w;
  if (!v.contains("url")) r.fail(path, "missing \"url\"");
  w.url = r.string(v["url"], path + ".url");
  std::string error;
  auto url = parse_url(w.url, error);
  if (!url)
    r.fail(path + ".url",
           error.find(w.url) == std::string::npos ? "\"" + w.url + "\": " + error : error);
  w.name = (url->host.find(':') != std::string::npos ? "[" + url->host + "]" : url->host) + ":" +
           url->port;
  if (v.contains("name")) {
    w.name = r.string(v["name"], path + ".name");
    if (w.name.empty()) r.fail(path + ".name", "must not be empty");
  }
  if (v.contains("format")) w.format = r.string(v["format"], path + ".format");
  if (w.format != "alertmanager-api" && w.format != "alertmanager-webhook" && w.format != "json")
    r.fail(path + ".format",
           "\"" + w.format + "\" is not one of alertmanager-api, alertmanager-webhook, json");
  if (v.contains("timeout")) w.timeout = r.duration(v["timeout"], path + ".timeout", Duration(10));
  if (v.contains("headers")) {
    const json& h = v["headers"];
    std::string hp = path + ".headers";
    if (!h.is_object())
      r.fail(hp, "must be an object of header names and values, not " + Reader::describe(h));
    for (auto& [name, value] : h.items()) {
      std::string kp = hp + "." + name;
      if (name.empty() || name.find_first_of(" :\r\n\t") != std::string::npos)
        r.fail(kp, "\"" + name + "\" is not an HTTP header name");
      std::string val = r.string(value, kp);
      if (val.find_first_of("\r\n") != std::string::npos)
        r.fail(kp, "header values must not contain line breaks");
      w.headers.emplace_back(name, val);
    }
  }
  if (v.contains("bearer_token_file")) {
    w.bearer_token_file = r.string(v["bearer_token_file"], path + ".bearer_token_file");
    readable_file(r, w.bearer_token_file, path + ".bearer_token_file");
  }
  if (v.contains("ca_file")) {
    w.ca_file = r.string(v["ca_file"], path + ".ca_file");
    readable_file(r, w.ca_file, path + ".ca_file");
  }
  if (v.contains("insecure_skip_verify"))
    w.insecure_skip_verify = r.boolean(v["insecure_skip_verify"], path + ".insecure_skip_verify");
  return w;
}

// Each parse_* below starts from `a`, the built-in section, and sets only the keys `v` names.
AlertsConfig parse_alerts(const Reader& r, const json& v, const std::string& path, AlertsConfig a) {
  r.only_keys(v, path,
              {"for", "repeat_interval", "resolve", "max_backoff", "instance",
               "node_memory_available_min", "node_swap_used_max", "outbox_max", "webhooks"});
  if (v.contains("for")) a.for_duration = r.duration(v["for"], path + ".for", Duration(0));
  if (v.contains("repeat_interval"))
    a.repeat_interval =
        r.duration(v["repeat_interval"], path + ".repeat_interval", Duration(60'000));
  if (v.contains("resolve")) a.resolve = r.boolean(v["resolve"], path + ".resolve");
  if (v.contains("max_backoff"))
    a.max_backoff = r.duration(v["max_backoff"], path + ".max_backoff", Duration(1'000));
  if (v.contains("instance")) a.instance = r.string(v["instance"], path + ".instance");
  for (auto [key, field] : {std::pair{"node_memory_available_min", &a.node_memory_available_min},
                            std::pair{"node_swap_used_max", &a.node_swap_used_max}}) {
    if (!v.contains(key)) continue;
    *field = r.size(v[key], path + "." + key, true);
    if (field->percent && *field->percent > 100)
      r.fail(path + "." + key, "more than 100% of the node's total");
  }
  if (v.contains("outbox_max"))
    a.outbox_max =
        static_cast<size_t>(r.integer(v["outbox_max"], path + ".outbox_max", 1, 1'000'000));
  if (v.contains("webhooks")) {
    const json& hooks = v["webhooks"];
    if (!hooks.is_array())
      r.fail(path + ".webhooks", "must be an array, not " + Reader::describe(hooks));
    a.webhooks.clear();  // an array replaces the built-in one
    std::set<std::string> names;
    for (size_t i = 0; i < hooks.size(); ++i) {
      std::string hp = path + ".webhooks[" + std::to_string(i) + "]";
      a.webhooks.push_back(parse_webhook(r, hooks[i], hp));
      if (!names.insert(a.webhooks.back().name).second)
        r.fail(hp + ".name", "receiver \"" + a.webhooks.back().name +
                                 "\" is defined twice (give each webhook its own \"name\")");
    }
  }
  return a;
}

ActionsConfig parse_actions(const Reader& r, const json& v, const std::string& path,
                            ActionsConfig a) {
  r.only_keys(v, path,
              {"enabled", "dry_run", "bus", "min_gap", "max_per_unit_per_hour", "max_per_hour",
               "max_concurrent", "cooldown", "emergency_gap", "node_memory_floor",
               "node_memory_for", "job_timeout", "retry_backoff", "max_retry_backoff", "handover"});
  if (v.contains("enabled")) a.enabled = r.boolean(v["enabled"], path + ".enabled");
  if (v.contains("dry_run")) a.dry_run = r.boolean(v["dry_run"], path + ".dry_run");
  if (v.contains("bus")) {
    a.bus = r.string(v["bus"], path + ".bus");
    if (a.bus != "system" && a.bus.find(':') == std::string::npos)
      r.fail(path + ".bus", "\"" + a.bus +
                                "\" is neither \"system\" nor a D-Bus address like "
                                "\"unix:path=/run/dbus/system_bus_socket\"");
  }
  if (v.contains("min_gap")) a.min_gap = r.duration(v["min_gap"], path + ".min_gap", Duration(0));
  if (v.contains("cooldown"))
    a.cooldown = r.duration(v["cooldown"], path + ".cooldown", Duration(0));
  if (v.contains("emergency_gap"))
    a.emergency_gap = r.duration(v["emergency_gap"], path + ".emergency_gap", Duration(0));
  if (v.contains("node_memory_floor")) {
    a.node_memory_floor = r.size(v["node_memory_floor"], path + ".node_memory_floor", true);
    if (a.node_memory_floor.percent && *a.node_memory_floor.percent > 100)
      r.fail(path + ".node_memory_floor", "more than 100% of the node's MemTotal");
  }
  if (v.contains("node_memory_for"))
    a.node_memory_for = r.duration(v["node_memory_for"], path + ".node_memory_for", Duration(0));
  if (v.contains("job_timeout"))
    a.job_timeout = r.duration(v["job_timeout"], path + ".job_timeout", Duration(1'000));
  if (v.contains("retry_backoff"))
    a.retry_backoff = r.duration(v["retry_backoff"], path + ".retry_backoff", Duration(1'000));
  if (v.contains("max_retry_backoff"))
    a.max_retry_backoff =
        r.duration(v["max_retry_backoff"], path + ".max_retry_backoff", Duration(1'000));
  if (a.max_retry_backoff < a.retry_backoff) {
    std::string first = format_duration(a.retry_backoff),
                max = format_duration(a.max_retry_backoff);
    if (v.contains("max_retry_backoff"))
      r.fail(path + ".max_retry_backoff",
             max + " is shorter than " + r.other(v, "retry_backoff", first));
    r.fail(path + ".retry_backoff",
           first + " is longer than " + r.other(v, "max_retry_backoff", max));
  }
  if (v.contains("max_per_unit_per_hour"))
    a.max_per_unit_per_hour = static_cast<int>(
        r.integer(v["max_per_unit_per_hour"], path + ".max_per_unit_per_hour", 0, 60));
  if (v.contains("max_per_hour"))
    a.max_per_hour =
        static_cast<int>(r.integer(v["max_per_hour"], path + ".max_per_hour", 0, 1000));
  if (v.contains("max_concurrent"))
    a.max_concurrent =
        static_cast<int>(r.integer(v["max_concurrent"], path + ".max_concurrent", 1, 64));
  if (v.contains("handover")) {
    std::string hp = path + ".handover";
    const json& h = v["handover"];
    r.only_keys(h, hp, {"strategy", "overlap", "start_timeout", "output"});
    if (h.contains("strategy")) a.handover = r.string(h["strategy"], hp + ".strategy");
    if (a.handover != "restart" && a.handover != "overlap")
      r.fail(hp + ".strategy", "\"" + a.handover + "\" is not one of restart, overlap");
    if (h.contains("overlap")) a.overlap = r.duration(h["overlap"], hp + ".overlap", Duration(0));
    if (h.contains("start_timeout"))
      a.start_timeout = r.duration(h["start_timeout"], hp + ".start_timeout", Duration(1'000));
    if (h.contains("output")) {
      a.output = r.string(h["output"], hp + ".output");
      if (!a.output.empty() && a.output.front() != '/')
        r.fail(hp + ".output", "\"" + a.output + "\" is not an absolute path");
    }
  }
  return a;
}

HistoryConfig parse_history(const Reader& r, const json& v, const std::string& path,
                            HistoryConfig h) {
  r.only_keys(v, path, {"interval", "max_file_size", "max_files", "max_age", "max_total_size"});
  if (v.contains("interval"))
    h.interval = r.duration(v["interval"], path + ".interval", Duration(1'000));
  if (v.contains("max_file_size")) {
    h.max_file_size = r.size(v["max_file_size"], path + ".max_file_size", false).bytes;
    if (h.max_file_size < 4096) r.fail(path + ".max_file_size", "must be at least 4K");
  }
  if (v.contains("max_files"))
    h.max_files = static_cast<int>(r.integer(v["max_files"], path + ".max_files", 1, 10'000));
  if (v.contains("max_age"))
    h.max_age = r.duration(v["max_age"], path + ".max_age", Duration(60'000));
  if (v.contains("max_total_size"))
    h.max_total_size = r.size(v["max_total_size"], path + ".max_total_size", false).bytes;
  if (h.max_total_size < 2 * h.max_file_size)
    r.fail(path + (v.contains("max_total_size") ? ".max_total_size" : ".max_file_size"),
           r.other(v, "max_total_size", format_bytes(h.max_total_size)) +
               " must be at least twice " +
               r.other(v, "max_file_size", format_bytes(h.max_file_size)) +
               ": the current file and one rotated file must fit");
  return h;
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
  Reader r(doc, source_name);
  const json& v = doc.value;
  r.only_keys(v, "",
              {"listen", "scan_interval", "discovery_interval", "state_dir", "measure", "pss",
               "groups", "alerts", "actions", "history"});
  Config c = std::move(base);
  c.source = source_name;
  if (v.contains("listen")) {
    c.listen = r.string(v["listen"], "listen");
    auto colon = c.listen.rfind(':');
    if (colon == std::string::npos || colon + 1 == c.listen.size() ||
        c.listen.find_first_not_of("0123456789", colon + 1) != std::string::npos)
      r.fail("listen", "\"" + c.listen + "\" is not HOST:PORT (e.g. \"0.0.0.0:9842\")");
  }
  if (v.contains("scan_interval"))
    c.scan_interval = r.duration(v["scan_interval"], "scan_interval", Duration(10));
  if (v.contains("discovery_interval"))
    c.discovery_interval = r.duration(v["discovery_interval"], "discovery_interval", Duration(10));
  if (v.contains("state_dir")) c.state_dir = r.string(v["state_dir"], "state_dir");
  if (v.contains("measure")) {
    c.measure = r.string(v["measure"], "measure");
    if (c.measure != "rss" && c.measure != "working_set")
      r.fail("measure", "\"" + c.measure + "\" is not one of rss, working_set");
  }
  if (v.contains("pss")) c.pss = r.boolean(v["pss"], "pss");
  if (v.contains("groups")) {
    const json& groups = v["groups"];
    if (!groups.is_array()) r.fail("groups", "must be an array, not " + Reader::describe(groups));
    c.groups.clear();  // groups replace the built-in ones as a whole; [] means none
    std::set<std::string> names;
    for (size_t i = 0; i < groups.size(); ++i) {
      std::string path = "groups[" + std::to_string(i) + "]";
      c.groups.push_back(parse_group(r, groups[i], path));
      if (!names.insert(c.groups.back().name).second)
        r.fail(path + ".name", "group \"" + c.groups.back().name + "\" is defined twice");
    }
  }
  if (v.contains("alerts")) c.alerts = parse_alerts(r, v["alerts"], "alerts", c.alerts);
  if (v.contains("actions")) c.actions = parse_actions(r, v["actions"], "actions", c.actions);
  if (v.contains("history")) c.history = parse_history(r, v["history"], "history", c.history);
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

}  // namespace mobasher
