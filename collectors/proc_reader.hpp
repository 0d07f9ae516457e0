// /proc/PID/{stat,status}: parsers on text, and a reader that reads a process's stat once (its
// start time) and keeps its status open across scans, re-read with pread (measured: ~3 us a
// process against ~20 us for open+read+close of both files).
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

#include "agent/base/snapshot.hpp"

namespace mobasher {

struct ProcStat {
  std::string comm;
  char state = '?';
  pid_t ppid = 0;
  uint64_t utime = 0, stime = 0;  // clock ticks
  uint64_t start_time = 0;        // clock ticks since boot
  uint64_t vsize = 0;             // bytes
  int64_t rss_pages = 0;
};

struct ProcStatus {
  uint64_t rss_anon = 0, rss_file = 0, rss_shmem = 0, swap = 0;  // bytes
  std::optional<std::string> name;  // "Name:" unescaped (the kernel escapes '\n' and '\\')
  char state = '?';                 // "State:"
  std::optional<pid_t> ppid;        // "PPid:"
};

std::optional<ProcStat> parse_proc_stat(std::string_view text);  // comm made valid UTF-8

// Label values and JSON must be UTF-8, but the kernel cuts comm at 15 bytes, possibly inside a
// multi-byte character ("أرشيف..."): a truncated sequence at the end is dropped, any other
// invalid byte becomes U+FFFD.
std::string valid_utf8(std::string_view text);
std::optional<ProcStatus> parse_proc_status(std::string_view text);
std::optional<uint64_t> parse_smaps_rollup_pss(std::string_view text);     // bytes
std::optional<uint64_t> parse_boot_time(std::string_view proc_stat_text);  // "btime" of /proc/stat

// How a read shorter than asked tells the end of the file (it saves a read that would only return
// 0: a syscall is ~1 us on a small VM).
//   one:   files the kernel produces in one piece (/proc/PID/stat and status, meminfo, memory.*
//          values and memory.stat): any short read ends them.
//   many:  seq_files produced a record at a time (cgroup.procs, /proc/vmstat): a read returns at
//          most the kernel's buffer (a page or more) and stops before a record that would not fit
//          in it, so a read shorter than a page minus the longest record (kMaxRecord) ends them.
//   until_empty: read until a read returns 0 (/proc/PID/cmdline, whose text has no records).
enum class Records { one, many, until_empty };
inline constexpr size_t kSeqFilePage = 4096, kMaxRecord = 256;

// Reads one small file whole; nullopt if it cannot be opened or read (the process is gone).
std::optional<std::string> read_small_file(const std::filesystem::path& path,
                                           Records records = Records::one);
// Re-reads an open descriptor from offset 0 into buf (grown as needed, at most 1 MiB).
std::optional<std::string_view> pread_whole(int fd, std::string& buf,
                                            Records records = Records::one);

// /proc/PID/stat times are clock ticks since boot: this turns them into seconds, from /proc/stat's
// btime and the tick rate, read once.
struct ProcClock {
  double boot_time = 0;  // Unix seconds at boot; 0 when /proc/stat could not be read
  double ticks_per_second = 100;
  static ProcClock read(const std::filesystem::path& proc_root);
  double since_boot(uint64_t ticks) const { return static_cast<double>(ticks) / ticks_per_second; }
  double unix_seconds(uint64_t ticks) const { return boot_time + since_boot(ticks); }
};

class ProcReader {
 public:
  // max_open_processes bounds the descriptor cache (2 fds per cached process).
  explicit ProcReader(std::filesystem::path proc_root, size_t max_open_processes = 2048);
  ~ProcReader();
  ProcReader(const ProcReader&) = delete;
  ProcReader& operator=(const ProcReader&) = delete;

  // nullopt: the process is gone (normal, not an error). A malformed file counts in errors().
  std::optional<ProcessSample> sample(pid_t pid, bool with_pss);

  // Closes the descriptors of processes not sampled since the last call.
  void end_scan();
  uint64_t parse_errors() const { return parse_errors_; }
  size_t open_processes() const { return open_.size(); }
  const std::filesystem::path& root() const { return root_; }
  const ProcClock& clock() const { return clock_; }

 private:
  // A process seen before: its status kept open; what its stat said when first seen (the start
  // time never changes; comm and ppid are refreshed from status).
  struct Open {
    int status_fd = -1;
    ProcessId id;
    std::string comm;
    pid_t ppid = 0;
    bool seen = false;
  };
  void close_entry(Open& e);
  std::unordered_map<pid_t, Open>::iterator open_entry(pid_t pid);
  ProcessSample make_sample(const Open& e, const ProcStatus& status, bool with_pss) const;

  std::filesystem::path root_;
  size_t max_open_;
  std::unordered_map<pid_t, Open> open_;
  std::string buf_;
  uint64_t parse_errors_ = 0;
  ProcClock clock_;
};

}  // namespace mobasher
