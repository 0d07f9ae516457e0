#include "collectors/discovery.hpp"

#include <dirent.h>
#include <fnmatch.h>

#include <algorithm>
#include <memory>
#include <tuple>
#include <utility>

namespace mobasher {
namespace {

// path is dir or lies below it ("/a/b" within "/a"; "/ab" is not).
bool within(std::string_view path, std::string_view dir) {
  return path.starts_with(dir) && (path.size() == dir.size() || path[dir.size()] == '/');
}

// Subdirectory names of an open directory, from its current position (DT_UNKNOWN is taken as a
// directory and checked by the caller).
template <typename F>
void for_each_subdir(DIR* d, F&& f) {
  while (dirent* e = ::readdir(d)) {
    if (e->d_type != DT_DIR && e->d_type != DT_UNKNOWN) continue;
    std::string_view name = e->d_name;
    if (name == "." || name == "..") continue;
    f(std::string(name));
  }
}

// The same for a directory by path; false when it cannot be opened.
template <typename F>
bool for_each_subdir(const std::filesystem::path& dir, F&& f) {
  std::unique_ptr<DIR, int (*)(DIR*)> d(::opendir(dir.c_str()), ::closedir);
  if (!d) return false;
  for_each_subdir(d.get(), std::forward<F>(f));
  return true;
}

// Units first that belong to the agent's own systemd (under own_root), then the shallowest, then
// by path: when one name is found twice, the scanner keeps the first (duplicate_unit).
bool unit_order(const UnitCgroup& a, const UnitCgroup& b, const std::string& own_root) {
  auto key = [&](const UnitCgroup& u) {
    bool own = own_root.empty() || within(u.rel, own_root);
    return std::tuple<bool, std::ptrdiff_t, const std::string&>(
        !own, std::count(u.rel.begin(), u.rel.end(), '/'), u.rel);
  };
  return key(a) < key(b);
}

}  // namespace

std::string channel_of(const std::string& unit) {
  auto at = unit.find('@');
  auto dot = unit.rfind('.');
  if (at == std::string::npos || dot == std::string::npos || dot <= at) return "";
  return unit.substr(at + 1, dot - at - 1);
}

Discovery::Discovery(std::filesystem::path root, std::vector<UnitPattern> patterns, int max_depth,
                     std::string own_root)
    : root_(std::move(root)),
      patterns_(std::move(patterns)),
      max_depth_(max_depth),
      own_root_(std::move(own_root)) {}

void Discovery::list_units(DIR* dir, const std::string& rel, std::vector<UnitCgroup>& out) const {
  ::rewinddir(dir);
  for_each_subdir(dir, [&](const std::string& name) { match(name, rel, out); });
}

// A directory that holds a cgroup cannot be removed, so a kept slice that still lists a unit is
// the live one. One that lists none may have been removed (and made again: its units were
// restarted, the slice stopped and started): it is opened anew from its path.
bool Discovery::list_slice(const std::string& rel, Dir& dir, std::vector<UnitCgroup>& out) {
  size_t before = out.size();
  if (dir) {
    list_units(dir.get(), rel, out);
    if (out.size() > before) return true;
  }
  std::filesystem::path path = rel.empty() ? root_ : root_ / rel.substr(1);
  dir.reset(::opendir(path.c_str()));
  if (!dir) return false;
  list_units(dir.get(), rel, out);
  return true;
}

bool Discovery::match(const std::string& name, const std::string& rel,
                      std::vector<UnitCgroup>& out) const {
  for (const auto& p : patterns_) {
    if (::fnmatch(p.glob.c_str(), name.c_str(), 0) == 0) {
      out.push_back({name, p.group, channel_of(name), rel + "/" + name});
      return true;
    }
  }
  return false;
}

void Discovery::walk(const std::filesystem::path& dir, const std::string& rel, int depth,
                     std::vector<UnitCgroup>& out) {
  ++visited_;
  bool holds_units = false;
  std::vector<std::string> children;
  for_each_subdir(dir, [&](const std::string& name) { children.push_back(name); });
  for (const auto& name : children) {
    bool matched = match(name, rel, out);
    holds_units = holds_units || matched;
    // Units live in slices: descend only into those, and along the path to the agent's own
    // systemd's slices. Never into a service, a scope or anything else (a container's payload
    // holds another systemd's units of the same names).
    std::string child = rel + "/" + name;
    if (!matched && depth < max_depth_ && (name.ends_with(".slice") || within(own_root_, child)))
      walk(dir / name, child, depth + 1, out);
  }
  // Only the directory that holds units is re-listed between searches, not its ancestors.
  if (holds_units) slices_.try_emplace(rel, nullptr, ::closedir);
}

std::vector<UnitCgroup> Discovery::search() {
  slices_.clear();
  std::vector<UnitCgroup> out;
  walk(root_, "", 0, out);
  std::sort(out.begin(), out.end(), [&](auto& a, auto& b) { return unit_order(a, b, own_root_); });
  return out;
}

std::vector<UnitCgroup> Discovery::refresh() {
  std::vector<UnitCgroup> out;
  for (auto it = slices_.begin(); it != slices_.end();) {
    // A slice that disappeared (all its units stopped) is forgotten until the next search.
    if (!list_slice(it->first, it->second, out))
      it = slices_.erase(it);
    else
      ++it;
  }
  std::sort(out.begin(), out.end(), [&](auto& a, auto& b) { return unit_order(a, b, own_root_); });
  return out;
}

}  // namespace mobasher
