#include "collectors/cgroup_layout.hpp"

#include <system_error>

namespace mobasher {

const char* to_string(CgroupLayout l) {
  switch (l) {
    case CgroupLayout::v1:
      return "v1";
    case CgroupLayout::v2:
      return "v2";
    case CgroupLayout::hybrid:
      return "hybrid";
    case CgroupLayout::none:
      break;
  }
  return "none";
}

CgroupHierarchies detect_cgroup_layout(const std::filesystem::path& root) {
  std::error_code ec;
  auto exists = [&](const std::filesystem::path& p) { return std::filesystem::exists(p, ec); };
  CgroupHierarchies h;
  if (exists(root / "cgroup.controllers")) {  // cgroup2 mounted at the root: unified
    h.layout = CgroupLayout::v2;
    h.membership = h.memory = root;
    h.memory_v2 = true;
    return h;
  }
  bool v1_memory = exists(root / "memory" / "cgroup.procs");
  bool unified = exists(root / "unified" / "cgroup.controllers");
  if (!v1_memory && !exists(root / "systemd" / "cgroup.procs")) {
    if (unified) {  // only a cgroup2 tree under unified/: treat it as v2
      h.layout = CgroupLayout::v2;
      h.membership = h.memory = root / "unified";
      h.memory_v2 = true;
    }
    return h;
  }
  h.layout = unified ? CgroupLayout::hybrid : CgroupLayout::v1;
  // systemd tracks units in name=systemd (v1 and hybrid); fall back to the memory tree.
  if (exists(root / "systemd" / "cgroup.procs"))
    h.membership = root / "systemd";
  else if (unified)
    h.membership = root / "unified";
  else
    h.membership = root / "memory";
  if (v1_memory) h.memory = root / "memory";
  return h;
}

}  // namespace mobasher
