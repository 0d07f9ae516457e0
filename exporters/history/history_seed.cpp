#include "exporters/history/history_seed.hpp"

#include <nlohmann/json.hpp>
#include <string_view>

namespace mobasher {

std::map<std::string, UnitSeed> read_seeds(const std::filesystem::path& dir, WallTime now,
                                           const SeedOptions& opts, HistoryReadStats* stats) {
  std::map<std::string, std::string> last_line;  // unit -> its newest sample, parsed at the end
  std::map<std::string, UnitSeed> seeds;
  const double window_start = unix_seconds(now) - static_cast<double>(opts.growth_window.count());
  const char* measure = to_string(opts.measure);  // also the sample's field name
  HistoryFilter f;
  f.since = now - opts.lookback;
  f.until = now;
  auto read = read_history(dir, f, [&](std::string_view line) {
    auto unit = record_unit(line);
    if (unit.empty()) return true;
    WallTime t;
    if (!record_time(line, t)) return true;
    double ts = unix_seconds(t);
    bool sample = line.find("\"type\":\"sample\"") != std::string_view::npos;
    if (!sample) {
      if (line.find("\"type\":\"restart\"") != std::string_view::npos)
        if (auto it = seeds.find(std::string(unit)); it != seeds.end()) it->second.samples.clear();
      return true;
    }
    last_line[std::string(unit)].assign(line);
    if (ts < window_start) return true;
    if (sample_number(line, "processes").value_or(0) == 0) return true;  // down: no sample
    if (auto bytes = sample_number(line, measure))
      seeds[std::string(unit)].samples.emplace_back(ts, *bytes);
    return true;
  });
  for (const auto& [unit, line] : last_line) {
    auto rec = nlohmann::json::parse(line, nullptr, false);
    WallTime t;
    if (!rec.is_object() || !record_time(line, t)) continue;
    UnitSeed& s = seeds[unit];
    s.last_seen = unix_seconds(t);
    if (auto r = rec.find("restarts"); r != rec.end() && r->is_object())
      for (const auto& [cause, n] : r->items()) {
        auto c = parse_enum<RestartCause>(cause);
        if (c && n.is_number_unsigned()) s.restarts[*c] = n.get<uint64_t>();
      }
    if (auto o = rec.find("oom_kills"); o != rec.end() && o->is_object()) {
      s.oom_total = o->value("total", uint64_t{0});
      s.oom_cgroup = o->value("cgroup", uint64_t{0});
      s.oom_generation = o->value("generation", uint64_t{0});
    }
  }
  if (stats) *stats = std::move(read);
  return seeds;
}

}  // namespace mobasher
