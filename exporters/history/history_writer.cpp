#include "exporters/history/history_writer.hpp"

#include <fcntl.h>
#include <spdlog/spdlog.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <map>
#include <memory>
#include <vector>

#include "agent/base/errno_text.hpp"
#include "agent/base/quantities.hpp"
#include "exporters/history/history_reader.hpp"

namespace mobasher {
namespace fs = std::filesystem;

namespace {

constexpr size_t kIoChunk = 64 << 10;  // the tail scan and the compression read this much at a time
constexpr const char* kCurrent = "current.jsonl";

std::string path_error(const fs::path& p, int e) {
  return p.string() + ": " + errno_text(e);
}

void fsync_dir(const fs::path& dir) {
  int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd >= 0) {
    ::fsync(fd);
    ::close(fd);
  }
}

bool write_all(int fd, const char* p, size_t n) {
  while (n > 0) {
    ssize_t w = ::write(fd, p, n);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) {
      if (w == 0) errno = EIO;
      return false;
    }
    p += w;
    n -= static_cast<size_t>(w);
  }
  return true;
}

// The 24-byte ts of a record line ("" when it has none).
std::string first_ts(std::string_view line) {
  WallTime t;
  return record_time(line, t) ? std::string(line.substr(7, 24)) : std::string();
}

// "2026-12-01T08:30:00.250Z" -> "20261201T083000Z", the time in rotated files' names.
std::string name_stamp(const std::string& ts) {
  return ts.substr(0, 4) + ts.substr(5, 2) + ts.substr(8, 2) + "T" + ts.substr(11, 2) +
         ts.substr(14, 2) + ts.substr(17, 2) + "Z";
}

WallTime mtime_of(const struct stat& st) {
  return WallTime{} + std::chrono::duration_cast<WallClock::duration>(
                          std::chrono::seconds(st.st_mtim.tv_sec) +
                          std::chrono::nanoseconds(st.st_mtim.tv_nsec));
}

// Where the last whole record of a file of `size` bytes ends (good), and where its content ends
// (content_end: after it only zero bytes, which a crash can leave when blocks were allocated and
// the data never written). Between the two lies a torn record. Read from the end in chunks.
struct TailScan {
  uint64_t good = 0, content_end = 0;
};
bool scan_tail(int fd, uint64_t size, TailScan& out) {
  uint64_t pos = size;
  bool in_zeros = true;
  auto buf = std::make_unique<char[]>(kIoChunk);
  while (pos > 0) {
    size_t n = static_cast<size_t>(std::min<uint64_t>(kIoChunk, pos));
    pos -= n;
    if (::pread(fd, buf.get(), n, static_cast<off_t>(pos)) != static_cast<ssize_t>(n)) {
      if (errno == 0) errno = EIO;
      return false;
    }
    for (size_t i = n; i-- > 0;) {
      if (in_zeros) {
        if (buf[i] == '\0') continue;
        in_zeros = false;
        out.content_end = pos + i + 1;
      }
      if (buf[i] == '\n') {
        out.good = pos + i + 1;
        return true;
      }
    }
  }
  return true;
}

}  // namespace

std::chrono::seconds HistoryOptions::rotate_age() const {
  auto age = max_files > 0 ? max_age / max_files : max_age;
  return std::max(age, std::chrono::seconds(60));
}

HistoryWriter::HistoryWriter(HistoryOptions o, Clock clock)
    : opts_(std::move(o)), clock_(std::move(clock)) {
  std::string err;
  if (!open_current(err)) fail(err);
  tidy(clock_());
  publish_sizes();
  thread_ = std::thread([this] { run(); });
}

HistoryWriter::~HistoryWriter() {
  {
    std::lock_guard lk(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
  close_current();
}

void HistoryWriter::append(std::string line) {
  std::lock_guard lk(mu_);
  pending_bytes_ += line.size() + 1;
  pending_.push_back(std::move(line));
  ++appended_seq_;
  // The newest record always stays, so the bound can be passed by one record.
  while (pending_bytes_ > opts_.max_pending_bytes && pending_.size() > 1) {
    uint64_t front_seq = appended_seq_ - pending_.size() + 1;
    ++(front_seq <= inflight_end_ ? dropped_inflight_ : status_.records_dropped);
    pending_bytes_ -= pending_.front().size() + 1;
    pending_.pop_front();
  }
}

HistoryStatus HistoryWriter::status() const {
  std::lock_guard lk(mu_);
  HistoryStatus s = status_;
  s.pending = pending_.size();
  return s;
}

bool HistoryWriter::flush(std::chrono::milliseconds timeout) {
  std::unique_lock lk(mu_);
  uint64_t want = appended_seq_;
  if (synced_seq_ >= want) return true;
  uint64_t ticket = ++flush_ticket_;
  flush_requested_ = true;
  cv_.notify_all();
  synced_cv_.wait_for(lk, timeout, [&] { return synced_seq_ >= want || failed_ticket_ >= ticket; });
  return synced_seq_ >= want;
}

void HistoryWriter::run() {
  std::unique_lock lk(mu_);
  for (;;) {
    cv_.wait_for(lk, std::max(opts_.sync_interval, std::chrono::milliseconds(1)),
                 [this] { return stop_ || flush_requested_; });
    bool stopping = stop_;
    flush_requested_ = false;
    if (!pending_.empty()) {
      std::string buf;
      buf.reserve(pending_bytes_);
      for (const auto& line : pending_) buf.append(line).push_back('\n');
      uint64_t end = appended_seq_;
      size_t count = pending_.size();
      uint64_t ticket = flush_ticket_;  // requests made before this attempt: it covers them
      inflight_end_ = end;
      lk.unlock();

      WallTime now = clock_();
      std::string err;
      bool ok = write_batch(buf, now, err);
      if (!ok) fail(err);
      lk.lock();
      inflight_end_ = 0;
      std::string resumed;
      if (ok) {
        for (uint64_t seq = appended_seq_ - pending_.size() + 1; !pending_.empty() && seq <= end;
             ++seq) {
          pending_bytes_ -= pending_.front().size() + 1;
          pending_.pop_front();
        }
        status_.records_written += count;
        if (!status_.error.empty()) {
          auto failed_for =
              std::chrono::duration_cast<std::chrono::seconds>(now - status_.error_since);
          resumed = "history write resumed dir=" + opts_.dir.string() +
                    " failed_for=" + std::to_string(failed_for.count()) + "s last_error=\"" +
                    status_.error + "\"";
          status_.error.clear();
          status_.error_since = {};
        }
      } else {
        status_.records_dropped += dropped_inflight_;
        failed_ticket_ = ticket;
      }
      dropped_inflight_ = 0;
      lk.unlock();
      if (!resumed.empty()) {
        spdlog::info("{}", resumed);
        logged_error_.clear();
      }
      // flush() returns once the rotation this batch began is compressed and retention applied.
      if (ok && tidy_pending_) tidy(now);
      publish_sizes();
      lk.lock();
      if (ok) synced_seq_ = end;
      synced_cv_.notify_all();
    }
    if (stopping) break;
  }
}

bool HistoryWriter::open_current(std::string& err) {
  fs::path path = opts_.dir / kCurrent;
  std::error_code ec;
  fs::create_directories(opts_.dir, ec);  // a failure shows in the open below
  int fd = ::open(path.c_str(), O_RDWR | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) {
    err = path_error(path, errno);
    return false;
  }
  struct stat st {};
  TailScan tail;
  uint64_t size = 0;
  errno = 0;
  bool ok = ::fstat(fd, &st) == 0;
  if (ok) {
    size = static_cast<uint64_t>(st.st_size);
    // After a failed batch of this run the good size is known exactly: no scan.
    if (known_valid_ && static_cast<uint64_t>(st.st_ino) == known_ino_ && size >= known_size_)
      tail.good = tail.content_end = known_size_;
    else
      ok = scan_tail(fd, size, tail);
  }
  if (ok && tail.good < size) ok = cut_torn_tail(fd, path, size, tail.good, tail.content_end);
  if (!ok) {
    err = path_error(path, errno ? errno : EIO);
    ::close(fd);
    return false;
  }
  current_first_ts_.clear();
  if (tail.good > 0) {
    char head[32];
    ssize_t n = ::pread(fd, head, sizeof head, 0);
    if (n > 0) current_first_ts_ = first_ts(std::string_view(head, static_cast<size_t>(n)));
    // Not a record: name the file by when it was found, and rotate it by age from then.
    if (current_first_ts_.empty()) current_first_ts_ = format_rfc3339(clock_());
  }
  fd_ = fd;
  good_size_ = tail.good;
  known_valid_ = false;
  fsync_dir(opts_.dir);  // a new current.jsonl must survive a power loss with its records
  return true;
}

// Cuts current.jsonl back to its last whole record, and says what was cut.
bool HistoryWriter::cut_torn_tail(int fd, const fs::path& path, uint64_t size, uint64_t good,
                                  uint64_t content_end) {
  if (::ftruncate(fd, static_cast<off_t>(good)) != 0 || ::fdatasync(fd) != 0) return false;
  if (content_end > good) {
    spdlog::warn("history torn line cut file={} bytes={}", path.string(), content_end - good);
    std::lock_guard lk(mu_);
    ++status_.torn_lines;
  }
  if (size > content_end)
    spdlog::warn("history zero bytes cut file={} bytes={}", path.string(), size - content_end);
  return true;
}

void HistoryWriter::close_current() {
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
}

// Closes after a failed batch, remembering where the file's last whole line of this run ends.
void HistoryWriter::close_failed() {
  struct stat st {};
  known_valid_ = fd_ >= 0 && ::fstat(fd_, &st) == 0;
  known_ino_ = known_valid_ ? static_cast<uint64_t>(st.st_ino) : 0;
  known_size_ = good_size_;
  close_current();
}

bool HistoryWriter::write_batch(const std::string& buf, WallTime now, std::string& err) {
  fs::path path = opts_.dir / kCurrent;
  if (fd_ < 0 && !open_current(err)) return false;
  // A failed write may have left part of a batch (or another writer truncated the file).
  struct stat st {};
  if (::fstat(fd_, &st) != 0) {
    err = path_error(path, errno);
    close_current();
    return false;
  }
  if (static_cast<uint64_t>(st.st_size) > good_size_) {
    if (::ftruncate(fd_, static_cast<off_t>(good_size_)) != 0) {
      err = path_error(path, errno);
      close_failed();
      return false;
    }
  } else if (static_cast<uint64_t>(st.st_size) < good_size_) {
    close_current();  // shorter than written: recover it afresh
    if (!open_current(err)) return false;
  }
  if (good_size_ > 0 && needs_rotation(now)) {
    rotate(now);
    if (fd_ < 0 && !open_current(err)) return false;
  }
  if (!write_all(fd_, buf.data(), buf.size()) || ::fdatasync(fd_) != 0) {
    err = path_error(path, errno);
    if (::ftruncate(fd_, static_cast<off_t>(good_size_)) != 0) close_failed();
    return false;
  }
  if (good_size_ == 0) {
    current_first_ts_ = first_ts(buf);
    if (current_first_ts_.empty()) current_first_ts_ = format_rfc3339(now);
  }
  good_size_ += buf.size();
  return true;
}

bool HistoryWriter::needs_rotation(WallTime now) const {
  if (good_size_ >= opts_.max_file_size) return true;
  WallTime first;
  return record_time("{\"ts\":\"" + current_first_ts_ + "\",", first) &&
         now - first >= opts_.rotate_age();
}

void HistoryWriter::rotate(WallTime now) {
  fs::path cur = opts_.dir / kCurrent;
  std::string stamp =
      name_stamp(current_first_ts_.empty() ? format_rfc3339(now) : current_first_ts_);
  // Two files can start within one second: one past the highest seq of that second (retention
  // may have removed lower ones, and a lower seq would sort before them).
  unsigned next = 0;
  std::error_code ec;
  for (fs::directory_iterator it(opts_.dir, ec), end; !ec && it != end; it.increment(ec)) {
    std::string name = it->path().filename().string();
    WallTime start;
    unsigned seq = 0;
    bool compressed = false;
    if (parse_history_name(name, start, seq, compressed) && name.compare(8, 16, stamp) == 0)
      next = std::max(next, seq + 1);
  }
  // Appended piecewise: GCC 12 -O3 warns (-Wrestrict, a false positive) on the + chain.
  std::string name = "history-";
  name.append(stamp);
  if (next) name.append("-").append(std::to_string(next));
  name.append(".jsonl");
  fs::path plain = opts_.dir / name;
  close_current();
  if (::rename(cur.c_str(), plain.c_str()) != 0) {
    fail(path_error(plain, errno));  // keeps appending to current.jsonl, retried next batch
    return;
  }
  fsync_dir(opts_.dir);
  spdlog::info("history rotated file={} bytes={}", plain.string(), good_size_);
  rotated_bytes_ += good_size_;
  ++rotated_files_;
  good_size_ = 0;
  current_first_ts_.clear();
  tidy_pending_ = true;
}

bool HistoryWriter::compress(const fs::path& plain, std::string& err) {
  fs::path gz = plain.string() + ".gz", tmp = gz.string() + ".tmp";
  int in = ::open(plain.c_str(), O_RDONLY | O_CLOEXEC);
  if (in < 0) {
    err = path_error(plain, errno);
    return false;
  }
  int out = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  int keep = out >= 0 ? ::dup(out) : -1;  // gzclose closes out; fsync needs the file after it
  gzFile g = keep >= 0 ? ::gzdopen(out, "wb6") : nullptr;
  if (!g) {
    err = path_error(tmp, errno ? errno : ENOMEM);
    if (out >= 0) ::close(out);
    if (keep >= 0) ::close(keep);
    ::close(in);
    ::unlink(tmp.c_str());
    return false;
  }
  auto buf = std::make_unique<char[]>(kIoChunk);
  bool ok = true;
  for (;;) {
    ssize_t n = ::read(in, buf.get(), kIoChunk);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      err = path_error(plain, errno);
      ok = false;
      break;
    }
    if (n == 0) break;
    if (::gzwrite(g, buf.get(), static_cast<unsigned>(n)) != static_cast<int>(n)) {
      int e = errno, errnum = 0;
      const char* msg = ::gzerror(g, &errnum);
      err = tmp.string() + ": " + (errnum == Z_ERRNO ? std::strerror(e) : msg);
      ok = false;
      break;
    }
  }
  ::close(in);
  int closed = ::gzclose(g);
  if (ok && closed != Z_OK) {
    err = closed == Z_ERRNO ? path_error(tmp, errno) : tmp.string() + ": gzip close failed";
    ok = false;
  }
  if (ok && ::fsync(keep) != 0) {
    err = path_error(tmp, errno);
    ok = false;
  }
  ::close(keep);
  if (ok && ::rename(tmp.c_str(), gz.c_str()) != 0) {
    err = path_error(gz, errno);
    ok = false;
  }
  if (!ok) {
    ::unlink(tmp.c_str());
    return false;
  }
  fsync_dir(opts_.dir);
  ::unlink(plain.c_str());  // after a crash before this, the complete .gz wins at start
  return true;
}

struct HistoryWriter::Rotated {
  fs::path plain, gz;  // empty when not on disk
  uint64_t plain_bytes = 0, gz_bytes = 0;
  WallTime start{}, mtime{};
};

void HistoryWriter::tidy(WallTime now) {
  tidy_pending_ = false;
  std::vector<Rotated> order = list_rotated();
  finish_rotations(order);
  apply_retention(order, now);
  publish_sizes();
}

// The rotated files, oldest first (a plain file and its .gz are one entry); removes the *.tmp
// of a compression a crash interrupted (this thread is the only writer).
std::vector<HistoryWriter::Rotated> HistoryWriter::list_rotated() const {
  std::map<std::pair<WallTime, unsigned>, Rotated> files;
  std::error_code ec;
  for (fs::directory_iterator it(opts_.dir, ec), end; !ec && it != end; it.increment(ec)) {
    const fs::path& p = it->path();
    std::string name = p.filename().string();
    if (name.size() > 4 && name.compare(name.size() - 4, 4, ".tmp") == 0) {
      ::unlink(p.c_str());
      continue;
    }
    WallTime start;
    unsigned seq = 0;
    bool compressed = false;
    struct stat st {};
    if (!parse_history_name(name, start, seq, compressed) || ::stat(p.c_str(), &st) != 0 ||
        !S_ISREG(st.st_mode))
      continue;
    Rotated& f = files[{start, seq}];
    f.start = start;
    f.mtime = std::max(f.mtime, mtime_of(st));
    (compressed ? f.gz : f.plain) = p;
    (compressed ? f.gz_bytes : f.plain_bytes) = static_cast<uint64_t>(st.st_size);
  }
  std::vector<Rotated> order;
  order.reserve(files.size());
  for (auto& [key, f] : files) order.push_back(std::move(f));
  return order;
}

// Finishes interrupted rotations: a .gz is only renamed into place complete.
void HistoryWriter::finish_rotations(std::vector<Rotated>& files) {
  for (auto& f : files) {
    if (f.plain.empty()) continue;
    std::string err;
    if (!f.gz.empty()) {
      if (::unlink(f.plain.c_str()) == 0) f.plain.clear(), f.plain_bytes = 0;
      continue;
    }
    if (!compress(f.plain, err)) {
      fail(err);  // the plain file stays; the next rotation (or start) retries
      continue;
    }
    f.gz = f.plain.string() + ".gz";
    struct stat st {};
    f.gz_bytes = ::stat(f.gz.c_str(), &st) == 0 ? static_cast<uint64_t>(st.st_size) : 0;
    f.plain.clear();
    f.plain_bytes = 0;
  }
}

// Retention, oldest first: by count, age and total size. A file's records end where the next
// file's begin.
void HistoryWriter::apply_retention(const std::vector<Rotated>& order, WallTime now) {
  WallTime current_start{};
  WallTime first;
  if (record_time("{\"ts\":\"" + current_first_ts_ + "\",", first)) current_start = first;
  uint64_t total = good_size_;
  for (const auto& f : order) total += f.plain_bytes + f.gz_bytes;
  size_t count = order.size(), i = 0;
  for (; i < order.size(); ++i) {
    const Rotated& f = order[i];
    WallTime end = i + 1 < order.size()          ? order[i + 1].start
                   : current_start != WallTime{} ? current_start
                                                 : f.mtime;
    const char* reason = static_cast<int64_t>(count) > opts_.max_files ? "count"
                         : end < now - opts_.max_age                   ? "age"
                         : total > opts_.max_total_size                ? "size"
                                                                       : nullptr;
    if (!reason) break;
    bool removed = true;
    for (const fs::path& p : {f.plain, f.gz}) {
      if (!p.empty() && ::unlink(p.c_str()) != 0 && errno != ENOENT) {
        fail(path_error(p, errno));
        removed = false;
      }
    }
    if (!removed) break;
    spdlog::info("history file removed file={} reason={}", (f.gz.empty() ? f.plain : f.gz).string(),
                 reason);
    total -= f.plain_bytes + f.gz_bytes;
    --count;
  }
  rotated_bytes_ = total - good_size_;
  rotated_files_ = 0;
  for (; i < order.size(); ++i) rotated_files_ += !order[i].plain.empty() + !order[i].gz.empty();
}

void HistoryWriter::publish_sizes() {
  std::lock_guard lk(mu_);
  status_.bytes = rotated_bytes_ + good_size_;
  status_.files = rotated_files_ + (fd_ >= 0 ? 1 : 0);
}

void HistoryWriter::fail(const std::string& err) {
  WallTime now = clock_();
  {
    std::lock_guard lk(mu_);
    if (status_.error.empty()) status_.error_since = now;
    status_.error = err;
    ++status_.write_errors;
  }
  if (err != logged_error_) {
    spdlog::warn("history write failed dir={} error=\"{}\"", opts_.dir.string(), err);
    logged_error_ = err;
  }
}

}  // namespace mobasher
