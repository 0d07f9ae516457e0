#include "collectors/scanner.hpp"

#include <algorithm>
#include <set>
#include <unordered_set>
#include <utility>

#include "collectors/cgroup_reader.hpp"

namespace mobasher {
namespace {

std::vector<UnitPattern> unit_patterns(const Config& c) {
  std::vector<UnitPattern> out;
  for (const auto& g : c.groups)
    if (!g.units.empty()) out.push_back({g.name, g.units});
  return out;
}

std::vector<MatchGroup> match_groups(const Config& c) {
  std::vector<MatchGroup> out;
  for (const auto& g : c.groups)
    if (g.match) out.push_back({g.name, *g.match});
  return out;
}

}  // namespace

Scanner::Scanner(ScannerOptions opts, const Config& config)
    : opts_(std::move(opts)),
      hier_(detect_cgroup_layout(opts_.cgroup_root)),
      groups_(config.groups),
      pss_(config.pss),
      discovery_interval_(config.discovery_interval),
      discovery_(
          hier_.membership, unit_patterns(config), Discovery::kMaxDepth,
          own_systemd_root(
              read_small_file(opts_.proc_root / "self" / "cgroup", Records::many).value_or(""),
              hier_.layout)),
      proc_(opts_.proc_root),
      node_(opts_.proc_root) {
  auto mg = match_groups(config);
  if (!mg.empty()) proc_scan_ = std::make_unique<ProcScan>(opts_.proc_root, std::move(mg));
}

void Scanner::add_unit(Snapshot& snap, const std::string& unit, const std::string& group,
                       const std::string& channel, const std::string& rel,
                       const std::vector<pid_t>& pids, UnitCgroupFiles* cgroup) {
  UnitSample u;
  u.unit = valid_utf8(unit);  // cgroup directory names are bytes; labels must be UTF-8
  u.group = group;
  u.channel = valid_utf8(channel);
  u.cgroup = rel;
  auto g = std::find_if(groups_.begin(), groups_.end(), [&](auto& x) { return x.name == group; });
  for (pid_t pid : pids)
    if (auto s = proc_.sample(pid, pss_)) u.processes.push_back(std::move(*s));
  std::unordered_set<pid_t> members;
  for (auto& p : u.processes) members.insert(p.id.pid);
  for (auto& p : u.processes) p.main = !members.count(p.ppid);
  if (cgroup) {
    auto r = cgroup->memory();
    u.memory = r.memory;
    if (r.errors) snap.errors["cgroup"] += static_cast<uint64_t>(r.errors);
  }
  if (g != groups_.end()) {
    u.configured_limit = g->memory_limit;
    u.warn_bytes = g->warn.resolve(u.effective_limit());
    u.critical_bytes = g->critical.resolve(u.effective_limit());
    if (g->restart.predict) u.predict_seconds = seconds(*g->restart.predict);
    u.predict_window = seconds(g->restart.predict_window);
  }
  snap.units.push_back(std::move(u));
}

Snapshot Scanner::scan(WallTime now, SteadyTime mono, double boot_seconds) {
  auto t0 = std::chrono::steady_clock::now();
  Snapshot snap;
  snap.taken_at = now;
  snap.boot_seconds = boot_seconds;
  snap.cgroup_layout = to_string(hier_.layout);

  std::vector<UnitCgroup> units;
  if (hier_.layout != CgroupLayout::none) {
    if (!last_search_ || mono - *last_search_ >= discovery_interval_) {
      units = discovery_.search();
      last_search_ = mono;
    } else {
      units = discovery_.refresh();
    }
  }
  // A unit name is a series identity: the same name twice (two nested hierarchies holding the
  // same unit, a fallback unit named like a systemd one) would make the exposition invalid.
  std::set<std::string> names;
  for (const auto& uc : units) {
    if (!names.insert(uc.unit).second) {
      ++snap.errors["duplicate_unit"];
      continue;
    }
    auto& files = cgroups_[uc.rel];
    if (!files)
      files = std::make_unique<CachedCgroup>(
          hier_.membership / uc.rel.substr(1),
          hier_.memory.empty() ? std::filesystem::path() : hier_.memory / uc.rel.substr(1),
          hier_.memory_v2);
    files->seen = true;
    add_unit(snap, uc.unit, uc.group, uc.channel, uc.rel, files->pids(mono), files.get());
  }
  // Units that are gone: close their descriptors (bounded by the units of one scan).
  std::erase_if(cgroups_, [](auto& kv) { return !std::exchange(kv.second->seen, false); });
  if (proc_scan_) {
    for (const auto& t : proc_scan_->scan()) {
      std::string name = t.group + "@" + t.channel;
      if (!names.insert(name).second) {
        ++snap.errors["duplicate_unit"];
        continue;
      }
      add_unit(snap, name, t.group, t.channel, "", t.members, nullptr);
    }
  }
  proc_.end_scan();
  if (proc_.parse_errors() > last_parse_errors_)
    snap.errors["proc"] += proc_.parse_errors() - last_parse_errors_;
  last_parse_errors_ = proc_.parse_errors();

  auto node = node_.read();
  snap.node = node.node;
  if (node.errors) snap.errors["node"] += static_cast<uint64_t>(node.errors);
  snap.scan_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return snap;
}

}  // namespace mobasher
