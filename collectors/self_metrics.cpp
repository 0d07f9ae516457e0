#include "collectors/self_metrics.hpp"

#include <linux/magic.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>

namespace mobasher {
namespace {

std::optional<SelfStats> stats_of(std::string_view stat_text, const ProcClock& clock) {
  auto st = parse_proc_stat(stat_text);
  if (!st) return std::nullopt;
  SelfStats s;
  s.cpu_seconds = clock.since_boot(st->utime + st->stime);
  s.start_time_seconds = clock.unix_seconds(st->start_time);
  s.virtual_bytes = st->vsize;
  s.resident_bytes = static_cast<uint64_t>(std::max<int64_t>(st->rss_pages, 0)) *
                     static_cast<uint64_t>(sysconf(_SC_PAGESIZE));
  rlimit rl{};
  if (getrlimit(RLIMIT_NOFILE, &rl) == 0) s.max_fds = rl.rlim_cur;
  return s;
}

uint64_t list_entries(const std::filesystem::path& dir) {
  uint64_t n = 0;
  std::error_code ec;
  for (auto it = std::filesystem::directory_iterator(dir, ec);
       !ec && it != std::filesystem::directory_iterator(); it.increment(ec))
    ++n;
  return n;
}

}  // namespace

SelfReader::SelfReader(std::filesystem::path self_dir)
    : dir_(std::move(self_dir)),
      clock_(ProcClock::read(dir_.parent_path())),
      stat_(open_ro(dir_ / "stat")),
      fd_dir_(::open((dir_ / "fd").c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC)) {
  struct statfs fs {};
  fd_dir_on_procfs_ =
      fd_dir_ && ::fstatfs(fd_dir_.get(), &fs) == 0 && fs.f_type == PROC_SUPER_MAGIC;
}

uint64_t SelfReader::open_fds(std::chrono::steady_clock::time_point now) {
  struct stat st {};
  if (fd_dir_on_procfs_ && ::fstat(fd_dir_.get(), &st) == 0 && st.st_size > 0)
    return static_cast<uint64_t>(st.st_size);
  if (!listed_at_ || now - *listed_at_ >= kListEvery || now < *listed_at_) {
    listed_fds_ = list_entries(dir_ / "fd");
    listed_at_ = now;
  }
  return listed_fds_;
}

std::optional<SelfStats> SelfReader::read(std::chrono::steady_clock::time_point now) {
  if (!stat_) return std::nullopt;
  auto text = pread_whole(stat_.get(), buf_);
  if (!text) return std::nullopt;
  auto s = stats_of(*text, clock_);
  if (s) s->open_fds = open_fds(now);
  return s;
}

}  // namespace mobasher
