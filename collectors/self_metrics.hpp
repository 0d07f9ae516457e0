// The agent's own process_* metrics (as every Prometheus client exports them), from /proc/self.
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>

#include "collectors/proc_reader.hpp"
#include "collectors/text_fields.hpp"

namespace mobasher {

struct SelfStats {
  double cpu_seconds = 0, start_time_seconds = 0;
  uint64_t resident_bytes = 0, virtual_bytes = 0;
  uint64_t open_fds = 0, max_fds = 0;
};

// Read every scan, so kept cheap: stat stays open (pread), and the open descriptors are the size
// of the fd directory, which procfs reports since Linux 6.2. Elsewhere (an older kernel, a
// fixture tree) the directory is listed, at most once per kListEvery: a listing instantiates an
// entry per descriptor, measured ~170 us a scan with the agent's ~90 descriptors.
class SelfReader {
 public:
  static constexpr std::chrono::seconds kListEvery{10};
  // self_dir: /proc/self (the agent's own process, whatever --proc-root says) or a fixture.
  explicit SelfReader(std::filesystem::path self_dir = "/proc/self");
  std::optional<SelfStats> read(
      std::chrono::steady_clock::time_point now = std::chrono::steady_clock::now());

 private:
  uint64_t open_fds(std::chrono::steady_clock::time_point now);

  std::filesystem::path dir_;
  ProcClock clock_;
  Fd stat_, fd_dir_;
  bool fd_dir_on_procfs_ = false;
  std::string buf_;
  uint64_t listed_fds_ = 0;
  std::optional<std::chrono::steady_clock::time_point> listed_at_;
};

}  // namespace mobasher
