// mobasher-agent: command dispatch. Exit codes: 0 ok, 1 runtime failure, 2 usage/config error.
#include <prometheus/histogram.h>

#include <malloc.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <iostream>

#include "agent/app/agent_client.hpp"
#include "agent/app/cli.hpp"
#include "agent/app/daemon.hpp"
#include "agent/app/history_cli.hpp"
#include "agent/app/logging.hpp"
#include "agent/app/pipeline.hpp"
#include "agent/config/config.hpp"
#include "agent/config/config_summary.hpp"
#include "exporters/http/publish.hpp"
#include "exporters/http/status_json.hpp"
#include "exporters/http/status_table.hpp"
#include "exporters/http/web_config.hpp"

namespace {

using namespace mobasher;

// One pipeline step, as `once` and `status --local` need: derived fields and alert states
// (pending at most) exist, nothing is acted on.
SnapshotPtr scan_once(const CliOptions& cli, const Config& cfg) {
  return Pipeline(scanner_options(cli), cfg, host_name()).step().snapshot;
}

int run_command(const CliOptions& cli) {
  if (cli.command == "version") {
    std::printf("mobasher-agent %s\n", MOBASHER_VERSION);
    return 0;
  }
  if (cli.command == "check-config") {
    std::cout << config_summary(cli.check_file.empty() ? default_config()
                                                       : load_config_file(cli.check_file));
    if (cli.web_config_file) {
      WebConfig web = load_web_config(*cli.web_config_file);
      std::cout << "web config ok: " << web.source << ": " << describe(web) << "\n";
    }
    return 0;
  }
  bool color = color_enabled(cli.color, ::isatty(STDOUT_FILENO) == 1, std::getenv("NO_COLOR"),
                             std::getenv("TERM"));
  Config cfg = apply_flags(cli.config ? load_config_file(*cli.config) : default_config(), cli);
  if (cli.command == "once") {
    auto snap = scan_once(cli, cfg);
    AgentStats stats;
    stats.version = MOBASHER_VERSION;
    stats.scans_total = 1;
    stats.self = SelfReader().read();
    prometheus::Histogram hist(scan_duration_buckets());
    hist.Observe(snap->scan_seconds);
    stats.scan_duration = hist.Collect().histogram;
    std::cout << render(snap, stats, cfg)->metrics->get();
    return 0;
  }
  if (cli.command == "status") {
    nlohmann::json status;
    if (cli.local) {
      status = status_json(*scan_once(cli, cfg), MOBASHER_VERSION);
    } else {
      try {
        status = nlohmann::json::parse(http_get(cfg.listen, "/api/v1/status"));
      } catch (const ClientError& e) {
        std::fprintf(stderr,
                     "mobasher-agent: %s\n(is the agent running, on plain HTTP without basic auth? "
                     "`status --local` scans without it)\n",
                     e.what());
        return 1;
      }
    }
    if (cli.format == OutputFormat::json)
      std::cout << status.dump(2) << "\n";
    else
      std::cout << status_table(status, color);
    return 0;
  }
  if (cli.command == "history") {
    HistoryFilter filter = history_filter(cli, WallClock::now());
    return print_history(std::filesystem::path(cfg.state_dir) / "history", filter, cli.format,
                         std::cout, std::cerr, color && cli.format == OutputFormat::table);
  }
  WebConfig web = cli.web_config_file ? load_web_config(*cli.web_config_file) : WebConfig{};
  return Daemon(cli, cfg, std::move(web)).run();
}

// The default soft limit (1024) is low for a process that keeps two descriptors per watched
// process open; the hard limit is what the admin allows.
void raise_fd_limit() {
  rlimit rl{};
  if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
    rl.rlim_cur = std::min<rlim_t>(rl.rlim_max, 65536);
    setrlimit(RLIMIT_NOFILE, &rl);
  }
}

}  // namespace

int main(int argc, char** argv) {
  raise_fd_limit();
  // glibc gives each HTTP thread its own malloc arena; two are plenty for this load and keep the
  // agent's resident memory small and flat.
  mallopt(M_ARENA_MAX, 2);
  CliOptions cli;
  try {
    cli = parse_cli(std::vector<std::string>(argv + 1, argv + argc));
  } catch (const CliError& e) {
    std::fprintf(stderr, "mobasher-agent: %s\n\n%s", e.what(), usage_text().c_str());
    return 2;
  }
  if (cli.help) {
    std::cout << usage_text();
    return 0;
  }
  setup_logging(cli.log_level, cli.log_format);
  try {
    return run_command(cli);
  } catch (const CliError& e) {  // a WHEN that only now turns out wrong
    std::fprintf(stderr, "mobasher-agent: %s\n", e.what());
    return 2;
  } catch (const ConfigError& e) {
    std::fprintf(stderr, "%s\n", e.what());
    return 2;
  } catch (const WebConfigError& e) {
    std::fprintf(stderr, "mobasher-agent: %s\n", e.what());
    return 2;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "mobasher-agent: %s\n", e.what());
    return 1;
  }
}
