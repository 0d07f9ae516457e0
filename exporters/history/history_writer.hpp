// The history store's writer: JSON Lines in DIR/current.jsonl, appended with O_APPEND by a
// thread of its own and fsynced per batch (a batch at least every sync_interval), rotated by
// size and age into DIR/history-YYYYMMDDTHHMMSSZ.jsonl.gz (zlib gzip; the time is the file's
// first record), with retention by count, age and total size. append() never does I/O, so the
// scan loop never waits for the disk.
//
// Crash safety: on start a torn last line of current.jsonl (no '\n' after it, from a crash in
// the middle of a write) is cut off and counted; an interrupted rotation is finished. A failed
// write (disk full, read-only directory) is undone (the file is truncated back to its last
// whole line), the batch stays pending (bounded by max_pending_bytes, oldest dropped and
// counted) and is retried every sync_interval, so the store resumes when space returns.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <filesystem>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "agent/base/snapshot.hpp"

namespace mobasher {

struct HistoryOptions {
  std::filesystem::path dir;                 // STATE_DIR/history; created when missing
  uint64_t max_file_size = 32ull << 20;      // current.jsonl rotates when it reaches this
  int max_files = 30;                        // rotated files kept (newest)
  std::chrono::seconds max_age{30 * 86400};  // rotated files whose last record is older go
  uint64_t max_total_size = 512ull << 20;    // all files together; the oldest go first
  std::chrono::milliseconds sync_interval{2000};
  size_t max_pending_bytes = 4u << 20;  // records waiting for a working disk
  // current.jsonl also rotates when its first record is older than max_age / max_files (a day
  // with the defaults), so that max_files rotated files cover max_age.
  std::chrono::seconds rotate_age() const;
  bool operator==(const HistoryOptions&) const = default;
};

struct HistoryStatus {
  uint64_t bytes = 0;  // every history file on disk, as last listed
  size_t files = 0;
  uint64_t records_written = 0;  // synced
  uint64_t records_dropped = 0;  // pending ones dropped because max_pending_bytes was reached
  uint64_t torn_lines = 0;       // torn last lines cut off at start
  uint64_t write_errors = 0;     // failed write/fsync/rotation attempts
  size_t pending = 0;            // records waiting to be written
  std::string error;             // the last failure, "" once a write succeeds again
  WallTime error_since{};        // when the current failure began
};

class HistoryWriter {
 public:
  using Clock = std::function<WallTime()>;
  // Recovers the directory, then starts the writer thread. I/O errors never throw: they are
  // reported in status() (and logged once per distinct error).
  explicit HistoryWriter(
      HistoryOptions o, Clock clock = [] { return WallClock::now(); });
  ~HistoryWriter();  // writes and syncs what is pending (at most ~2 s), then stops the thread
  HistoryWriter(const HistoryWriter&) = delete;
  HistoryWriter& operator=(const HistoryWriter&) = delete;

  // One record: a JSON object on one line, without the '\n'. Thread-safe, O(1), no I/O.
  void append(std::string line);
  HistoryStatus status() const;
  // Waits until everything appended before the call is synced (true) or a write failed / the
  // timeout passed (false). For tests and shutdown; never called on the scan loop.
  bool flush(std::chrono::milliseconds timeout);
  const HistoryOptions& options() const { return opts_; }

 private:
  void run();
  void close_failed();
  // Writer-thread I/O (and the constructor's, before the thread starts); mu_ is not held.
  bool open_current(std::string& err);  // opens current.jsonl, cutting a torn tail
  bool cut_torn_tail(int fd, const std::filesystem::path& path, uint64_t size, uint64_t good,
                     uint64_t content_end);
  void close_current();
  bool write_batch(const std::string& buf, WallTime now, std::string& err);
  bool needs_rotation(WallTime now) const;
  void rotate(WallTime now);
  void tidy(WallTime now);  // compresses plain rotated files, removes *.tmp, applies retention
  struct Rotated;
  std::vector<Rotated> list_rotated() const;
  void finish_rotations(std::vector<Rotated>& files);
  void apply_retention(const std::vector<Rotated>& order, WallTime now);
  bool compress(const std::filesystem::path& plain, std::string& err);
  void fail(const std::string& err);  // records (and logs once) a failed attempt
  void publish_sizes();               // status_.bytes/files from the cached totals
  // Implementation state (owned by the writer thread unless noted) is the implementer's.
  HistoryOptions opts_;
  Clock clock_;
  mutable std::mutex mu_;  // guards pending_, pending_bytes_, status_, seq counters, stop_
  std::condition_variable cv_, synced_cv_;
  std::deque<std::string> pending_;
  size_t pending_bytes_ = 0;
  uint64_t appended_seq_ = 0, synced_seq_ = 0;
  bool stop_ = false, flush_requested_ = false;
  HistoryStatus status_;
  int fd_ = -1;
  uint64_t good_size_ = 0;  // bytes of current.jsonl that end with a whole line
  // Kept when a failed batch had to close the file: on reopen it is cut back to exactly this
  // (a partial batch may have written whole lines that will be written again).
  bool known_valid_ = false;
  uint64_t known_ino_ = 0, known_size_ = 0;
  std::string current_first_ts_;  // ts of its first record, "" when empty
  uint64_t rotated_bytes_ = 0;    // the rotated files as tidy() last listed them
  size_t rotated_files_ = 0;
  bool tidy_pending_ = false;  // a rotation happened: compress and apply retention
  std::string logged_error_;   // the last error logged, so each distinct one logs once
  // Guarded by mu_: the batch being written (seqs up to inflight_end_), pending records of it
  // append() dropped (counted as dropped only if the write fails), flush() requests numbered and
  // the last one a failed attempt covered (flush returns false once its request failed).
  uint64_t inflight_end_ = 0, dropped_inflight_ = 0, flush_ticket_ = 0, failed_ticket_ = 0;
  std::thread thread_;
};

}  // namespace mobasher
