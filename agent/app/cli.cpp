#include "agent/app/cli.hpp"

#include <chrono>
#include <set>

#include "agent/app/history_cli.hpp"

namespace mobasher {

std::string usage_text() {
  return R"(usage: mobasher-agent [COMMAND] [FLAGS]

Keeps archiver@*/recorder@* units and their ffmpeg children observable: memory per unit and
per process, cgroup usage and limits, OOM kills and restarts, served to Prometheus; alerts
(MobasherUnitMemoryHigh at the group's warn, 1.5 GiB for archivers, and seven more) sent to the
config's alerts.webhooks through an on-disk outbox (docs/alerts.md); keeps the history of every
unit's memory and every event in rotating files under STATE_DIR/history (docs/history.md).

Commands:
  run                 the daemon (default): scan every scan_interval, serve HTTP
  once                scan once and print the Prometheus exposition
  status              table of units from the running agent (GET /api/v1/status); on a
                      terminal, rows in red (critical alert), yellow (warning alert or RSS at
                      the warn threshold) or dim (unit down)
  status --local      the same table from a scan of this host, without the agent
  history             the recorded samples and events of STATE_DIR/history, oldest first,
                      e.g. `history --unit archiver@ch1 --since 6h --format csv`
  check-config FILE   validate a config file (the keys it names, over the built-in plan) and
                      print the effective groups; exit 0 if good, 2 with the culprit if not
  version             print the version

Flags:
  --config FILE       JSON config (// comments allowed); default: the built-in Mobasher plan
  --listen HOST:PORT  HTTP address (default 0.0.0.0:9842; `status` asks 127.0.0.1 there);
                      also --web.listen-address
  --web.config.file FILE
                      TLS and basic auth for every endpoint, in the Prometheus exporter-toolkit
                      format (tls_server_config, basic_auth_users with bcrypt hashes,
                      http_server_config.headers); default: plain HTTP, no authentication
  --proc-root DIR     where /proc is (default /proc)
  --cgroup-root DIR   where the cgroup hierarchies are (default /sys/fs/cgroup)
  --state-dir DIR     counters, alert state, webhook outbox, history (default
                      /var/lib/mobasher-agent; `history` reads DIR/history)
  --log-level LEVEL   trace, debug, info, warn or error (default info); also --log.level
  --log.format FORMAT logfmt (default) or json: one JSON object per line
  --dry-run           decide and log restarts (history, metrics) but never call systemd
  --local             with `status`: scan here instead of asking the running agent
  --format FORMAT     status: table or json (the /api/v1/status JSON); history: table, json (one
                      array of the records as stored) or csv (default table)
  --color WHEN        status, history: auto (default: on a terminal, unless NO_COLOR is set or
                      TERM=dumb), always or never
  --unit UNIT         history: only this unit (archiver@ch1 or archiver@ch1.service); default
                      every record, the node's and the agent's too
  --since WHEN        history: from WHEN (default 1h): a duration ago (30m, 6h, 2d), an RFC 3339
                      time (2026-12-01T10:00:00Z, 2026-12-01T10:00:00.250Z) or now
  --until WHEN        history: up to WHEN (default now)
  --version           print the version (as the `version` command)
  -h, --help          this text

HTTP: GET /metrics, /healthz, /api/v1/status, /api/v1/history?unit=&since=&until=&step=,
      / (status page: memory bars and 24 h charts per unit)
Signals: SIGHUP reloads the config (a bad one is refused, the old one kept); SIGTERM stops.
Exit codes: 0 ok, 1 runtime failure, 2 usage or config error.
)";
}

namespace {

// One flag: false when `a` is not one of them. take() returns its value (the next argument or
// what follows '='), no_value() refuses a value. The command-specific flags go into `given`.
template <typename Take, typename NoValue>
bool apply_flag(CliOptions& o, const std::string& a, Take&& take, NoValue&& no_value,
                std::set<std::string>& given) {
  if (a == "-h" || a == "--help") {
    o.help = true;
  } else if (a == "--config") {
    o.config = take();
  } else if (a == "--listen" || a == "--web.listen-address") {
    o.listen = take();
  } else if (a == "--web.config.file") {
    o.web_config_file = take();
    if (o.web_config_file->empty()) throw CliError(a + " needs a FILE");
  } else if (a == "--log.format") {
    std::string format = take();
    auto parsed = parse_enum<LogFormat>(format);
    if (!parsed)
      throw CliError("--log.format: \"" + format + "\" is not one of " + enum_choices<LogFormat>());
    o.log_format = *parsed;
  } else if (a == "--version") {
    no_value(), o.version = true;
  } else if (a == "--proc-root") {
    o.proc_root = take();
  } else if (a == "--cgroup-root") {
    o.cgroup_root = take();
  } else if (a == "--state-dir") {
    o.state_dir = take();
  } else if (a == "--log-level" || a == "--log.level") {
    o.log_level = take();
    static const std::set<std::string> kLevels = {"trace", "debug", "info", "warn", "error"};
    if (!kLevels.count(o.log_level))
      throw CliError(a + ": \"" + o.log_level + "\" is not one of trace, debug, info, warn, error");
  } else if (a == "--format") {
    std::string format = take();
    auto parsed = parse_enum<OutputFormat>(format);
    if (!parsed)
      throw CliError("--format: \"" + format + "\" is not one of " + enum_choices<OutputFormat>());
    o.format = *parsed;
    given.insert(a);
  } else if (a == "--color") {
    o.color = take();
    if (o.color != "auto" && o.color != "always" && o.color != "never")
      throw CliError("--color: \"" + o.color + "\" is not one of auto, always, never");
    given.insert(a);
  } else if (a == "--unit") {
    o.unit = take();
    if (o.unit->empty()) throw CliError("--unit needs a unit name (archiver@ch1)");
    given.insert(a);
  } else if (a == "--since") {
    o.since = take(), given.insert(a);
  } else if (a == "--until") {
    o.until = take(), given.insert(a);
  } else if (a == "--dry-run") {
    no_value(), o.dry_run = true;
  } else if (a == "--local") {
    no_value(), o.local = true;
  } else {
    return false;
  }
  return true;
}

// Flags that only go with some commands, and what a command needs.
void check_combinations(CliOptions& o, const std::set<std::string>& given) {
  if (o.command == "check-config" && o.check_file.empty()) {
    if (o.config)
      o.check_file = *o.config;
    else if (!o.web_config_file)  // the web config alone is checked over the built-in plan
      throw CliError("check-config needs a FILE (or --config FILE, or --web.config.file FILE)");
  }
  if (o.local && o.command != "status") throw CliError("--local only goes with status");
  bool shows = o.command == "status" || o.command == "history";
  for (const char* f : {"--unit", "--since", "--until"})
    if (given.count(f) && o.command != "history")
      throw CliError(std::string(f) + " only goes with history");
  for (const char* f : {"--format", "--color"})
    if (given.count(f) && !shows)
      throw CliError(std::string(f) + " only goes with status and history");
  if (o.command == "status" && o.format == OutputFormat::csv)
    throw CliError("--format: status prints table or json, not csv");
  if (o.command == "history") history_filter(o, std::chrono::system_clock::now());  // checks WHEN
}

}  // namespace

CliOptions parse_cli(const std::vector<std::string>& args) {
  static const std::set<std::string> kCommands = {"run",     "once",         "status",
                                                  "history", "check-config", "version"};
  CliOptions o;
  bool have_command = false;
  std::set<std::string> given;  // the command-specific flags seen
  for (size_t i = 0; i < args.size(); ++i) {
    std::string a = args[i], value;
    bool inline_value = false;
    if (a.rfind("--", 0) == 0) {
      if (auto eq = a.find('='); eq != std::string::npos) {
        value = a.substr(eq + 1);
        a = a.substr(0, eq);
        inline_value = true;
      }
    }
    auto take = [&]() -> std::string {
      if (inline_value) return value;
      if (i + 1 >= args.size()) throw CliError(a + " needs a value");
      return args[++i];
    };
    auto no_value = [&]() {
      if (inline_value) throw CliError(a + " takes no value");
    };
    if (apply_flag(o, a, take, no_value, given))
      continue;
    else if (a.rfind("-", 0) == 0)
      throw CliError("unknown flag " + a);
    else if (!have_command && kCommands.count(a))
      o.command = a, have_command = true;
    else if (have_command && o.command == "check-config" && o.check_file.empty())
      o.check_file = a;
    else if (!have_command)
      throw CliError("unknown command \"" + a + "\"");
    else
      throw CliError("unexpected argument \"" + a + "\"");
  }
  if (o.version) {  // --version wins over any command, as exporters do
    o.command = "version";
    return o;
  }
  check_combinations(o, given);
  return o;
}

}  // namespace mobasher
