// One unit cgroup, v1 or v2, behind one interface: its member PIDs and its memory files.
#pragma once

#include <sys/types.h>

#include <filesystem>
#include <optional>
#include <string_view>
#include <vector>

#include "agent/snapshot.hpp"

namespace mobasher {

// Parsers on text (pure).
std::vector<pid_t> parse_cgroup_procs(std::string_view text);
// "key value" lines (memory.stat, memory.events, memory.oom_control).
std::optional<uint64_t> parse_keyed_value(std::string_view text, std::string_view key);
// A limit file: "max" (v2) or a v1 "unlimited" sentinel (>= 2^62) give nullopt.
std::optional<uint64_t> parse_limit(std::string_view text);

struct CgroupReadResult {
  CgroupMemory memory;
  int errors = 0;  // files that exist but could not be read or parsed
};

// PIDs of the cgroup and of its child cgroups (bounded depth); empty if the cgroup is gone.
std::vector<pid_t> read_cgroup_pids(const std::filesystem::path& dir, int max_depth = 3);
CgroupReadResult read_cgroup_memory(const std::filesystem::path& dir, bool v2);

}  // namespace mobasher
