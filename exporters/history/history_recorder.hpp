// What the daemon's scans leave in the history store: each scan's events (restarts, OOM kills)
// and alert transitions, and every history.interval one sample per unit and one of the node.
// It owns the store's writer for the run (a reload with other history settings makes a new one)
// and re-seeds the tracker from the store at start.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "agent/config/config.hpp"
#include "agent/state/alerts.hpp"
#include "agent/state/unit_tracker.hpp"
#include "exporters/history/history_writer.hpp"

namespace mobasher {

HistoryOptions history_options(const Config& c);  // dir: STATE_DIR/history

class HistoryRecorder {
 public:
  explicit HistoryRecorder(const Config& c);
  ~HistoryRecorder();  // syncs what is pending
  // A reload: other store options make a new writer (the old one syncs first).
  void reconfigure(const Config& c);

  // After units.json: what it lacks (growth samples; counters when it is missing or older) comes
  // from the history, so restarts_total and predictions do not start from zero.
  void seed(UnitTracker& tracker, const TrackerOptions& o) const;
  void record(const Snapshot& snap, const std::vector<Notification>& notes);
  void append(std::string line) { writer_->append(std::move(line)); }

  HistoryStatus status() const { return writer_->status(); }
  const std::filesystem::path& dir() const { return writer_->options().dir; }

 private:
  void record_samples(const Snapshot& snap);

  std::unique_ptr<HistoryWriter> writer_;
  Duration interval_, scan_interval_;
  WallTime next_sample_{};
};

}  // namespace mobasher
