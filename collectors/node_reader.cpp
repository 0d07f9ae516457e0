#include "collectors/node_reader.hpp"

#include <charconv>

#include "collectors/cgroup_reader.hpp"
#include "collectors/proc_reader.hpp"

namespace mobasher {
namespace {

template <typename F>
void for_each_line(std::string_view text, F&& f) {
  while (!text.empty()) {
    size_t nl = text.find('\n');
    f(text.substr(0, nl));
    text.remove_prefix(nl == std::string_view::npos ? text.size() : nl + 1);
  }
}

std::optional<uint64_t> kb_value(std::string_view line) {
  size_t colon = line.find(':');
  if (colon == std::string_view::npos) return std::nullopt;
  std::string_view rest = line.substr(colon + 1);
  size_t b = rest.find_first_not_of(" \t");
  if (b == std::string_view::npos) return std::nullopt;
  rest.remove_prefix(b);
  uint64_t v = 0;
  auto [p, ec] = std::from_chars(rest.data(), rest.data() + rest.size(), v);
  if (ec != std::errc()) return std::nullopt;
  (void)p;
  return v * 1024;
}

}  // namespace

void parse_meminfo(std::string_view text, NodeSample& out) {
  for_each_line(text, [&](std::string_view line) {
    auto key = line.substr(0, line.find(':'));
    if (key == "MemTotal")
      out.mem_total = kb_value(line);
    else if (key == "MemAvailable")
      out.mem_available = kb_value(line);
    else if (key == "SwapTotal")
      out.swap_total = kb_value(line);
    else if (key == "SwapFree")
      out.swap_free = kb_value(line);
  });
}

std::optional<uint64_t> parse_vmstat_oom_kill(std::string_view text) {
  return parse_keyed_value(text, "oom_kill");
}

void parse_pressure(std::string_view text, NodeSample& out) {
  for_each_line(text, [&](std::string_view line) {
    auto pos = line.find("total=");
    if (pos == std::string_view::npos) return;
    std::string_view num = line.substr(pos + 6);
    uint64_t us = 0;
    auto [p, ec] = std::from_chars(num.data(), num.data() + num.size(), us);
    if (ec != std::errc()) return;
    (void)p;
    double seconds = static_cast<double>(us) / 1e6;
    if (line.rfind("some ", 0) == 0)
      out.pressure_some_seconds = seconds;
    else if (line.rfind("full ", 0) == 0)
      out.pressure_full_seconds = seconds;
  });
}

NodeReadResult read_node(const std::filesystem::path& proc_root) {
  NodeReadResult r;
  if (auto t = read_small_file(proc_root / "meminfo")) parse_meminfo(*t, r.node);
  if (!r.node.mem_total) ++r.errors;
  if (auto t = read_small_file(proc_root / "vmstat", Records::many))
    r.node.oom_kills = parse_vmstat_oom_kill(*t);
  // PSI is absent on kernels without CONFIG_PSI or booted with psi=0: not an error.
  if (auto t = read_small_file(proc_root / "pressure" / "memory")) parse_pressure(*t, r.node);
  return r;
}

}  // namespace mobasher
