// Command line: `mobasher-agent [run|once|status|history|check-config|version] [flags]`.
#pragma once

#include <array>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "agent/base/enum_names.hpp"

namespace mobasher {

// --format: how status and history print.
enum class OutputFormat { table, json, csv };
inline constexpr std::array<EnumName<OutputFormat>, 3> kOutputFormats = {
    {{OutputFormat::table, "table"}, {OutputFormat::json, "json"}, {OutputFormat::csv, "csv"}}};
constexpr const auto& enum_table(OutputFormat) {
  return kOutputFormats;
}

// --log.format: logfmt (key=value, the default) or json (one object per line).
enum class LogFormat { logfmt, json };
inline constexpr std::array<EnumName<LogFormat>, 2> kLogFormats = {
    {{LogFormat::logfmt, "logfmt"}, {LogFormat::json, "json"}}};
constexpr const auto& enum_table(LogFormat) {
  return kLogFormats;
}

struct CliOptions {
  std::string command = "run";
  std::optional<std::string> config, listen, proc_root, cgroup_root, state_dir;
  std::optional<std::string> web_config_file;  // --web.config.file: TLS and basic auth
  std::string log_level = "info";
  LogFormat log_format = LogFormat::logfmt;
  bool dry_run = false, local = false, help = false, version = false;
  std::string check_file;  // check-config FILE
  // status and history
  OutputFormat format = OutputFormat::table;  // status: table or json; history also csv
  std::string color = "auto";                 // auto, always, never
  // history: the unit as typed (archiver@ch1 or archiver@ch1.service); WHEN as typed (6h,
  // 2026-12-01T10:00:00Z, now), already checked by parse_cli
  std::optional<std::string> unit, since, until;
};

class CliError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

CliOptions parse_cli(const std::vector<std::string>& args);  // args without argv[0]
std::string usage_text();

}  // namespace mobasher
