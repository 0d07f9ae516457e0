#include "exporters/history/history_recorder.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>

#include "exporters/history/history_record.hpp"
#include "exporters/history/history_seed.hpp"

namespace mobasher {

HistoryOptions history_options(const Config& c) {
  HistoryOptions o;
  o.dir = std::filesystem::path(c.state_dir) / "history";
  o.max_file_size = c.history.max_file_size;
  o.max_files = c.history.max_files;
  o.max_age = std::chrono::duration_cast<std::chrono::seconds>(c.history.max_age);
  o.max_total_size = c.history.max_total_size;
  return o;
}

HistoryRecorder::HistoryRecorder(const Config& c)
    : writer_(std::make_unique<HistoryWriter>(history_options(c))),
      interval_(c.history.interval),
      scan_interval_(c.scan_interval) {}

HistoryRecorder::~HistoryRecorder() = default;

void HistoryRecorder::reconfigure(const Config& c) {
  interval_ = c.history.interval;
  scan_interval_ = c.scan_interval;
  if (history_options(c) == writer_->options()) return;
  writer_.reset();  // syncs what is pending before the new one recovers the directory
  writer_ = std::make_unique<HistoryWriter>(history_options(c));
}

void HistoryRecorder::seed(UnitTracker& tracker, const TrackerOptions& o) const {
  SeedOptions so;
  so.growth_window = o.growth_window;
  so.measure = o.measure;
  HistoryReadStats read;
  const WallTime now = WallClock::now();
  const double boot_minus_wall = boot_clock_seconds() - unix_seconds(now);
  auto seeds = read_seeds(dir(), now, so, &read);
  for (const auto& [unit, s] : seeds) tracker.seed(unit, s, boot_minus_wall);
  for (const auto& e : read.errors) spdlog::warn("history unreadable {}", e);
  spdlog::info("history read units={} files={} records={} bad_records={}", seeds.size(), read.files,
               read.matched, read.bad_lines);
}

void HistoryRecorder::record(const Snapshot& snap, const std::vector<Notification>& notes) {
  for (const auto& e : snap.events) {
    if (e.kind == UnitEvent::Kind::restart)
      append(history_event("restart", snap.taken_at, e.unit,
                           {{"cause", to_string(e.cause)}, {"total", e.total}}));
    else if (e.kind == UnitEvent::Kind::oom_kill)
      append(history_event("oom_kill", snap.taken_at, e.unit,
                           {{"increase", e.increase}, {"total", e.total}}));
  }
  for (const auto& n : notes) {
    if (n.kind == NotificationKind::repeat) continue;
    auto unit = n.labels.find("unit");
    append(
        history_event(n.status() == NotificationStatus::firing ? "alert_firing" : "alert_resolved",
                      snap.taken_at, unit == n.labels.end() ? "" : unit->second,
                      {{"alert", n.alertname},
                       {"severity", n.labels.at("severity")},
                       {"value", n.value},
                       {"threshold", n.threshold}}));
  }
  record_samples(snap);
}

// Every history.interval one sample per unit and one of the node.
void HistoryRecorder::record_samples(const Snapshot& snap) {
  // Not due yet; but a clock stepped back by more than an interval must not stop the samples.
  if (snap.taken_at < next_sample_ && next_sample_ - snap.taken_at <= interval_) return;
  for (const auto& u : snap.units) append(history_unit_sample(u, snap.taken_at));
  append(history_node_sample(snap.node, snap.taken_at));
  // Half a scan early counts as due: 15 s at 5 s scans stays 15 s instead of 15 or 20.
  next_sample_ = snap.taken_at + interval_ - std::min(interval_, scan_interval_) / 2;
}

}  // namespace mobasher
