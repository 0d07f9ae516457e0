// GET /: the status page, exporters/assets/status.html (embedded at build time: inline CSS and
// JS, no external requests) with the units table rendered from the status JSON once per scan, so
// the page shows the units without JavaScript; its script then redraws cards and 24 h charts.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

namespace mobasher {

// Where status_page() puts the server-rendered units in the asset.
inline constexpr std::string_view kStatusPageUnitsPlaceholder = "<!--MOBASHER_UNITS-->";

std::string status_page(const nlohmann::json& status);

}  // namespace mobasher
