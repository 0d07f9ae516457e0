// One unit cgroup, v1 or v2, behind one interface: its member PIDs and its memory files. The
// files stay open across scans and are re-read with pread (measured: a syscall costs ~1 us on
// the CI VM, and open+read+close of 7 files per unit was most of a scan).
#pragma once

#include <sys/types.h>

#include <chrono>
#include <filesystem>
#include <optional>
#include <span>
#include <string_view>
#include <vector>

#include "agent/base/snapshot.hpp"
#include "collectors/text_fields.hpp"

namespace mobasher {

// Parsers on text (pure).
std::vector<pid_t> parse_cgroup_procs(std::string_view text);
// "key value" lines (memory.stat, memory.events, memory.oom_control).
std::optional<uint64_t> parse_keyed_value(std::string_view text, std::string_view key);
// Several keys in one pass over the lines, which ends when each has been found; out[i] is
// keys[i]'s value (memory.stat's three keys on v1 are near its end: one pass, not three).
void parse_keyed_values(std::string_view text, std::span<const std::string_view> keys,
                        std::span<std::optional<uint64_t>> out);
// A limit file: "max" (v2) or a v1 "unlimited" sentinel (>= 2^62) give nullopt.
std::optional<uint64_t> parse_limit(std::string_view text);

struct CgroupReadResult {
  CgroupMemory memory;
  int errors = 0;  // files that exist but could not be read or parsed
};

class UnitCgroupFiles {
 public:
  // memory_dir may be empty (no memory accounting for this layout).
  UnitCgroupFiles(std::filesystem::path membership_dir, std::filesystem::path memory_dir, bool v2,
                  int max_depth = 3);
  ~UnitCgroupFiles();
  UnitCgroupFiles(const UnitCgroupFiles&) = delete;
  UnitCgroupFiles& operator=(const UnitCgroupFiles&) = delete;

  // PIDs of the cgroup and of its child cgroups (bounded depth), sorted, unique; empty if gone.
  // now: the scan's monotonic time (v1 re-opens cgroup.procs when the last read is that recent).
  std::vector<pid_t> pids(std::chrono::steady_clock::time_point now = {});
  CgroupReadResult memory();

 private:
  enum Slot { kUsage, kLimit, kSwap, kStat, kEvents, kFailcnt, kSlots };
  void close_memory();
  bool open_memory(uint64_t inode);
  void parse_slot(Slot s, std::string_view text, CgroupReadResult& r) const;
  std::optional<CgroupReadResult> read_memory();
  std::optional<std::string_view> read_procs(bool reopen);  // into buf_

  std::filesystem::path membership_, memory_dir_;
  bool v2_;
  int max_depth_;
  Fd dir_, procs_;  // the membership directory and its cgroup.procs
  std::optional<std::chrono::steady_clock::time_point> last_procs_read_;
  Fd mem_fd_[kSlots];
  uint64_t generation_ = 0;
  std::string buf_;
};

// One-shot forms of the above (open, read, close).
std::vector<pid_t> read_cgroup_pids(const std::filesystem::path& dir, int max_depth = 3);
CgroupReadResult read_cgroup_memory(const std::filesystem::path& dir, bool v2);

}  // namespace mobasher
