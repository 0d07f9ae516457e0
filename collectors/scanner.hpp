// Readers -> Snapshot: discovery (bounded search every discovery_interval, cheap refresh between),
// each unit's processes and cgroup memory, the /proc fallback groups, and the node.
#pragma once

#include <chrono>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <vector>

#include "agent/base/snapshot.hpp"
#include "agent/config/config.hpp"
#include "collectors/cgroup_layout.hpp"
#include "collectors/cgroup_reader.hpp"
#include "collectors/discovery.hpp"
#include "collectors/node_reader.hpp"
#include "collectors/proc_reader.hpp"
#include "collectors/proc_scan.hpp"

namespace mobasher {

struct ScannerOptions {
  std::filesystem::path proc_root = "/proc";
  std::filesystem::path cgroup_root = "/sys/fs/cgroup";
};

class Scanner {
 public:
  using SteadyTime = std::chrono::steady_clock::time_point;
  Scanner(ScannerOptions opts, const Config& config);

  Snapshot scan(WallTime now, SteadyTime mono, double boot_seconds = boot_clock_seconds());
  const CgroupHierarchies& hierarchies() const { return hier_; }
  size_t open_processes() const { return proc_.open_processes(); }

 private:
  void add_unit(Snapshot& snap, const std::string& unit, const std::string& group,
                const std::string& channel, const std::string& rel, const std::vector<pid_t>& pids,
                UnitCgroupFiles* cgroup);  // nullptr for /proc-matched units

  struct CachedCgroup : UnitCgroupFiles {
    using UnitCgroupFiles::UnitCgroupFiles;
    bool seen = false;
  };

  ScannerOptions opts_;
  CgroupHierarchies hier_;
  std::vector<GroupConfig> groups_;
  bool pss_;
  std::chrono::milliseconds discovery_interval_;
  Discovery discovery_;
  std::unique_ptr<ProcScan> proc_scan_;  // only when a group matches by comm/cmdline
  ProcReader proc_;
  NodeReader node_;
  std::optional<SteadyTime> last_search_;
  std::map<std::string, std::unique_ptr<CachedCgroup>> cgroups_;  // by rel path, open files
  uint64_t last_parse_errors_ = 0;
};

}  // namespace mobasher
