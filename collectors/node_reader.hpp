// The node's memory: /proc/meminfo, /proc/vmstat oom_kill and /proc/pressure/memory (PSI).
#pragma once

#include <filesystem>
#include <optional>
#include <string_view>

#include "agent/base/snapshot.hpp"

namespace mobasher {

void parse_meminfo(std::string_view text, NodeSample& out);
std::optional<uint64_t> parse_vmstat_oom_kill(std::string_view text);
// "some avg10=0.00 avg60=0.00 avg300=0.00 total=12345" (total in microseconds) -> seconds
void parse_pressure(std::string_view text, NodeSample& out);

struct NodeReadResult {
  NodeSample node;
  int errors = 0;
};

NodeReadResult read_node(const std::filesystem::path& proc_root);

}  // namespace mobasher
