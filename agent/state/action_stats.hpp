// What the restart actions did, for the metrics: counted by agent/actions, exported by
// exporters/http.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace mobasher {

// What the restart actions did (agent/actions/restarter.hpp); absent when actions are disabled.
struct ActionStats {
  std::map<std::vector<std::string>, uint64_t> total;  // {action, cause, result} -> count
  size_t in_flight = 0;
  bool bus_connected = false;
  size_t age_unknown = 0;  // units with max_age whose age could not be known: no age restart
};

}  // namespace mobasher
