// Snapshot -> the JSON of GET /api/v1/status (and `status --local`), per unit with per-PID detail.
#pragma once

#include <nlohmann/json.hpp>

#include "agent/base/snapshot.hpp"

namespace mobasher {

nlohmann::json status_json(const Snapshot& snap, const std::string& version);

}  // namespace mobasher
