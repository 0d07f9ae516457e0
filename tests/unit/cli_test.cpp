#include "agent/app/cli.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <cstdio>
#include <nlohmann/json.hpp>

#include "fixtures/fixture_tree.hpp"

namespace mobasher {
namespace {

using namespace fixtures;
using ::testing::HasSubstr;

std::string cli_error(const std::vector<std::string>& args) {
  try {
    parse_cli(args);
  } catch (const CliError& e) {
    return e.what();
  }
  return "(no error)";
}

TEST(ParseCli, Defaults) {
  CliOptions o = parse_cli({});
  EXPECT_EQ(o.command, "run");
  EXPECT_FALSE(o.config.has_value());
  EXPECT_EQ(o.log_level, "info");
  EXPECT_FALSE(o.dry_run);
  EXPECT_FALSE(o.local);
  EXPECT_FALSE(o.help);
}

TEST(ParseCli, CommandsAndFlags) {
  CliOptions o = parse_cli({"status", "--local", "--config", "/etc/m.json", "--proc-root=/fx/proc",
                            "--cgroup-root", "/fx/cgroup", "--state-dir=/tmp/s",
                            "--listen=127.0.0.1:1", "--log-level", "debug"});
  EXPECT_EQ(o.command, "status");
  EXPECT_TRUE(o.local);
  EXPECT_EQ(o.config, "/etc/m.json");
  EXPECT_EQ(o.proc_root, "/fx/proc");
  EXPECT_EQ(o.cgroup_root, "/fx/cgroup");
  EXPECT_EQ(o.state_dir, "/tmp/s");
  EXPECT_EQ(o.listen, "127.0.0.1:1");
  EXPECT_EQ(o.log_level, "debug");
  EXPECT_TRUE(parse_cli({"--dry-run"}).dry_run);
  EXPECT_TRUE(parse_cli({"once", "-h"}).help);
  EXPECT_EQ(parse_cli({"version"}).command, "version");
}

TEST(ParseCli, CheckConfigTakesAFile) {
  EXPECT_EQ(parse_cli({"check-config", "/etc/a.json"}).check_file, "/etc/a.json");
  EXPECT_EQ(parse_cli({"check-config", "--config", "/etc/b.json"}).check_file, "/etc/b.json");
  EXPECT_THAT(cli_error({"check-config"}), HasSubstr("check-config needs a FILE"));
}

TEST(ParseCli, Errors) {
  EXPECT_THAT(cli_error({"--frobnicate"}), HasSubstr("unknown flag --frobnicate"));
  EXPECT_THAT(cli_error({"explode"}), HasSubstr("unknown command \"explode\""));
  EXPECT_THAT(cli_error({"once", "extra"}), HasSubstr("unexpected argument \"extra\""));
  EXPECT_THAT(cli_error({"--config"}), HasSubstr("--config needs a value"));
  EXPECT_THAT(cli_error({"--dry-run=yes"}), HasSubstr("--dry-run takes no value"));
  EXPECT_THAT(cli_error({"--log-level", "loud"}), HasSubstr("\"loud\" is not one of"));
  EXPECT_THAT(cli_error({"once", "--local"}), HasSubstr("--local only goes with status"));
}

TEST(ParseCli, HistoryFlags) {
  CliOptions o = parse_cli({"history", "--unit", "archiver@ch1", "--since=6h", "--until", "now",
                            "--format", "csv", "--state-dir", "/tmp/s", "--color=never"});
  EXPECT_EQ(o.command, "history");
  EXPECT_EQ(o.unit, "archiver@ch1");
  EXPECT_EQ(o.since, "6h");
  EXPECT_EQ(o.until, "now");
  EXPECT_EQ(o.format, OutputFormat::csv);
  EXPECT_EQ(o.color, "never");
  EXPECT_EQ(o.state_dir, "/tmp/s");

  CliOptions d = parse_cli({"history"});
  EXPECT_FALSE(d.unit.has_value());
  EXPECT_FALSE(d.since.has_value());
  EXPECT_FALSE(d.until.has_value());
  EXPECT_EQ(d.format, OutputFormat::table);
  EXPECT_EQ(d.color, "auto");
  EXPECT_EQ(parse_cli({"history", "--since", "2026-12-01T10:00:00Z", "--until",
                       "2026-12-01T11:00:00.500Z"})
                .until,
            "2026-12-01T11:00:00.500Z");
  EXPECT_EQ(parse_cli({"history", "--format=json"}).format, OutputFormat::json);
}

TEST(ParseCli, StatusFormatAndColor) {
  CliOptions o = parse_cli({"status", "--format", "json", "--color", "always"});
  EXPECT_EQ(o.format, OutputFormat::json);
  EXPECT_EQ(o.color, "always");
  EXPECT_EQ(parse_cli({"status"}).format, OutputFormat::table);
  EXPECT_EQ(parse_cli({"status"}).color, "auto");
  EXPECT_EQ(parse_cli({"status", "--local", "--format=table"}).format, OutputFormat::table);
}

TEST(ParseCli, HistoryAndFormatErrors) {
  EXPECT_EQ(cli_error({"status", "--format", "xml"}),
            "--format: \"xml\" is not one of table, json, csv");
  EXPECT_EQ(cli_error({"status", "--color", "sometimes"}),
            "--color: \"sometimes\" is not one of auto, always, never");
  EXPECT_EQ(cli_error({"status", "--format", "csv"}),
            "--format: status prints table or json, not csv");
  EXPECT_EQ(cli_error({"status", "--unit", "archiver@ch1"}), "--unit only goes with history");
  EXPECT_EQ(cli_error({"once", "--since", "1h"}), "--since only goes with history");
  EXPECT_EQ(cli_error({"--until=now"}), "--until only goes with history");
  EXPECT_EQ(cli_error({"once", "--format", "json"}), "--format only goes with status and history");
  EXPECT_EQ(cli_error({"run", "--color", "never"}), "--color only goes with status and history");
  EXPECT_EQ(cli_error({"history", "--unit="}), "--unit needs a unit name (archiver@ch1)");
  EXPECT_THAT(cli_error({"history", "--since"}), HasSubstr("--since needs a value"));
  EXPECT_THAT(cli_error({"history", "--since", "yesterday"}),
              HasSubstr("--since: \"yesterday\" is not a time"));
  EXPECT_THAT(cli_error({"history", "--until", "2026-12-01T25:00:00Z"}),
              HasSubstr("--until: \"2026-12-01T25:00:00Z\" is not a time"));
  EXPECT_THAT(cli_error({"history", "--since", "1h", "--until", "2h"}),
              HasSubstr("is after --until"));
  EXPECT_EQ(
      cli_error({"history", "--since", "2026-12-01T10:00:00Z", "--until", "2026-12-01T09:00:00Z"}),
      "--since 2026-12-01T10:00:00.000Z is after --until 2026-12-01T09:00:00.000Z");
  EXPECT_EQ(cli_error({"history", "archiver@ch1"}), "unexpected argument \"archiver@ch1\"");
  EXPECT_EQ(cli_error({"history", "--local"}), "--local only goes with status");
}

TEST(ParseCli, ExporterFlagSpellings) {
  CliOptions o =
      parse_cli({"--web.listen-address=127.0.0.1:9999", "--web.config.file",
                 "/etc/mobasher-agent/web.yml", "--log.level", "debug", "--log.format=json"});
  EXPECT_EQ(o.listen, "127.0.0.1:9999");
  EXPECT_EQ(o.web_config_file, "/etc/mobasher-agent/web.yml");
  EXPECT_EQ(o.log_level, "debug");
  EXPECT_EQ(o.log_format, LogFormat::json);
  EXPECT_EQ(parse_cli({"--listen", "1.2.3.4:1", "--log-level", "warn"}).listen, "1.2.3.4:1");
  EXPECT_EQ(parse_cli({}).log_format, LogFormat::logfmt);
  EXPECT_EQ(parse_cli({"--version"}).command, "version");
  EXPECT_EQ(parse_cli({"status", "--version"}).command, "version");
  EXPECT_EQ(cli_error({"--log.format", "xml"}), "--log.format: \"xml\" is not one of logfmt, json");
  EXPECT_EQ(cli_error({"--log.level", "loud"}),
            "--log.level: \"loud\" is not one of trace, debug, info, warn, error");
  EXPECT_EQ(cli_error({"--web.config.file="}), "--web.config.file needs a FILE");
  EXPECT_EQ(cli_error({"--version=1"}), "--version takes no value");
}

TEST(UsageText, NamesEveryCommand) {
  std::string u = usage_text();
  for (const char* c :
       {"run", "once", "status", "history", "check-config", "version", "--proc-root", "--unit",
        "--since", "--until", "--format", "--color", "history --unit archiver@ch1 --since 6h",
        "--web.config.file", "--web.listen-address", "--log.level", "--log.format", "--version"})
    EXPECT_THAT(u, HasSubstr(c));
}

// ---- the real binary: exit codes and output of the one-shot commands ----

struct AgentRun {
  int exit_code = -1;
  std::string out;  // stdout and stderr
};

AgentRun agent(const std::string& args) {
  std::string cmd = std::string(MOBASHER_AGENT_BINARY) + " " + args + " 2>&1";
  AgentRun r;
  FILE* p = ::popen(cmd.c_str(), "r");
  if (!p) return r;
  char buf[4096];
  while (size_t n = std::fread(buf, 1, sizeof buf, p)) r.out.append(buf, n);
  int status = ::pclose(p);
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return r;
}

TEST(AgentBinary, Version) {
  AgentRun r = agent("version");
  EXPECT_EQ(r.exit_code, 0) << r.out;
  EXPECT_THAT(r.out, HasSubstr("mobasher-agent " MOBASHER_VERSION));
}

TEST(AgentBinary, UsageErrorExitsTwo) {
  AgentRun r = agent("--frobnicate");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_THAT(r.out, HasSubstr("unknown flag --frobnicate"));
}

TEST(AgentBinary, CheckConfig) {
  FixtureTree fx;
  fx.write("good.json", R"({ "groups": [ { "name": "archiver", "units": "archiver@*.service",
                                            "memory_limit": "2G", "warn": "1.5G" } ] })");
  fx.write("bad.json",
           "{\n  \"groups\": [\n    { \"name\": \"a\", \"units\": \"a@*.service\",\n"
           "      \"memory_limit\": \"2G\", \"warn\": \"1.5Q\" } ]\n}\n");
  AgentRun good = agent("check-config " + (fx.root() / "good.json").string());
  EXPECT_EQ(good.exit_code, 0) << good.out;
  EXPECT_THAT(good.out, HasSubstr("config ok"));
  EXPECT_THAT(good.out, HasSubstr("1 group(s)\n  archiver: units archiver@*.service, "));
  fx.write("alerts-only.json", R"({ "alerts": { "for": "1m" } })");
  AgentRun merged = agent("check-config " + (fx.root() / "alerts-only.json").string());
  EXPECT_EQ(merged.exit_code, 0) << merged.out;
  EXPECT_THAT(merged.out, HasSubstr("2 group(s)\n  archiver: "));  // the built-in groups
  EXPECT_THAT(merged.out, HasSubstr("\n  recorder: "));
  fx.write("none.json", R"({ "groups": [] })");
  EXPECT_THAT(agent("check-config " + (fx.root() / "none.json").string()).out,
              HasSubstr("0 group(s)\n  no groups: watching no units\n"));
  AgentRun bad = agent("check-config " + (fx.root() / "bad.json").string());
  EXPECT_EQ(bad.exit_code, 2) << bad.out;
  EXPECT_THAT(bad.out, HasSubstr((fx.root() / "bad.json").string() + ":4: groups[0].warn: "));
  AgentRun missing = agent("check-config " + (fx.root() / "nope.json").string());
  EXPECT_EQ(missing.exit_code, 2) << missing.out;
}

TEST(AgentBinary, OnceOnAFixtureTree) {
  FixtureTree fx;
  fx.boot_time(1'700'000'000).meminfo(16_GiB, 9_GiB, 0, 0).vmstat_oom_kill(0);
  fx.proc(101).comm("bash").ppid(1).status(4_MiB, 0, 0, 0);
  fx.proc(102).comm("ffmpeg").ppid(101).status(1020_MiB, 0, 0, 0);
  fx.cgroup_v1("system.slice/system-archiver.slice/archiver@ch1.service")
      .procs({101, 102})
      .usage(1_GiB)
      .limit(2_GiB);
  AgentRun r = agent("once --proc-root " + fx.proc_root().string() + " --cgroup-root " +
                     fx.cgroup_root().string() + " --state-dir " + (fx.root() / "state").string());
  EXPECT_EQ(r.exit_code, 0) << r.out;
  EXPECT_THAT(r.out, HasSubstr("mobasher_unit_rss_bytes{unit=\"archiver@ch1.service\","
                               "group=\"archiver\",channel=\"ch1\"} 1073741824"));
  EXPECT_THAT(r.out, HasSubstr("cgroup_layout=\"v1\""));

  AgentRun st = agent("status --local --proc-root " + fx.proc_root().string() + " --cgroup-root " +
                      fx.cgroup_root().string() + " --state-dir " + (fx.root() / "state").string());
  EXPECT_EQ(st.exit_code, 0) << st.out;
  EXPECT_THAT(st.out, HasSubstr("archiver@ch1.service"));
  EXPECT_THAT(st.out, HasSubstr("101,102"));
  EXPECT_EQ(st.out.find('\033'), std::string::npos);  // piped: no colour

  std::string local = " --local --proc-root " + fx.proc_root().string() + " --cgroup-root " +
                      fx.cgroup_root().string() + " --state-dir " + (fx.root() / "state").string();
  AgentRun js = agent("status --format json" + local);
  ASSERT_EQ(js.exit_code, 0) << js.out;
  auto j = nlohmann::json::parse(js.out);
  ASSERT_EQ(j["units"].size(), 1u);
  EXPECT_EQ(j["units"][0]["unit"], "archiver@ch1.service");
  EXPECT_THAT(js.out, HasSubstr("\n  \"cgroup_layout\": \"v1\""));  // 2-space indent

  AgentRun always = agent("status --color always" + local);
  EXPECT_EQ(always.exit_code, 0) << always.out;
  EXPECT_THAT(always.out, HasSubstr("\033[1mUNIT"));
}

TEST(AgentBinary, History) {
  FixtureTree fx;
  fx.write("state/history/current.jsonl",
           "{\"ts\":\"2026-12-01T10:00:05.000Z\",\"type\":\"restart\","
           "\"unit\":\"archiver@ch1.service\",\"cause\":\"age\",\"total\":3}\n");
  std::string state = " --state-dir " + (fx.root() / "state").string();
  AgentRun r = agent(
      "history --unit archiver@ch1 --since 2026-12-01T00:00:00Z --until "
      "2026-12-02T00:00:00Z --format csv" +
      state);
  EXPECT_EQ(r.exit_code, 0) << r.out;
  EXPECT_THAT(r.out, HasSubstr("2026-12-01T10:00:05.000Z,restart,archiver@ch1.service,,,,,,,,,,"
                               "cause=age total=3\n"));

  AgentRun none = agent("history --state-dir " + (fx.root() / "nothing").string());
  EXPECT_EQ(none.exit_code, 1) << none.out;
  EXPECT_THAT(none.out, HasSubstr("no history in " + (fx.root() / "nothing/history").string()));

  AgentRun usage = agent("history --since 1h --until 2h" + state);
  EXPECT_EQ(usage.exit_code, 2) << usage.out;
  EXPECT_THAT(usage.out, HasSubstr("is after --until"));
}

}  // namespace
}  // namespace mobasher
