#include "exporters/history/history_reader.hpp"

#include <fcntl.h>
#include <unistd.h>
#include <zlib.h>

#include <cerrno>
#include <charconv>
#include <cstdio>
#include <cstring>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>

#include "agent/base/quantities.hpp"
#include "exporters/history/history_record.hpp"

namespace mobasher {
namespace fs = std::filesystem;

namespace {

constexpr size_t kReadChunk = 64 << 10;
constexpr size_t kMaxLine = 1 << 20;
constexpr std::string_view kTsKey = "{\"ts\":\"";      // 7 bytes, then the 24-byte ts and '"'
constexpr std::string_view kTypeKey = ",\"type\":\"";  // at kHistoryTypeAt
constexpr std::string_view kUnitKey = ",\"unit\":\"";  // right after the type's closing quote
constexpr size_t kTsLen = 24, kTypeValueAt = kHistoryTypeAt + kTypeKey.size();

bool digits(std::string_view s, size_t at, size_t n, int& out) {
  out = 0;
  for (size_t i = at; i < at + n; ++i) {
    if (s[i] < '0' || s[i] > '9') return false;
    out = out * 10 + (s[i] - '0');
  }
  return true;
}

// The shape of "YYYY-MM-DDTHH:MM:SS.mmmZ", which makes string order time order.
bool ts_shape(std::string_view ts) {
  static constexpr std::string_view kPattern = "dddd-dd-ddTdd:dd:dd.dddZ";
  if (ts.size() < kTsLen) return false;
  for (size_t i = 0; i < kTsLen; ++i) {
    if (kPattern[i] == 'd' ? (ts[i] < '0' || ts[i] > '9') : ts[i] != kPattern[i]) return false;
  }
  return true;
}

// A filter bound as a ts string (records have ms precision, so since rounds up, until down).
std::string ts_bound(WallTime t, bool upper) {
  using std::chrono::milliseconds;
  if (upper ? t < WallTime{} : t <= WallTime{}) return upper ? "0" : "";  // before every record
  if (t >= WallTime::max() - std::chrono::hours(24)) return "~";          // after every record
  auto ms = upper ? std::chrono::floor<milliseconds>(t) : std::chrono::ceil<milliseconds>(t);
  std::string s = format_rfc3339(ms);
  return ts_shape(s) ? s : std::string("~");  // past year 9999: after every record
}

// The unit as the records have it inside a string: nlohmann::json's own escaping (the writer's).
std::string json_escaped(std::string_view s) {
  std::string quoted =
      nlohmann::json(std::string(s)).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  return quoted.substr(1, quoted.size() - 2);
}

// The bytes of one file: read() for current.jsonl and plain rotated files, gzread() for .gz.
class Source {
 public:
  Source(int fd, bool compressed, const std::string& path) : fd_(fd), path_(path) {
    if (!compressed) return;
    gz_ = ::gzdopen(fd, "rb");  // owns fd from here (a failed gzdopen leaves it open)
    if (!gz_) {
      error_ = path_ + ": " + std::strerror(ENOMEM);
      return;
    }
    fd_ = -1;
    ::gzbuffer(gz_, kReadChunk);
    if (::gzdirect(gz_) == 1) error_ = path_ + ": not in gzip format";
  }
  ~Source() {
    if (gz_) ::gzclose(gz_);
    if (fd_ >= 0) ::close(fd_);
  }
  Source(const Source&) = delete;
  Source& operator=(const Source&) = delete;

  const std::string& error() const { return error_; }
  // Bytes read into buf, 0 at the end, -1 on error (then error() says why).
  ssize_t read(char* buf, size_t n) {
    if (!error_.empty()) return -1;
    if (gz_) {
      int got = ::gzread(gz_, buf, static_cast<unsigned>(n));
      if (got >= 0) return got;
      int errnum = 0;
      const char* msg = ::gzerror(gz_, &errnum);
      error_ = path_ + ": " + (errnum == Z_ERRNO ? std::strerror(errno) : msg);
      return -1;
    }
    for (;;) {
      ssize_t got = ::read(fd_, buf, n);
      if (got >= 0) return got;
      if (errno == EINTR) continue;
      error_ = path_ + ": " + std::strerror(errno);
      return -1;
    }
  }

 private:
  int fd_ = -1;
  gzFile gz_ = nullptr;
  std::string path_, error_;
};

// Applies the filter to one line at a time; false once reading should stop.
class LineFilter {
 public:
  LineFilter(const HistoryFilter& f, const HistorySink& sink, HistoryReadStats& stats)
      : f_(f),
        sink_(sink),
        stats_(stats),
        since_(ts_bound(f.since, false)),
        until_(ts_bound(f.until, true)),
        unit_(json_escaped(f.unit)) {}

  bool line(std::string_view l) {
    ++stats_.lines;
    if (l.size() < kHistoryTypeAt || l.compare(0, kTsKey.size(), kTsKey) != 0 ||
        !ts_shape(l.substr(kTsKey.size())) || l[kTsKey.size() + kTsLen] != '"') {
      ++stats_.bad_lines;
      return true;
    }
    std::string_view ts = l.substr(kTsKey.size(), kTsLen);
    if (ts > until_) return false;  // ts never decreases: nothing after this can match
    if (ts < since_) return true;
    if (l.compare(kHistoryTypeAt, kTypeKey.size(), kTypeKey) != 0) {
      ++stats_.bad_lines;
      return true;
    }
    size_t type_end = l.find('"', kTypeValueAt);
    if (type_end == std::string_view::npos) {
      ++stats_.bad_lines;
      return true;
    }
    bool sample = l.substr(kTypeValueAt, type_end - kTypeValueAt) == "sample";
    if (sample ? !f_.samples : !f_.events) return true;
    if (!f_.unit.empty()) {
      std::string_view rest = l.substr(type_end + 1);
      size_t n = kUnitKey.size() + unit_.size();
      if (rest.size() <= n || rest.compare(0, kUnitKey.size(), kUnitKey) != 0 ||
          rest.compare(kUnitKey.size(), unit_.size(), unit_) != 0 || rest[n] != '"')
        return true;
    }
    ++stats_.matched;
    return sink_(l);
  }

 private:
  const HistoryFilter& f_;
  const HistorySink& sink_;
  HistoryReadStats& stats_;
  std::string since_, until_, unit_;
};

// Streams one file's lines through the filter; false once reading should stop.
bool read_file(const HistoryFile& f, LineFilter& filter, HistoryReadStats& stats) {
  std::string path = f.path.string();
  bool compressed = f.compressed;
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0 && errno == ENOENT && !compressed && !f.current) {
    path += ".gz";  // compressed since the listing
    compressed = true;
    fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  }
  if (fd < 0) {
    if (errno != ENOENT) stats.errors.push_back(path + ": " + std::strerror(errno));
    return true;  // ENOENT: removed by retention since the listing
  }
  ++stats.files;
  Source src(fd, compressed, path);
  auto buf = std::make_unique<char[]>(kReadChunk);
  std::string carry;      // the start of a line that continues in the next chunk
  bool too_long = false;  // the current line passed kMaxLine: skipped up to its '\n'
  for (;;) {
    ssize_t n = src.read(buf.get(), kReadChunk);
    if (n < 0) {
      stats.errors.push_back(src.error());
      return true;
    }
    if (n == 0) break;
    const char* p = buf.get();
    const char* end = p + n;
    while (p < end) {
      const char* nl = static_cast<const char*>(std::memchr(p, '\n', static_cast<size_t>(end - p)));
      size_t len = static_cast<size_t>((nl ? nl : end) - p);
      if (!nl) {
        if (!too_long && carry.size() + len > kMaxLine) too_long = true, carry.clear();
        if (!too_long) carry.append(p, len);
        break;
      }
      bool go = true;
      if (too_long || carry.size() + len > kMaxLine) {
        ++stats.lines;
        ++stats.bad_lines;
      } else if (carry.empty()) {
        go = filter.line(std::string_view(p, len));
      } else {
        carry.append(p, len);
        go = filter.line(carry);
      }
      carry.clear();
      too_long = false;
      if (!go) return false;
      p = nl + 1;
    }
  }
  // A last line without '\n': in current.jsonl a write in progress; elsewhere a torn record.
  if ((!carry.empty() || too_long) && !f.current) {
    ++stats.lines;
    ++stats.bad_lines;
  }
  return true;
}

// The first record's time of a file, from its first bytes.
bool first_record_time(const fs::path& path, WallTime& out) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return false;
  char buf[kHistoryTypeAt];
  ssize_t n = ::pread(fd, buf, sizeof buf, 0);
  ::close(fd);
  return n == static_cast<ssize_t>(sizeof buf) &&
         record_time(std::string_view(buf, sizeof buf), out);
}

}  // namespace

std::string record_unit(std::string_view line) {
  if (line.size() <= kTypeValueAt) return {};
  size_t type_end = line.find('"', kTypeValueAt);
  if (type_end == std::string_view::npos) return {};
  std::string_view rest = line.substr(type_end + 1);
  if (rest.compare(0, kUnitKey.size(), kUnitKey) != 0) return {};
  rest.remove_prefix(kUnitKey.size());
  bool escaped = false;
  for (size_t i = 0; i < rest.size(); ++i) {
    if (rest[i] == '\\') {
      escaped = true;
      ++i;  // the escaped character
    } else if (rest[i] == '"') {
      if (!escaped) return std::string(rest.substr(0, i));
      // systemd escapes "-" in instance names as \x2d, which JSON writes as \\x2d.
      std::string_view quoted(rest.data() - 1, i + 2);  // with both quotes
      auto v = nlohmann::json::parse(quoted, nullptr, false);
      return v.is_string() ? v.get<std::string>() : std::string();
    }
  }
  return {};
}

std::optional<double> sample_number(std::string_view line, std::string_view key) {
  std::string_view flat = line.substr(0, line.find(",\"top\":"));
  for (size_t at = flat.find(key); at != std::string_view::npos; at = flat.find(key, at + 1)) {
    if (at < 2 || flat[at - 1] != '"' || (flat[at - 2] != ',' && flat[at - 2] != '{')) continue;
    size_t colon = at + key.size();
    if (flat.compare(colon, 2, "\":") != 0) continue;
    const char* from = flat.data() + colon + 2;
    double v = 0;
    auto [ptr, ec] = std::from_chars(from, flat.data() + flat.size(), v);
    if (ec != std::errc() || ptr == from) return std::nullopt;
    return v;
  }
  return std::nullopt;
}

bool record_time(std::string_view line, WallTime& out) {
  if (line.size() < kHistoryTypeAt || line.compare(0, kTsKey.size(), kTsKey) != 0) return false;
  std::string_view ts = line.substr(kTsKey.size(), kTsLen);
  if (!ts_shape(ts) || line[kTsKey.size() + kTsLen] != '"') return false;
  auto t = parse_rfc3339(ts);
  if (t) out = *t;
  return t.has_value();
}

bool parse_history_name(std::string_view name, WallTime& start, unsigned& seq, bool& compressed) {
  constexpr std::string_view kPrefix = "history-", kExt = ".jsonl", kGz = ".gz";
  // history-YYYYMMDDTHHMMSSZ: 8 + 16 bytes
  if (name.size() < 24 + kExt.size() || name.compare(0, kPrefix.size(), kPrefix) != 0) return false;
  std::string_view stamp = name.substr(8, 16);
  int y, mo, d, h, mi, s;
  if (!digits(stamp, 0, 4, y) || !digits(stamp, 4, 2, mo) || !digits(stamp, 6, 2, d) ||
      stamp[8] != 'T' || !digits(stamp, 9, 2, h) || !digits(stamp, 11, 2, mi) ||
      !digits(stamp, 13, 2, s) || stamp[15] != 'Z')
    return false;
  auto t = utc_time(y, mo, d, h, mi, s);
  if (!t) return false;
  start = *t;
  std::string_view rest = name.substr(24);
  seq = 0;
  if (!rest.empty() && rest[0] == '-') {
    size_t n = 1;
    while (n < rest.size() && n < 10 && rest[n] >= '0' && rest[n] <= '9')
      seq = seq * 10 + static_cast<unsigned>(rest[n++] - '0');
    if (n == 1 || (rest[1] == '0')) return false;  // "-" alone or "-01": not a name we write
    rest = rest.substr(n);
  }
  if (rest == kExt) {
    compressed = false;
    return true;
  }
  if (rest.size() == kExt.size() + kGz.size() && rest.substr(0, kExt.size()) == kExt &&
      rest.substr(kExt.size()) == kGz) {
    compressed = true;
    return true;
  }
  return false;
}

std::vector<HistoryFile> list_history_files(const fs::path& dir) {
  std::map<std::pair<WallTime, unsigned>, HistoryFile> rotated;
  std::optional<HistoryFile> current;
  std::error_code ec;
  for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    std::string name = it->path().filename().string();
    std::error_code fec;
    if (!it->is_regular_file(fec)) continue;
    uint64_t bytes = it->file_size(fec);
    if (fec) continue;  // gone since readdir
    if (name == "current.jsonl") {
      current = HistoryFile{it->path(), WallTime{}, false, true, bytes};
      first_record_time(it->path(), current->start);
      continue;
    }
    WallTime start;
    unsigned seq = 0;
    bool compressed = false;
    if (!parse_history_name(name, start, seq, compressed)) continue;
    // Both NAME.jsonl and NAME.jsonl.gz: a compression in progress (or interrupted). The .gz is
    // renamed into place complete, but so is the plain one until it is removed: read the plain
    // one, and its .gz if it vanishes first.
    auto [pos, inserted] =
        rotated.try_emplace({start, seq}, HistoryFile{it->path(), start, compressed, false, bytes});
    if (!inserted && !compressed) pos->second = HistoryFile{it->path(), start, false, false, bytes};
  }
  std::vector<HistoryFile> out;
  out.reserve(rotated.size() + 1);
  for (auto& [key, f] : rotated) out.push_back(std::move(f));
  if (current) out.push_back(std::move(*current));
  return out;
}

HistoryReadStats read_history(const fs::path& dir, const HistoryFilter& filter,
                              const HistorySink& sink) {
  HistoryReadStats stats;
  LineFilter lines(filter, sink, stats);
  std::vector<HistoryFile> files = list_history_files(dir);
  for (size_t i = 0; i < files.size(); ++i) {
    const HistoryFile& f = files[i];
    // A rotated file's name has its first record's second: its records are >= that second and
    // <= the next file's first record, which is before the next name's second + 1 s.
    if (f.start > filter.until) break;
    if (!f.current && i + 1 < files.size() && files[i + 1].start > WallTime{} &&
        files[i + 1].start + std::chrono::seconds(1) <= filter.since)
      continue;
    if (!read_file(f, lines, stats)) break;
  }
  return stats;
}

}  // namespace mobasher
