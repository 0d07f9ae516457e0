// One scan through the stages every caller shares: the daemon, `once`, `status --local` and the
// tests. collect (Scanner) -> systemd's view (Restarter::annotate) -> track (UnitTracker: the
// scan's events) -> act (Restarter::act) -> alerts (AlertEvaluator). What a scan leaves behind
// (metrics, history, notifications, logs) is the callers' outputs, fed from the ScanStep.
#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "agent/actions/restarter.hpp"
#include "agent/app/cli.hpp"
#include "agent/config/config.hpp"
#include "agent/state/alerts.hpp"
#include "agent/state/unit_tracker.hpp"
#include "collectors/scanner.hpp"

namespace mobasher {

// What a run is made of: the config as the flags amend it (--listen, --state-dir, --dry-run win
// over the file), the roots to read from, the tracker's options.
Config apply_flags(Config c, const CliOptions& cli);
ScannerOptions scanner_options(const CliOptions& cli);
TrackerOptions tracker_options(const Config& c);
std::string host_name();  // gethostname(), "localhost" if it fails

struct ScanStep {
  std::shared_ptr<Snapshot> snapshot;  // with its events (Snapshot::events)
  std::vector<Notification> notes;     // alert transitions and repeats of this scan
};

class Pipeline {
 public:
  // host: the alerts' instance label unless alerts.instance is set.
  Pipeline(ScannerOptions scan, const Config& c, std::string host);
  // SIGHUP: a new scanner for the new groups and layout; tracker and alerts keep their state.
  void reconfigure(const Config& c);

  // One scan at (wall, steady). `restarter` (the daemon's actions; null for `once`, `status
  // --local`) annotates the snapshot before the tracker and acts on it after.
  ScanStep step(actions::Restarter* restarter, WallTime wall,
                std::chrono::steady_clock::time_point steady);
  ScanStep step(actions::Restarter* restarter = nullptr) {
    return step(restarter, WallClock::now(), std::chrono::steady_clock::now());
  }

  UnitTracker& tracker() { return tracker_; }
  AlertEvaluator& alerts() { return alerts_; }
  const Scanner& scanner() const { return *scanner_; }
  const ScannerOptions& scanner_options() const { return scan_; }

 private:
  ScannerOptions scan_;
  std::string host_;
  std::unique_ptr<Scanner> scanner_;
  UnitTracker tracker_;
  AlertEvaluator alerts_;
};

}  // namespace mobasher
