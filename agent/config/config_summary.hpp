// What `check-config` prints: the effective config (the file's keys over the built-in plan) in a
// few lines, one per group, so an operator sees what the agent will watch before reloading it.
#pragma once

#include <string>

#include "agent/config/config.hpp"

namespace mobasher {

// "config ok: SOURCE: listen …, scan every …, N group(s)\n" then one line per group, or
// "  no groups: watching no units\n".
std::string config_summary(const Config& c);

}  // namespace mobasher
