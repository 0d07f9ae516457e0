// libFuzzer target: every parser of /proc text, each given the same input: /proc/PID/stat,
// /proc/PID/status, /proc/PID/smaps_rollup, /proc/stat (btime), /proc/meminfo, /proc/vmstat,
// /proc/pressure/memory. They never throw; a crash or sanitizer report is a bug.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "agent/base/snapshot.hpp"
#include "collectors/node_reader.hpp"
#include "collectors/proc_reader.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  (void)mobasher::parse_proc_stat(text);
  (void)mobasher::parse_proc_status(text);
  (void)mobasher::parse_smaps_rollup_pss(text);
  (void)mobasher::parse_boot_time(text);
  mobasher::NodeSample node;
  mobasher::parse_meminfo(text, node);
  mobasher::parse_pressure(text, node);
  (void)mobasher::parse_vmstat_oom_kill(text);
  return 0;
}
