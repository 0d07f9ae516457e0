#include "exporters/history/history_record.hpp"

#include <algorithm>
#include <array>

#include "agent/base/quantities.hpp"

namespace mobasher {
namespace {

using ojson = nlohmann::ordered_json;

ojson head(std::string_view type, WallTime t, std::string_view unit) {
  ojson j;
  j["ts"] = format_rfc3339(t);
  j["type"] = type;
  if (!unit.empty()) j["unit"] = unit;
  return j;
}

std::string dump(const ojson& j) {
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

// The child worth naming: the largest ffmpeg, else the largest process that is not the main one.
const ProcessSample* top_child(const UnitSample& u) {
  const ProcessSample *ffmpeg = nullptr, *other = nullptr;
  for (const auto& p : u.processes) {
    if (p.main) continue;
    auto& best = p.comm.rfind("ffmpeg", 0) == 0 ? ffmpeg : other;
    if (!best || p.rss() > best->rss()) best = &p;
  }
  return ffmpeg ? ffmpeg : other;
}

}  // namespace

std::string history_unit_sample(const UnitSample& u, WallTime t) {
  ojson j = head("sample", t, u.unit);
  j["rss"] = u.rss();
  j["swap"] = u.swap();
  if (u.memory.usage) j["usage"] = *u.memory.usage;
  if (auto ws = u.memory.working_set()) j["working_set"] = *ws;
  j["limit"] = u.effective_limit();
  j["processes"] = u.processes.size();
  if (const ProcessSample* p = top_child(u))
    j["top"] = {{"pid", p->id.pid}, {"comm", p->comm}, {"rss", p->rss()}};
  ojson restarts = ojson::object();
  for (const auto& [cause, n] : u.restarts)
    if (n > 0) restarts[to_string(cause)] = n;
  if (!restarts.empty()) j["restarts"] = std::move(restarts);
  if (u.oom_kills_total > 0)
    j["oom_kills"] = {{"total", u.oom_kills_total},
                      {"cgroup", u.memory.oom_kills.value_or(0)},
                      {"generation", u.memory.generation}};
  return dump(j);
}

std::string history_node_sample(const NodeSample& n, WallTime t) {
  ojson j = head("sample", t, "");
  auto put = [&](const char* key, const std::optional<uint64_t>& v) {
    if (v) j[key] = *v;
  };
  put("mem_total", n.mem_total);
  put("mem_available", n.mem_available);
  put("swap_total", n.swap_total);
  put("swap_free", n.swap_free);
  return dump(j);
}

std::string history_event(std::string_view type, WallTime t, std::string_view unit,
                          const nlohmann::ordered_json& fields) {
  ojson j = head(type, t, unit);
  for (const auto& [k, v] : fields.items()) j[k] = v;
  return dump(j);
}

std::string history_unit_name(std::string_view unit) {
  static const std::array<std::string_view, 11> kSuffixes = {
      ".service", ".scope", ".slice",     ".socket", ".timer", ".mount",
      ".target",  ".path",  ".automount", ".swap",   ".device"};
  for (auto s : kSuffixes)
    if (unit.size() > s.size() && unit.substr(unit.size() - s.size()) == s)
      return std::string(unit);
  return std::string(unit) + ".service";
}

}  // namespace mobasher
