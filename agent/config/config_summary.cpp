#include "agent/config/config_summary.hpp"

#include <sstream>

namespace mobasher {
namespace {

// "1.50GiB", or "95% (1.90GiB)" for a share of the group's memory_limit.
std::string size_of_limit(const Size& s, uint64_t limit) {
  if (!s.percent) return format_bytes(s.bytes);
  std::ostringstream out;
  out << *s.percent << "% (" << format_bytes(s.resolve(limit)) << ")";
  return out.str();
}

std::string duration_or_off(const std::optional<Duration>& d) {
  return d ? format_duration(*d) : "off";
}

std::string what_it_watches(const GroupConfig& g) {
  if (!g.match) return "units " + g.units;
  std::string out = "match";
  if (g.match->comm) out += " comm \"" + g.match->comm_pattern + "\"";
  if (g.match->cmdline) out += " cmdline \"" + g.match->cmdline_pattern + "\"";
  return out;
}

std::string group_line(const GroupConfig& g) {
  const RestartPolicy& r = g.restart;
  return "  " + g.name + ": " + what_it_watches(g) + ", memory_limit " +
         format_bytes(g.memory_limit) + ", warn " + size_of_limit(g.warn, g.memory_limit) +
         ", critical " + size_of_limit(g.critical, g.memory_limit) + "; restart on_memory " +
         (r.on_memory ? size_of_limit(*r.on_memory, g.memory_limit) : "off") + " for " +
         format_duration(r.for_duration) + ", max_age " + duration_or_off(r.max_age) +
         ", predict " + duration_or_off(r.predict) + ", predict_window " +
         format_duration(r.predict_window) + "\n";
}

}  // namespace

std::string config_summary(const Config& c) {
  std::string out = "config ok: " + c.source + ": listen " + c.listen + ", scan every " +
                    format_duration(c.scan_interval) + ", " + std::to_string(c.groups.size()) +
                    " group(s)\n";
  for (const auto& g : c.groups) out += group_line(g);
  if (c.groups.empty()) out += "  no groups: watching no units\n";
  return out;
}

}  // namespace mobasher
