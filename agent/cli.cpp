#include "agent/cli.hpp"

#include <set>

namespace mobasher {

std::string usage_text() {
  return R"(usage: mobasher-agent [COMMAND] [FLAGS]

Keeps archiver@*/recorder@* units and their ffmpeg children observable: memory per unit and
per process, cgroup usage and limits, OOM kills and restarts, served to Prometheus; alerts
(MobasherUnitMemoryHigh at the group's warn, 1.5 GiB for archivers, and seven more) sent to the
config's alerts.webhooks through an on-disk outbox (docs/alerts.md).

Commands:
  run                 the daemon (default): scan every scan_interval, serve HTTP
  once                scan once and print the Prometheus exposition
  status              table of units from the running agent (GET /api/v1/status)
  status --local      the same table from a scan of this host, without the agent
  check-config FILE   validate a config file; exit 0 if good, 2 with the culprit if not
  version             print the version

Flags:
  --config FILE       JSON config (// comments allowed); default: the built-in Mobasher plan
  --listen HOST:PORT  HTTP address (default 0.0.0.0:9842; `status` asks 127.0.0.1 there)
  --proc-root DIR     where /proc is (default /proc)
  --cgroup-root DIR   where the cgroup hierarchies are (default /sys/fs/cgroup)
  --state-dir DIR     counters, alert state, webhook outbox (default /var/lib/mobasher-agent)
  --log-level LEVEL   trace, debug, info, warn or error (default info)
  --dry-run           accepted now; with unit restarts (a later release) they are only logged
  --local             with `status`: scan here instead of asking the running agent
  -h, --help          this text

HTTP: GET /metrics, /healthz, /api/v1/status, /
Signals: SIGHUP reloads the config (a bad one is refused, the old one kept); SIGTERM stops.
Exit codes: 0 ok, 1 runtime failure, 2 usage or config error.
)";
}

CliOptions parse_cli(const std::vector<std::string>& args) {
  static const std::set<std::string> kCommands = {"run", "once", "status", "check-config",
                                                  "version"};
  CliOptions o;
  bool have_command = false;
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
    if (a == "-h" || a == "--help")
      o.help = true;
    else if (a == "--config")
      o.config = take();
    else if (a == "--listen")
      o.listen = take();
    else if (a == "--proc-root")
      o.proc_root = take();
    else if (a == "--cgroup-root")
      o.cgroup_root = take();
    else if (a == "--state-dir")
      o.state_dir = take();
    else if (a == "--log-level") {
      o.log_level = take();
      static const std::set<std::string> kLevels = {"trace", "debug", "info", "warn", "error"};
      if (!kLevels.count(o.log_level))
        throw CliError("--log-level: \"" + o.log_level +
                       "\" is not one of trace, debug, info, warn, error");
    } else if (a == "--dry-run")
      no_value(), o.dry_run = true;
    else if (a == "--local")
      no_value(), o.local = true;
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
  if (o.command == "check-config" && o.check_file.empty()) {
    if (!o.config) throw CliError("check-config needs a FILE (or --config FILE)");
    o.check_file = *o.config;
  }
  if (o.local && o.command != "status") throw CliError("--local only goes with status");
  return o;
}

}  // namespace mobasher
