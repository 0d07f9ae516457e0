// The log lines a scan's outcome deserves: units found or none, each unit event the tracker
// decided (appeared, vanished, restart with cause, OOM kill) and each alert transition.
#pragma once

#include <string>
#include <vector>

#include "agent/config/config.hpp"
#include "agent/state/alerts.hpp"

namespace mobasher {

class EventLog {
 public:
  // cgroup_root: where discovery looks, named when no unit is found.
  void log(const Snapshot& snap, const std::vector<Notification>& notes, const Config& c,
           const std::string& cgroup_root);

 private:
  bool first_ = true, had_units_ = false;
};

}  // namespace mobasher
