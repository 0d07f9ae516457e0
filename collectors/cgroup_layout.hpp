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

// Where the agent's own systemd keeps its slices, from its own membership path in
// PROC/self/cgroup (the name=systemd line on v1/hybrid, "0::" on v2): the components before the
// first "*.slice". "" on a host ("/system.slice/mobasher-agent.service"); "/lxc.payload.c1" in a
// container that has no cgroup namespace ("/lxc.payload.c1/system.slice/mobasher-agent.service").
// Discovery descends through it to reach that systemd's slices.
std::string own_systemd_root(const std::string& proc_self_cgroup, CgroupLayout layout);

}  // namespace mobasher
