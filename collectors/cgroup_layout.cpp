#include "collectors/cgroup_layout.hpp"

#include <sstream>
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

std::string own_systemd_root(const std::string& self_cgroup, CgroupLayout layout) {
  // "ID:CONTROLLERS:PATH" per hierarchy; v2's is "0::PATH".
  std::string want = layout == CgroupLayout::v2 ? "0::" : ":name=systemd:";
  std::istringstream in(self_cgroup);
  for (std::string line; std::getline(in, line);) {
    auto at = line.find(want);
    if (at == std::string::npos || (layout == CgroupLayout::v2 && at != 0)) continue;
    std::string path = line.substr(at + want.size()), root;
    for (size_t i = 1; i < path.size();) {
      size_t end = std::min(path.find('/', i), path.size());
      std::string_view part(path.data() + i, end - i);
      if (part.ends_with(".slice")) return root;
      root.append("/").append(part);
      i = end + 1;
    }
    return "";  // no slice on the way: not a systemd's unit
  }
  return "";
}

}  // namespace mobasher
