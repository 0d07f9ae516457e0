#include "collectors/cgroup_reader.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>

#include "collectors/proc_reader.hpp"

namespace mobasher {
namespace {

std::optional<uint64_t> to_u64(std::string_view s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.remove_suffix(1);
  uint64_t v = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || p != s.data() + s.size() || s.empty()) return std::nullopt;
  return v;
}

// Reads DIRFD/name. Missing file: nullopt without error (kernel config decides what exists).
std::optional<std::string> read_at(int dirfd, const char* name, int& errors) {
  int fd = ::openat(dirfd, name, O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    if (errno != ENOENT) ++errors;
    return std::nullopt;
  }
  char buf[8192];
  std::string out;
  while (true) {
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0) {
      if (errno == EINTR) continue;
      // ENODEV/ENOENT: the cgroup was removed while we read it; that is normal.
      if (errno != ENODEV && errno != ENOENT) ++errors;
      ::close(fd);
      return std::nullopt;
    }
    if (n == 0) break;
    out.append(buf, static_cast<size_t>(n));
    if (out.size() > (1u << 20)) break;
  }
  ::close(fd);
  return out;
}

std::optional<uint64_t> read_u64_at(int dirfd, const char* name, int& errors) {
  auto text = read_at(dirfd, name, errors);
  if (!text) return std::nullopt;
  auto v = to_u64(*text);
  if (!v) ++errors;
  return v;
}

void collect_pids(const std::filesystem::path& dir, int depth, std::vector<pid_t>& out) {
  if (auto text = read_small_file(dir / "cgroup.procs")) {
    auto pids = parse_cgroup_procs(*text);
    out.insert(out.end(), pids.begin(), pids.end());
  }
  if (depth <= 0) return;
  std::error_code ec;
  for (auto it = std::filesystem::directory_iterator(dir, ec);
       !ec && it != std::filesystem::directory_iterator(); it.increment(ec)) {
    if (it->is_directory(ec)) collect_pids(it->path(), depth - 1, out);
  }
}

}  // namespace

std::vector<pid_t> parse_cgroup_procs(std::string_view text) {
  std::vector<pid_t> pids;
  while (!text.empty()) {
    size_t nl = text.find('\n');
    if (auto v = to_u64(text.substr(0, nl)); v && *v > 0) pids.push_back(static_cast<pid_t>(*v));
    text.remove_prefix(nl == std::string_view::npos ? text.size() : nl + 1);
  }
  return pids;
}

std::optional<uint64_t> parse_keyed_value(std::string_view text, std::string_view key) {
  while (!text.empty()) {
    size_t nl = text.find('\n');
    std::string_view line = text.substr(0, nl);
    text.remove_prefix(nl == std::string_view::npos ? text.size() : nl + 1);
    if (line.size() > key.size() && line.substr(0, key.size()) == key && line[key.size()] == ' ')
      return to_u64(line.substr(key.size() + 1));
  }
  return std::nullopt;
}

std::optional<uint64_t> parse_limit(std::string_view text) {
  while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) text.remove_suffix(1);
  if (text == "max") return std::nullopt;
  auto v = to_u64(text);
  if (!v || *v >= (1ull << 62)) return std::nullopt;  // v1 reports "unlimited" as ~2^63
  return v;
}

std::vector<pid_t> read_cgroup_pids(const std::filesystem::path& dir, int max_depth) {
  std::vector<pid_t> pids;
  collect_pids(dir, max_depth, pids);
  std::sort(pids.begin(), pids.end());
  pids.erase(std::unique(pids.begin(), pids.end()), pids.end());  // v1 may list a PID twice
  return pids;
}

CgroupReadResult read_cgroup_memory(const std::filesystem::path& dir, bool v2) {
  CgroupReadResult r;
  int dirfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dirfd < 0) return r;  // no memory cgroup for this unit (gone, or accounting off)
  struct stat st {};
  if (::fstat(dirfd, &st) == 0) r.memory.generation = st.st_ino;
  CgroupMemory& m = r.memory;
  int& e = r.errors;
  if (v2) {
    m.usage = read_u64_at(dirfd, "memory.current", e);
    if (auto t = read_at(dirfd, "memory.max", e)) m.limit = parse_limit(*t);
    m.swap = read_u64_at(dirfd, "memory.swap.current", e);
    if (auto t = read_at(dirfd, "memory.stat", e)) {
      m.anon = parse_keyed_value(*t, "anon");
      m.file = parse_keyed_value(*t, "file");
      m.inactive_file = parse_keyed_value(*t, "inactive_file");
    }
    if (auto t = read_at(dirfd, "memory.events", e))
      m.oom_kills = parse_keyed_value(*t, "oom_kill");
  } else {
    m.usage = read_u64_at(dirfd, "memory.usage_in_bytes", e);
    if (auto t = read_at(dirfd, "memory.limit_in_bytes", e)) m.limit = parse_limit(*t);
    if (auto memsw = read_u64_at(dirfd, "memory.memsw.usage_in_bytes", e); memsw && m.usage)
      m.swap = *memsw > *m.usage ? *memsw - *m.usage : 0;
    if (auto t = read_at(dirfd, "memory.stat", e)) {
      // total_* include child cgroups, as v2's memory.stat does.
      m.anon = parse_keyed_value(*t, "total_rss");
      m.file = parse_keyed_value(*t, "total_cache");
      m.inactive_file = parse_keyed_value(*t, "total_inactive_file");
    }
    if (auto t = read_at(dirfd, "memory.oom_control", e))
      m.oom_kills = parse_keyed_value(*t, "oom_kill");
    m.failcnt = read_u64_at(dirfd, "memory.failcnt", e);
  }
  m.present = m.usage.has_value();
  ::close(dirfd);
  return r;
}

}  // namespace mobasher
