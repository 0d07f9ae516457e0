#include "agent/status_table.hpp"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <sstream>
#include <vector>

#include "agent/quantities.hpp"

namespace mobasher {
namespace {

std::string age_text(const nlohmann::json& v) {
  if (!v.is_number()) return "-";
  auto s = static_cast<int64_t>(v.get<double>());
  char buf[32];
  if (s >= 86400)
    std::snprintf(buf, sizeof buf, "%lldd%02lldh", (long long)(s / 86400),
                  (long long)(s % 86400 / 3600));
  else if (s >= 3600)
    std::snprintf(buf, sizeof buf, "%lldh%02lldm", (long long)(s / 3600),
                  (long long)(s % 3600 / 60));
  else
    std::snprintf(buf, sizeof buf, "%lldm%02llds", (long long)(s / 60), (long long)(s % 60));
  return buf;
}

}  // namespace

std::string alert_column(const nlohmann::json& u) {
  std::string out;
  if (!u.contains("alerts") || !u["alerts"].is_object()) return "-";
  for (const auto& [name, phase] : u["alerts"].items()) {
    if (phase != "firing" && phase != "pending") continue;
    std::string shown = name.rfind("MobasherUnit", 0) == 0 ? name.substr(12) : name;
    out += (out.empty() ? "" : ",") + shown + (phase == "pending" ? "?" : "");
  }
  return out.empty() ? "ok" : out;
}

std::string status_table(const nlohmann::json& st) {
  std::vector<std::vector<std::string>> rows = {{"UNIT", "CHANNEL", "PIDS", "RSS", "SWAP", "LIMIT",
                                                 "%LIMIT", "AGE", "RESTARTS", "OOM", "ALERTS"}};
  for (const auto& u : st.at("units")) {
    std::string pids;
    for (const auto& p : u.at("processes")) {
      if (!pids.empty()) pids += ",";
      pids += std::to_string(p.at("pid").get<int>());
    }
    if (pids.empty()) pids = "-";
    uint64_t restarts = 0;
    for (const auto& [k, v] : u.at("restarts").items()) restarts += v.get<uint64_t>();
    char pct[16];
    std::snprintf(pct, sizeof pct, "%.1f%%", u.value("percent_of_limit", 0.0));
    rows.push_back({u.value("unit", ""), u.value("channel", ""), pids,
                    format_bytes(u.value("rss_bytes", uint64_t{0})),
                    format_bytes(u.value("swap_bytes", uint64_t{0})),
                    format_bytes(u.value("limit_bytes", uint64_t{0})), pct,
                    age_text(u["age_seconds"]), std::to_string(restarts),
                    std::to_string(u.value("oom_kills_total", uint64_t{0})), alert_column(u)});
  }
  std::vector<size_t> width(rows[0].size(), 0);
  for (const auto& r : rows)
    for (size_t i = 0; i < r.size(); ++i) width[i] = std::max(width[i], r[i].size());
  std::ostringstream out;
  for (const auto& r : rows) {
    for (size_t i = 0; i < r.size(); ++i) {
      out << r[i];
      if (i + 1 < r.size()) out << std::string(width[i] - r[i].size() + 2, ' ');
    }
    out << "\n";
  }
  if (st.at("units").empty())
    out << "(no archiver/recorder units found; cgroup layout: " << st.value("cgroup_layout", "?")
        << ")\n";
  return out.str();
}

}  // namespace mobasher
