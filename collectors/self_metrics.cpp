#include "collectors/self_metrics.hpp"

#include <sys/resource.h>
#include <unistd.h>

#include <filesystem>

#include "collectors/proc_reader.hpp"

namespace mobasher {

std::optional<SelfStats> read_self_stats(const ProcClock& clock) {
  auto text = read_small_file("/proc/self/stat");
  if (!text) return std::nullopt;
  auto st = parse_proc_stat(*text);
  if (!st) return std::nullopt;
  SelfStats s;
  s.cpu_seconds = clock.since_boot(st->utime + st->stime);
  s.start_time_seconds = clock.unix_seconds(st->start_time);
  s.virtual_bytes = st->vsize;
  s.resident_bytes = static_cast<uint64_t>(std::max<int64_t>(st->rss_pages, 0)) *
                     static_cast<uint64_t>(sysconf(_SC_PAGESIZE));
  std::error_code ec;
  for (auto it = std::filesystem::directory_iterator("/proc/self/fd", ec);
       !ec && it != std::filesystem::directory_iterator(); it.increment(ec))
    ++s.open_fds;
  rlimit rl{};
  if (getrlimit(RLIMIT_NOFILE, &rl) == 0) s.max_fds = rl.rlim_cur;
  return s;
}

}  // namespace mobasher
