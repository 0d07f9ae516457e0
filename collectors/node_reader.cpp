#include "collectors/node_reader.hpp"

#include <cerrno>

#include "collectors/cgroup_reader.hpp"
#include "collectors/proc_reader.hpp"
#include "collectors/text_fields.hpp"

namespace mobasher {
void parse_meminfo(std::string_view text, NodeSample& out) {
  for_each_kb_line(text, [&](std::string_view key, uint64_t bytes) {
    if (key == "MemTotal")
      out.mem_total = bytes;
    else if (key == "MemAvailable")
      out.mem_available = bytes;
    else if (key == "SwapTotal")
      out.swap_total = bytes;
    else if (key == "SwapFree")
      out.swap_free = bytes;
  });
}

std::optional<uint64_t> parse_vmstat_oom_kill(std::string_view text) {
  return parse_keyed_value(text, "oom_kill");
}

void parse_pressure(std::string_view text, NodeSample& out) {
  for_each_line(text, [&](std::string_view line) {
    auto pos = line.find("total=");
    if (pos == std::string_view::npos) return;
    auto us = leading_u64(line.substr(pos + 6));
    if (!us) return;
    double seconds = static_cast<double>(*us) / 1e6;
    if (line.rfind("some ", 0) == 0)
      out.pressure_some_seconds = seconds;
    else if (line.rfind("full ", 0) == 0)
      out.pressure_full_seconds = seconds;
  });
}

NodeReader::NodeReader(std::filesystem::path proc_root) : root_(std::move(proc_root)) {}

NodeReadResult NodeReader::read() {
  NodeReadResult r;
  auto reread = [&](Fd& fd, const char* name, Records records) -> std::optional<std::string_view> {
    if (!fd) fd = Fd(open_ro(root_ / name));
    if (!fd) return std::nullopt;
    return pread_whole(fd.get(), buf_, records);
  };
  if (auto t = reread(meminfo_, "meminfo", Records::one)) parse_meminfo(*t, r.node);
  if (!r.node.mem_total) ++r.errors;
  if (auto t = reread(vmstat_, "vmstat", Records::many))
    r.node.oom_kills = parse_vmstat_oom_kill(*t);
  // PSI is absent on kernels without CONFIG_PSI or booted with psi=0: not an error.
  if (!pressure_absent_) {
    if (auto t = reread(pressure_, "pressure/memory", Records::one))
      parse_pressure(*t, r.node);
    else
      pressure_absent_ = !pressure_ && errno == ENOENT;
  }
  return r;
}

}  // namespace mobasher
