// Which unit cgroups exist: a bounded search of the membership hierarchy for unit names that
// match a group's glob, through slices only (a container's payload, a service's sub-cgroups are
// never entered), and a cheap refresh that re-lists only the slices where units were found
// (their directories kept open: rewound and read again, no path walk, no opendir buffer).
#pragma once

#include <dirent.h>

#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace mobasher {

struct UnitPattern {
  std::string group, glob;  // "archiver", "archiver@*.service"
};

struct UnitCgroup {
  std::string unit, group, channel;
  std::string rel;  // from the hierarchy root, with a leading '/'
  bool operator==(const UnitCgroup&) const = default;
};

// "archiver@ch1.service" -> "ch1"; "" for a unit that is not a template instance.
std::string channel_of(const std::string& unit);

class Discovery {
 public:
  // own_root: own_systemd_root() of the agent (the path to its systemd's slices, "" on a host).
  static constexpr int kMaxDepth = 8;
  Discovery(std::filesystem::path hierarchy_root, std::vector<UnitPattern> patterns,
            int max_depth = kMaxDepth, std::string own_root = "");

  std::vector<UnitCgroup> search();   // full bounded walk; remembers the slices it found
  std::vector<UnitCgroup> refresh();  // re-lists the remembered slices only
  size_t known_slices() const { return slices_.size(); }
  uint64_t directories_visited() const { return visited_; }

 private:
  void walk(const std::filesystem::path& dir, const std::string& rel, int depth,
            std::vector<UnitCgroup>& out);
  using Dir = std::unique_ptr<DIR, int (*)(DIR*)>;
  bool list_slice(const std::string& rel, Dir& dir, std::vector<UnitCgroup>& out);
  void list_units(DIR* dir, const std::string& rel, std::vector<UnitCgroup>& out) const;
  // Adds the unit named `name` in directory rel to out if a pattern matches it.
  bool match(const std::string& name, const std::string& rel, std::vector<UnitCgroup>& out) const;

  std::filesystem::path root_;
  std::vector<UnitPattern> patterns_;
  int max_depth_;
  std::string own_root_;
  std::map<std::string, Dir> slices_;  // rel -> its directory, opened at the first refresh
  uint64_t visited_ = 0;
};

}  // namespace mobasher
