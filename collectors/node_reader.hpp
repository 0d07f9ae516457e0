// The node's memory: /proc/meminfo, /proc/vmstat oom_kill and /proc/pressure/memory (PSI).
#pragma once

#include <filesystem>
#include <optional>
#include <string>
#include <string_view>

#include "agent/base/snapshot.hpp"
#include "collectors/text_fields.hpp"

namespace mobasher {

void parse_meminfo(std::string_view text, NodeSample& out);
std::optional<uint64_t> parse_vmstat_oom_kill(std::string_view text);
// "some avg10=0.00 avg60=0.00 avg300=0.00 total=12345" (total in microseconds) -> seconds
void parse_pressure(std::string_view text, NodeSample& out);

struct NodeReadResult {
  NodeSample node;
  int errors = 0;
};

// The three files stay open and are re-read with pread (each open walked the path, and the
// three opens and closes were a fifth of the node's cost).
class NodeReader {
 public:
  explicit NodeReader(std::filesystem::path proc_root);
  NodeReadResult read();

 private:
  std::filesystem::path root_;
  Fd meminfo_, vmstat_, pressure_;
  bool pressure_absent_ = false;  // no PSI (CONFIG_PSI off, or psi=0): not looked for again
  std::string buf_;
};

}  // namespace mobasher
