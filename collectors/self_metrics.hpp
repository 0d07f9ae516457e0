// The agent's own process_* metrics (as every Prometheus client exports them), from /proc/self.
#pragma once

#include <cstdint>
#include <optional>

#include "collectors/proc_reader.hpp"

namespace mobasher {

struct SelfStats {
  double cpu_seconds = 0, start_time_seconds = 0;
  uint64_t resident_bytes = 0, virtual_bytes = 0;
  uint64_t open_fds = 0, max_fds = 0;
};

// Always the real /proc/self: the agent's own process, whatever --proc-root points at. clock:
// ProcClock::read("/proc"), read once by the caller.
std::optional<SelfStats> read_self_stats(const ProcClock& clock);

}  // namespace mobasher
