#include "exporters/http/status_table.hpp"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <sstream>
#include <vector>

#include "agent/base/quantities.hpp"
#include "agent/state/alert_rules.hpp"

namespace mobasher {
namespace {

std::string age_text(const nlohmann::json& v) {
  return v.is_number() ? format_seconds(v.get<double>()) : "-";
}

}  // namespace

std::string alert_column(const nlohmann::json& u) {
  std::string out;
  if (!u.contains("alerts") || !u["alerts"].is_object()) return "-";
  for (const auto& [name, phase] : u["alerts"].items()) {
    bool pending = phase == to_string(AlertPhase::pending);
    if (!pending && phase != to_string(AlertPhase::firing)) continue;
    std::string shown = name.rfind("MobasherUnit", 0) == 0 ? name.substr(12) : name;
    out += (out.empty() ? "" : ",") + shown + (pending ? "?" : "");
  }
  return out.empty() ? "ok" : out;
}

bool limit_enforced(const nlohmann::json& u) {
  return u.value("limit_enforced", true);
}

bool any_limit_not_enforced(const nlohmann::json& units) {
  return std::any_of(units.begin(), units.end(),
                     [](const nlohmann::json& u) { return !limit_enforced(u); });
}

std::string limit_column(const nlohmann::json& u) {
  return format_bytes(u.value("limit_bytes", uint64_t{0})) + (limit_enforced(u) ? "" : "*");
}

Tone unit_tone(const nlohmann::json& u) {
  bool warning = false;
  if (u.contains("alerts") && u["alerts"].is_object()) {
    for (const auto& [name, phase] : u["alerts"].items()) {
      if (phase != to_string(AlertPhase::firing)) continue;
      if (alert_severity(name) == Severity::critical) return Tone::critical;
      warning = true;
    }
  }
  uint64_t warn = u.value("warning_bytes", uint64_t{0});
  if (warning || (warn > 0 && u.value("rss_bytes", uint64_t{0}) >= warn)) return Tone::warning;
  if (!u.value("up", true)) return Tone::down;
  return Tone::plain;
}

std::string_view tone_code(Tone t) {
  switch (t) {
    case Tone::critical:
      return ansi::red;
    case Tone::warning:
      return ansi::yellow;
    case Tone::down:
      return ansi::dim;
    case Tone::plain:
      break;
  }
  return "";
}

size_t visible_width(std::string_view s) {
  size_t n = 0;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '\033' && i + 1 < s.size() && s[i + 1] == '[') {
      i += 2;  // CSI: parameters up to the final byte (0x40-0x7e)
      while (i < s.size() && !(s[i] >= 0x40 && s[i] <= 0x7e)) ++i;
      continue;
    }
    // UTF-8: count lead bytes only (unit names are ASCII; comm may not be).
    if ((static_cast<unsigned char>(s[i]) & 0xc0) != 0x80) ++n;
  }
  return n;
}

std::string printable(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (char c : s) {
    auto b = static_cast<unsigned char>(c);
    if (b >= 0x20 && b != 0x7f) {
      out += c;
      continue;
    }
    static constexpr char kHex[] = "0123456789abcdef";
    out += "\\x";
    out += kHex[b >> 4];
    out += kHex[b & 0xf];
  }
  return out;
}

bool color_enabled(std::string_view mode, bool stdout_is_tty, const char* no_color,
                   const char* term) {
  if (mode == "always") return true;
  if (mode == "never") return false;
  return stdout_is_tty && (!no_color || !*no_color) && !(term && std::string_view(term) == "dumb");
}

std::string status_table(const nlohmann::json& st) {
  return status_table(st, false);
}

std::string status_table(const nlohmann::json& st, bool color) {
  std::vector<Tone> tones = {Tone::plain};
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
                    format_bytes(u.value("swap_bytes", uint64_t{0})), limit_column(u), pct,
                    age_text(u["age_seconds"]), std::to_string(restarts),
                    std::to_string(u.value("oom_kills_total", uint64_t{0})), alert_column(u)});
    for (auto& cell : rows.back()) cell = printable(cell);
    tones.push_back(unit_tone(u));
  }
  std::vector<size_t> width(rows[0].size(), 0);
  for (const auto& r : rows)
    for (size_t i = 0; i < r.size(); ++i) width[i] = std::max(width[i], visible_width(r[i]));
  std::ostringstream out;
  for (size_t row = 0; row < rows.size(); ++row) {
    const auto& r = rows[row];
    // The whole row in one colour: the codes sit outside the padded cells, so columns align.
    std::string_view code = !color ? "" : row == 0 ? ansi::bold : tone_code(tones[row]);
    out << code;
    for (size_t i = 0; i < r.size(); ++i) {
      out << r[i];
      if (i + 1 < r.size()) out << std::string(width[i] - visible_width(r[i]) + 2, ' ');
    }
    out << (code.empty() ? "" : ansi::reset) << "\n";
  }
  if (any_limit_not_enforced(st.at("units"))) out << kNoLimitLegend << "\n";
  if (st.at("units").empty())
    out << "(no archiver/recorder units found; cgroup layout: " << st.value("cgroup_layout", "?")
        << ")\n";
  return out.str();
}

}  // namespace mobasher
