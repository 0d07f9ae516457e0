// The `status` command's table, rendered from the /api/v1/status JSON (local scan or running
// agent).
#pragma once

#include <nlohmann/json.hpp>
#include <string>

namespace mobasher {

// The ALERTS column: "ok", or the unit's firing alerts without the "MobasherUnit" prefix
// ("MemoryHigh,OOMKilled"), pending ones marked "?" ("MemoryHigh?").
std::string alert_column(const nlohmann::json& unit);
std::string status_table(const nlohmann::json& status);

}  // namespace mobasher
