// GET /: a small HTML status page (the units table), rendered from the status JSON once per scan.
#pragma once

#include <nlohmann/json.hpp>
#include <string>

namespace mobasher {

std::string status_page(const nlohmann::json& status);

}  // namespace mobasher
