// Which cgroup layout the host has (v1, v2, hybrid), detected from the files under the root.
#pragma once

#include <filesystem>
#include <string>

namespace mobasher {

enum class CgroupLayout { none, v1, v2, hybrid };
const char* to_string(CgroupLayout l);

struct CgroupHierarchies {
  CgroupLayout layout = CgroupLayout::none;
  std::filesystem::path membership;  // where unit cgroups list their processes (cgroup.procs)
  std::filesystem::path memory;      // memory accounting; empty when there is none
  bool memory_v2 = false;            // memory.current/memory.max (v2) or memory.usage_in_bytes
};

CgroupHierarchies detect_cgroup_layout(const std::filesystem::path& cgroup_root);

}  // namespace mobasher
