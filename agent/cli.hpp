// Command line: `mobasher-agent [run|once|status|check-config|version] [flags]`.
#pragma once

#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

namespace mobasher {

struct CliOptions {
  std::string command = "run";
  std::optional<std::string> config, listen, proc_root, cgroup_root, state_dir;
  std::string log_level = "info";
  bool dry_run = false, local = false, help = false;
  std::string check_file;  // check-config FILE
};

class CliError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

CliOptions parse_cli(const std::vector<std::string>& args);  // args without argv[0]
std::string usage_text();

}  // namespace mobasher
