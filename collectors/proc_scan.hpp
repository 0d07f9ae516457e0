// The /proc fallback for archivers started without systemd units: match processes by comm and/or
// cmdline regex, then add their descendants. The only collector that walks all of /proc.
#pragma once

#include <sys/types.h>

#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "agent/base/snapshot.hpp"
#include "agent/config/config.hpp"

namespace mobasher {

struct MatchGroup {
  std::string group;
  ProcessMatch match;
};

// The matched processes of one channel and their descendants, reported like a unit named
// "GROUP@CHANNEL". The channel is the regex's first capture group, else the matched PID.
struct MatchedTree {
  std::string group, channel;
  pid_t root = 0;              // the first matched process
  std::vector<pid_t> members;  // root first
};

class ProcScan {
 public:
  ProcScan(std::filesystem::path proc_root, std::vector<MatchGroup> groups,
           size_t max_cmdline_cache = 16384);
  std::vector<MatchedTree> scan();
  uint64_t processes_seen() const { return seen_; }

 private:
  struct Entry {
    pid_t pid, ppid;
    uint64_t start_time;
    std::string comm;
  };
  const std::string& cmdline(const Entry& e);
  int match(const Entry& e, std::string& channel);  // group index or -1
  std::vector<Entry> read_all() const;
  std::vector<MatchedTree> trees(const std::vector<Entry>& all);

  std::filesystem::path root_;
  std::vector<MatchGroup> groups_;
  size_t max_cache_;
  // cmdline is read once per process (keyed by identity and comm, since exec changes both)
  struct Cached {
    std::string cmdline;
    bool seen;
  };
  std::map<std::pair<ProcessId, std::string>, Cached> cmdlines_;
  uint64_t seen_ = 0;
  std::string buf_;
};

}  // namespace mobasher
