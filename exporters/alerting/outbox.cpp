#include "exporters/alerting/outbox.hpp"

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <sstream>

#include "agent/base/atomic_file.hpp"

namespace mobasher {
namespace fs = std::filesystem;

namespace {

// "00000000000000000042.json" -> 42; anything else is not an outbox entry.
std::optional<uint64_t> seq_of(const fs::path& p, const char* ext) {
  std::string name = p.filename().string(), e = ext;
  if (name.size() != 20 + e.size() || name.compare(20, e.size(), e) != 0) return std::nullopt;
  uint64_t v = 0;
  for (size_t i = 0; i < 20; ++i) {
    if (name[i] < '0' || name[i] > '9') return std::nullopt;
    v = v * 10 + static_cast<uint64_t>(name[i] - '0');
  }
  return v;
}

}  // namespace

Outbox::Outbox(fs::path dir, size_t max_entries) : dir_(std::move(dir)), max_(max_entries) {
  std::error_code ec;
  fs::create_directories(dir_, ec);
}

fs::path Outbox::file_of(uint64_t seq, const char* ext) const {
  char name[32];
  std::snprintf(name, sizeof name, "%020llu", static_cast<unsigned long long>(seq));
  return dir_ / (std::string(name) + ext);
}

std::vector<Outbox::Problem> Outbox::load() {
  std::vector<Problem> problems;
  std::vector<std::pair<uint64_t, fs::path>> files;
  std::error_code ec;
  for (fs::directory_iterator it(dir_, ec), end; !ec && it != end; it.increment(ec)) {
    const fs::path& p = it->path();
    for (const char* ext : {".json", ".corrupt", ".rejected"})
      if (auto s = seq_of(p, ext)) {
        next_seq_ = std::max(next_seq_, *s + 1);  // never reuse the number of a set-aside file
        if (std::string(ext) == ".json") files.emplace_back(*s, p);
      }
    if (p.extension() == ".tmp") fs::remove(p, ec);  // a write the crash interrupted
  }
  std::sort(files.begin(), files.end());
  entries_.clear();
  for (const auto& [seq, path] : files) {
    std::string error;
    try {
      std::ifstream in(path, std::ios::binary);
      if (!in) throw std::runtime_error("cannot open");
      auto j = nlohmann::json::parse(in);
      entries_.push_back(Entry{seq, Notification::from_json(j.at("notification")), true});
      continue;
    } catch (const std::exception& e) {
      error = e.what();
    }
    Problem pr{path.string(), error, ""};
    fs::path aside = file_of(seq, ".corrupt");
    std::error_code rec;
    fs::rename(path, aside, rec);
    if (!rec) pr.kept_as = aside.string();
    problems.push_back(std::move(pr));
  }
  trim_set_aside();
  dropped_at_load_ = 0;
  while (entries_.size() > max_) {
    erase_file(entries_.front());
    entries_.pop_front();
    ++dropped_at_load_;
  }
  return problems;
}

size_t Outbox::push(Notification n, bool head_in_flight, std::string& err) {
  size_t dropped = 0;
  // A repeat says nothing a waiting (or in-flight) notification of the same alert does not:
  // the body is made when it is sent.
  if (n.kind == NotificationKind::repeat)
    for (const auto& e : entries_)
      if (e.n.fingerprint == n.fingerprint && e.n.status() == NotificationStatus::firing) return 0;
  // A newer notification of the same alert makes queued repeats of it redundant.
  for (size_t i = head_in_flight ? 1 : 0; i < entries_.size();) {
    if (entries_[i].n.kind == NotificationKind::repeat &&
        entries_[i].n.fingerprint == n.fingerprint) {
      erase_file(entries_[i]);
      entries_.erase(entries_.begin() + static_cast<std::ptrdiff_t>(i));
    } else {
      ++i;
    }
  }
  Entry e{next_seq_++, std::move(n), false};
  nlohmann::json doc = {{"seq", e.seq}, {"notification", e.n.to_json()}};
  e.on_disk = write_file_atomic(
      file_of(e.seq), doc.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n",
      err);
  entries_.push_back(std::move(e));
  while (entries_.size() > max_) {
    size_t victim = head_in_flight && entries_.size() > 1 ? 1 : 0;
    erase_file(entries_[victim]);
    entries_.erase(entries_.begin() + static_cast<std::ptrdiff_t>(victim));
    ++dropped;
  }
  return dropped;
}

std::string Outbox::pop_front(bool keep_as_rejected) {
  if (entries_.empty()) return "";
  const Entry& e = entries_.front();
  std::string kept;
  if (keep_as_rejected && e.on_disk) {
    std::error_code ec;
    fs::rename(file_of(e.seq), file_of(e.seq, ".rejected"), ec);
    if (ec)
      erase_file(e);
    else
      kept = file_of(e.seq, ".rejected").string();
    trim_set_aside();
  } else {
    erase_file(e);
  }
  entries_.pop_front();
  return kept;
}

void Outbox::erase_file(const Entry& e) {
  if (!e.on_disk) return;
  std::error_code ec;
  fs::remove(file_of(e.seq), ec);
}

void Outbox::trim_set_aside() {
  std::vector<std::pair<uint64_t, fs::path>> aside;
  std::error_code ec;
  for (fs::directory_iterator it(dir_, ec), end; !ec && it != end; it.increment(ec))
    for (const char* ext : {".corrupt", ".rejected"})
      if (auto s = seq_of(it->path(), ext)) aside.emplace_back(*s, it->path());
  if (aside.size() <= kKeepSetAside) return;
  std::sort(aside.begin(), aside.end());
  for (size_t i = 0; i + kKeepSetAside < aside.size(); ++i) fs::remove(aside[i].second, ec);
}

}  // namespace mobasher
