#include "collectors/proc_reader.hpp"

#include <fcntl.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>

#include "collectors/text_fields.hpp"

namespace mobasher {

std::string valid_utf8(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  size_t i = 0;
  while (i < s.size()) {
    auto c = static_cast<unsigned char>(s[i]);
    size_t len = c < 0x80           ? 1
                 : (c >> 5) == 0x6  ? 2
                 : (c >> 4) == 0xe  ? 3
                 : (c >> 3) == 0x1e ? 4
                                    : 0;
    bool ok = len > 0 && i + len <= s.size();
    for (size_t k = 1; ok && k < len; ++k) ok = (static_cast<unsigned char>(s[i + k]) >> 6) == 0x2;
    if (ok && len == 2) ok = c >= 0xc2;  // no overlong forms
    if (ok) {
      out.append(s, i, len);
      i += len;
      continue;
    }
    if (len > 1 && i + len > s.size()) {  // cut off at the end: drop the partial character
      bool prefix = true;
      for (size_t k = i + 1; k < s.size(); ++k)
        prefix = prefix && (static_cast<unsigned char>(s[k]) >> 6) == 0x2;
      if (prefix) break;
    }
    out += "\xEF\xBF\xBD";
    ++i;
  }
  return out;
}

std::optional<ProcStat> parse_proc_stat(std::string_view text) {
  // comm may contain spaces and parentheses: it ends at the LAST ')'.
  size_t open = text.find('(');
  size_t close = text.rfind(')');
  if (open == std::string_view::npos || close == std::string_view::npos || close < open)
    return std::nullopt;
  ProcStat st;
  st.comm = valid_utf8(text.substr(open + 1, close - open - 1));
  std::string_view rest = text.substr(close + 1);
  // Fields from 3 (state) on; index i below is field number i+3 of proc(5).
  std::string_view f[22];
  for (auto& x : f) {
    x = next_field(rest);
    if (x.empty()) return std::nullopt;
  }
  st.state = f[0][0];
  auto ppid = leading_u64(f[1]), ut = leading_u64(f[11]), stt = leading_u64(f[12]),
       start = leading_u64(f[19]), vsize = leading_u64(f[20]);
  int64_t rss = 0;
  auto [p, ec] = std::from_chars(f[21].data(), f[21].data() + f[21].size(), rss);
  if (!ppid || !ut || !stt || !start || !vsize || ec != std::errc()) return std::nullopt;
  (void)p;
  st.ppid = static_cast<pid_t>(*ppid);
  st.utime = *ut;
  st.stime = *stt;
  st.start_time = *start;
  st.vsize = *vsize;
  st.rss_pages = rss;
  return st;
}

namespace {

// The kernel prints comm in status with '\n' as "\\n" and '\\' as "\\\\" (proc_task_name).
std::string unescape_status_name(std::string_view v) {
  std::string out;
  out.reserve(v.size());
  for (size_t i = 0; i < v.size(); ++i) {
    if (v[i] == '\\' && i + 1 < v.size() && (v[i + 1] == 'n' || v[i + 1] == '\\')) {
      out += v[i + 1] == 'n' ? '\n' : '\\';
      ++i;
    } else {
      out += v[i];
    }
  }
  return valid_utf8(out);
}

}  // namespace

std::optional<ProcStatus> parse_proc_status(std::string_view text) {
  ProcStatus s;
  int found = 0;
  // Name, State and PPid come first, the memory lines later; the ~25 lines after VmSwap are not
  // read (a kernel without swap has no VmSwap: then every line is).
  while (!text.empty() && found != 15) {
    size_t nl = text.find('\n');
    std::string_view line = text.substr(0, nl);
    text.remove_prefix(nl == std::string_view::npos ? text.size() : nl + 1);
    size_t colon = line.find(':');
    if (colon == std::string_view::npos) continue;
    std::string_view key = line.substr(0, colon), value = line.substr(colon + 1);
    if (key == "Name") {
      // A tab, then comm, which may itself start with spaces or tabs.
      if (!value.empty() && value.front() == '\t') value.remove_prefix(1);
      s.name = unescape_status_name(value);
      continue;
    }
    std::string_view field = next_field(value);
    if (key == "State") {
      if (!field.empty()) s.state = field.front();
    } else if (key == "PPid") {
      if (auto v = leading_u64(field)) s.ppid = static_cast<pid_t>(*v);
    } else if (key == "RssAnon" || key == "RssFile" || key == "RssShmem" || key == "VmSwap") {
      auto kb = leading_u64(field);
      if (!kb) continue;
      uint64_t bytes = *kb * 1024;
      if (key == "RssAnon")
        s.rss_anon = bytes, found |= 1;
      else if (key == "RssFile")
        s.rss_file = bytes, found |= 2;
      else if (key == "RssShmem")
        s.rss_shmem = bytes, found |= 4;
      else
        s.swap = bytes, found |= 8;
    }
  }
  // Kernel threads have none of these lines; they are never unit members, so reject them.
  if ((found & 7) != 7) return std::nullopt;
  return s;
}

std::optional<uint64_t> parse_smaps_rollup_pss(std::string_view text) {
  std::optional<uint64_t> pss;
  for_each_kb_line(text, [&](std::string_view key, uint64_t bytes) {
    if (key == "Pss") pss = bytes;
  });
  return pss;
}

std::optional<uint64_t> parse_boot_time(std::string_view text) {
  size_t pos = text.find("\nbtime ");
  if (pos == std::string_view::npos) return std::nullopt;
  std::string_view rest = text.substr(pos + 7);
  return leading_u64(next_field(rest));
}

namespace {

bool short_read_ends(Records records, size_t got, size_t asked) {
  switch (records) {
    case Records::one:
      return got < asked;
    case Records::many:
      return got < asked && got + kMaxRecord < kSeqFilePage;
    case Records::until_empty:
      return false;
  }
  return false;
}

}  // namespace

std::optional<std::string> read_small_file(const std::filesystem::path& path, Records records) {
  int fd = open_ro(path);
  if (fd < 0) return std::nullopt;
  std::string out;
  char buf[8192];
  while (true) {
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0) {
      if (errno == EINTR) continue;
      ::close(fd);
      return std::nullopt;
    }
    out.append(buf, static_cast<size_t>(n));
    if (n == 0 || short_read_ends(records, static_cast<size_t>(n), sizeof buf)) break;
    if (out.size() > (1u << 20)) break;  // no file we read is this large: stop, stay bounded
  }
  ::close(fd);
  return out;
}

std::optional<std::string_view> pread_whole(int fd, std::string& buf, Records records) {
  if (buf.size() < 8192) buf.resize(8192);
  size_t len = 0;
  while (true) {
    ssize_t n = ::pread(fd, buf.data() + len, buf.size() - len, static_cast<off_t>(len));
    if (n < 0) {
      if (errno == EINTR) continue;
      return std::nullopt;  // ESRCH: the process has exited; ENODEV: the cgroup was removed
    }
    size_t asked = buf.size() - len;
    len += static_cast<size_t>(n);
    if (n == 0 || short_read_ends(records, static_cast<size_t>(n), asked)) break;
    if (len == buf.size()) {  // grow only when full: the buffer is reused for every scan
      if (buf.size() >= (1u << 20)) break;
      buf.resize(buf.size() * 2);
    }
  }
  return std::string_view(buf.data(), len);
}

ProcReader::ProcReader(std::filesystem::path proc_root, size_t max_open_processes)
    : root_(std::move(proc_root)), max_open_(max_open_processes) {
  // One descriptor per cached process (two while one is opened): stay well inside the soft
  // RLIMIT_NOFILE, so the cache can never starve the HTTP server or the cgroup reads.
  rlimit rl{};
  if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY)
    max_open_ = std::min<size_t>(max_open_, rl.rlim_cur > 256 ? (rl.rlim_cur - 256) / 4 : 0);
  clock_ = ProcClock::read(root_);
}

ProcClock ProcClock::read(const std::filesystem::path& proc_root) {
  ProcClock c;
  if (auto text = read_small_file(proc_root / "stat"))
    if (auto bt = parse_boot_time(*text)) c.boot_time = static_cast<double>(*bt);
  long hz = sysconf(_SC_CLK_TCK);
  if (hz > 0) c.ticks_per_second = static_cast<double>(hz);
  return c;
}

ProcReader::~ProcReader() {
  for (auto& [pid, e] : open_) close_entry(e);
}

void ProcReader::close_entry(Open& e) {
  if (e.status_fd >= 0) ::close(e.status_fd);
  e.status_fd = -1;
}

// pid's entry: on first sight its stat is read once (start time, comm, ppid) and its status
// opened, both through one descriptor of /proc/PID so that they are the same process. end() if
// it is gone, a zombie, or its stat cannot be parsed (counted).
std::unordered_map<pid_t, ProcReader::Open>::iterator ProcReader::open_entry(pid_t pid) {
  auto it = open_.find(pid);
  if (it != open_.end()) return it;
  int dir = ::open((root_ / std::to_string(pid)).c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dir < 0) return open_.end();
  int stat_fd = ::openat(dir, "stat", O_RDONLY | O_CLOEXEC);
  Open e;
  e.status_fd = ::openat(dir, "status", O_RDONLY | O_CLOEXEC);
  ::close(dir);
  std::optional<std::string_view> text;
  if (stat_fd >= 0) {
    text = pread_whole(stat_fd, buf_);
    ::close(stat_fd);
  }
  std::optional<ProcStat> st = text ? parse_proc_stat(*text) : std::nullopt;
  if (text && !st) ++parse_errors_;
  if (!st || st->state == 'Z' || e.status_fd < 0) {
    close_entry(e);
    return open_.end();
  }
  e.id = {pid, st->start_time};
  e.comm = std::move(st->comm);
  e.ppid = st->ppid;
  return open_.emplace(pid, std::move(e)).first;
}

std::optional<ProcessSample> ProcReader::sample(pid_t pid, bool with_pss) {
  // Two attempts: the kept status of a process that has exited fails to read (ESRCH), even when
  // its PID has been reused; the second attempt opens the new process's files.
  for (int attempt = 0; attempt < 2; ++attempt) {
    auto it = open_entry(pid);
    if (it == open_.end()) return std::nullopt;
    Open& e = it->second;
    auto text = pread_whole(e.status_fd, buf_);
    if (!text) {
      close_entry(e);
      open_.erase(it);
      continue;
    }
    e.seen = true;
    auto status = parse_proc_status(*text);
    if (!status || status->state == 'Z') return std::nullopt;
    if (status->name) e.comm = std::move(*status->name);  // an exec changes it
    if (status->ppid) e.ppid = *status->ppid;             // so does a parent's exit
    ProcessSample s = make_sample(e, *status, with_pss);
    if (open_.size() > max_open_) {  // cache full: this one was read once, stay bounded
      close_entry(it->second);
      open_.erase(it);
    }
    return s;
  }
  return std::nullopt;
}

ProcessSample ProcReader::make_sample(const Open& e, const ProcStatus& status,
                                      bool with_pss) const {
  ProcessSample s;
  s.id = e.id;
  s.ppid = e.ppid;
  s.comm = e.comm;
  s.rss_anon = status.rss_anon;
  s.rss_file = status.rss_file;
  s.rss_shmem = status.rss_shmem;
  s.swap = status.swap;
  s.start_time_seconds = clock_.unix_seconds(e.id.start_time);
  s.start_boot_seconds = clock_.since_boot(e.id.start_time);
  if (with_pss) {
    if (auto t = read_small_file(root_ / std::to_string(e.id.pid) / "smaps_rollup"))
      s.pss = parse_smaps_rollup_pss(*t);
  }
  return s;
}

void ProcReader::end_scan() {
  for (auto it = open_.begin(); it != open_.end();) {
    if (!it->second.seen) {
      close_entry(it->second);
      it = open_.erase(it);
    } else {
      it->second.seen = false;
      ++it;
    }
  }
}

}  // namespace mobasher
