// One receiver's on-disk outbox: every notification is a file STATE_DIR/outbox/RECEIVER/SEQ.json,
// written and fsynced before delivery is tried and removed once the receiver took it. Survives a
// receiver outage and an agent crash; bounded (the oldest are dropped, and counted).
#pragma once

#include <cstdint>
#include <deque>
#include <filesystem>
#include <functional>
#include <string>
#include <vector>

#include "agent/state/alerts.hpp"

namespace mobasher {

class Outbox {
 public:
  struct Entry {
    uint64_t seq = 0;
    Notification n;
    bool on_disk = false;  // false when the file could not be written (kept in memory)
  };
  struct Problem {
    std::string file, error, kept_as;  // kept_as empty when it could not be set aside
  };

  // dir is created if missing; nothing is read until load().
  Outbox(std::filesystem::path dir, size_t max_entries);

  // Reads what an earlier run left, oldest first. Unreadable files are renamed *.corrupt (never
  // deleted) and reported; at most kKeepSetAside set-aside files are kept.
  std::vector<Problem> load();
  // How many of the oldest load() removed because more than max_entries were on disk.
  size_t dropped_at_load() const { return dropped_at_load_; }

  // Appends n. A repeat is not added while a firing notification of the same alert waits or is
  // in flight; a firing or resolved one replaces queued repeats of its alert (but not the head
  // when it is in flight). On overflow the oldest entries go; returns how many. err: the file
  // could not be written (the entry is kept in memory).
  size_t push(Notification n, bool head_in_flight, std::string& err);

  const Entry* front() const { return entries_.empty() ? nullptr : &entries_.front(); }
  // The head was delivered (or rejected: then its file is kept as SEQ.rejected for inspection,
  // and that path is returned; empty when nothing was kept).
  std::string pop_front(bool keep_as_rejected = false);
  size_t size() const { return entries_.size(); }
  const std::filesystem::path& dir() const { return dir_; }

  static constexpr size_t kKeepSetAside = 100;

 private:
  std::filesystem::path file_of(uint64_t seq, const char* ext = ".json") const;
  void erase_file(const Entry& e);
  void trim_set_aside();

  std::filesystem::path dir_;
  size_t max_;
  std::deque<Entry> entries_;
  uint64_t next_seq_ = 1;
  size_t dropped_at_load_ = 0;
};

}  // namespace mobasher
