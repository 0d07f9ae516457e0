// The `status` command's table, rendered from the /api/v1/status JSON (local scan or running
// agent).
#pragma once

#include <nlohmann/json.hpp>
#include <string>

namespace mobasher {

// "ok", "warning" or "critical" from the unit's rss and its thresholds.
std::string memory_level(const nlohmann::json& unit);
std::string status_table(const nlohmann::json& status);

}  // namespace mobasher
