#include "exporters/http/status_page.hpp"

#include <sstream>

#include "status_page_asset.hpp"  // generated from exporters/assets/status.html

#include "agent/base/quantities.hpp"
#include "agent/state/alert_rules.hpp"
#include "exporters/http/status_table.hpp"

namespace mobasher {
namespace {

std::string escape(const std::string& s) {
  std::string out;
  for (char c : s) {
    switch (c) {
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '&':
        out += "&amp;";
        break;
      case '"':
        out += "&quot;";
        break;
      default:
        out += c;
    }
  }
  return out;
}

// The row's colour: the most severe of the unit's firing alerts.
std::string row_class(const nlohmann::json& u) {
  std::string cls;
  if (!u.contains("alerts")) return cls;
  for (const auto& [name, phase] : u["alerts"].items()) {
    if (phase != to_string(AlertPhase::firing)) continue;
    Severity s = alert_severity(name);
    cls = to_string(s);
    if (s == Severity::critical) break;
  }
  return cls;
}

// "2.00GiB*", with the legend's meaning on hover.
std::string limit_cell(const nlohmann::json& u) {
  if (limit_enforced(u)) return "<td>" + limit_column(u) + "</td>";
  return "<td title=\"no limit: configured " + format_bytes(u.value("limit_bytes", uint64_t{0})) +
         "\">" + limit_column(u) + "</td>";
}

}  // namespace

std::string status_page(const nlohmann::json& st) {
  std::ostringstream h;
  h << "<p class=\"meta\" id=\"meta\">version " << escape(st.value("version", ""))
    << " &middot; cgroup layout " << escape(st.value("cgroup_layout", "")) << " &middot; last scan "
    << escape(st.value("taken_at", ""))
    << " &middot; <a href=\"metrics\">metrics</a> &middot; <a href=\"api/v1/status\">status "
       "JSON</a> &middot; <a href=\"healthz\">health</a></p><div id=\"units\">";
  if (st.at("units").empty()) {
    h << "<p>No archiver/recorder units found.</p>";
  } else {
    h << "<table><tr><th>unit</th><th>processes</th><th>RSS</th><th>swap</th><th>limit</th>"
         "<th>% of limit</th><th>alerts</th></tr>";
    for (const auto& u : st.at("units")) {
      char pct[16];
      std::snprintf(pct, sizeof pct, "%.1f%%", u.value("percent_of_limit", 0.0));
      h << "<tr class=\"" << row_class(u) << "\"><td>" << escape(u.value("unit", "")) << "</td><td>"
        << u.at("processes").size() << "</td><td>"
        << format_bytes(u.value("rss_bytes", uint64_t{0})) << "</td><td>"
        << format_bytes(u.value("swap_bytes", uint64_t{0})) << "</td>" << limit_cell(u) << "<td>"
        << pct << "</td><td>" << escape(alert_column(u)) << "</td></tr>";
    }
    h << "</table>";
    if (any_limit_not_enforced(st.at("units")))
      h << "<p class=\"legend\" id=\"nolimit-legend\">" << escape(std::string(kNoLimitLegend))
        << "</p>";
  }
  h << "</div>";
  std::string units = h.str();
  auto at = kStatusPageAsset.find(kStatusPageUnitsPlaceholder);
  if (at == std::string_view::npos) return std::string(kStatusPageAsset);  // never: tests see it
  std::string page;
  page.reserve(kStatusPageAsset.size() + units.size());
  page.append(kStatusPageAsset.substr(0, at)).append(units);
  page.append(kStatusPageAsset.substr(at + kStatusPageUnitsPlaceholder.size()));
  return page;
}

}  // namespace mobasher
