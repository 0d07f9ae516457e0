#include "agent/app/pipeline.hpp"

#include <unistd.h>

namespace mobasher {

Config apply_flags(Config c, const CliOptions& cli) {
  if (cli.listen) c.listen = *cli.listen;
  if (cli.state_dir) c.state_dir = *cli.state_dir;
  if (cli.dry_run) c.actions.dry_run = true;
  return c;
}

ScannerOptions scanner_options(const CliOptions& cli) {
  ScannerOptions o;
  if (cli.proc_root) o.proc_root = *cli.proc_root;
  if (cli.cgroup_root) o.cgroup_root = *cli.cgroup_root;
  return o;
}

std::string host_name() {
  char buf[256] = {};
  if (::gethostname(buf, sizeof buf - 1) != 0 || buf[0] == 0) return "localhost";
  return buf;
}

TrackerOptions tracker_options(const Config& c) {
  TrackerOptions o;
  o.measure = c.measure;
  return o;
}

Pipeline::Pipeline(ScannerOptions scan, const Config& c, std::string host)
    : scan_(std::move(scan)),
      host_(std::move(host)),
      scanner_(std::make_unique<Scanner>(scan_, c)),
      tracker_(tracker_options(c)),
      alerts_(alert_settings(c, host_)) {}

void Pipeline::reconfigure(const Config& c) {
  scanner_ = std::make_unique<Scanner>(scan_, c);
  tracker_.set_options(tracker_options(c));
  alerts_.set_settings(alert_settings(c, host_));
}

ScanStep Pipeline::step(actions::Restarter* restarter, WallTime wall,
                        std::chrono::steady_clock::time_point steady) {
  ScanStep out;
  out.snapshot = std::make_shared<Snapshot>(scanner_->scan(wall, steady));
  Snapshot& snap = *out.snapshot;
  if (restarter) restarter->annotate(snap);
  tracker_.apply(snap);
  if (restarter) restarter->act(snap, tracker_);
  out.notes = alerts_.evaluate(snap);
  return out;
}

}  // namespace mobasher
