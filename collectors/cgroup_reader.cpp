#include "collectors/cgroup_reader.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>

#include "collectors/proc_reader.hpp"
#include "collectors/text_fields.hpp"

namespace mobasher {
namespace {

// The file names of each slot, v1 and v2 (memory.swap.current / memsw for kSwap).
const char* slot_name(int slot, bool v2) {
  static constexpr const char* kV2[] = {"memory.current", "memory.max",    "memory.swap.current",
                                        "memory.stat",    "memory.events", nullptr};
  static constexpr const char* kV1[] = {"memory.usage_in_bytes",       "memory.limit_in_bytes",
                                        "memory.memsw.usage_in_bytes", "memory.stat",
                                        "memory.oom_control",          "memory.failcnt"};
  return v2 ? kV2[slot] : kV1[slot];
}

void collect_pids(const std::filesystem::path& dir, int depth, std::vector<pid_t>& out);

// A directory's link count is 2 + its subdirectories: no listing when there are none.
bool may_have_subdirs(const struct stat& st) {
  return st.st_nlink != 2;
}

// PIDs of the child cgroups of dir, down to `depth` levels; st: dir's stat, if known.
void collect_child_pids(const std::filesystem::path& dir, int depth, std::vector<pid_t>& out,
                        const struct stat* known = nullptr) {
  if (depth <= 0) return;
  struct stat st {};
  if (known) st = *known;
  if ((known || ::stat(dir.c_str(), &st) == 0) && !may_have_subdirs(st)) return;
  std::error_code ec;
  for (auto it = std::filesystem::directory_iterator(dir, ec);
       !ec && it != std::filesystem::directory_iterator(); it.increment(ec)) {
    if (it->is_directory(ec)) collect_pids(it->path(), depth - 1, out);
  }
}

void collect_pids(const std::filesystem::path& dir, int depth, std::vector<pid_t>& out) {
  if (auto text = read_small_file(dir / "cgroup.procs", Records::many)) {
    auto pids = parse_cgroup_procs(*text);
    out.insert(out.end(), pids.begin(), pids.end());
  }
  collect_child_pids(dir, depth, out);
}

}  // namespace

std::vector<pid_t> parse_cgroup_procs(std::string_view text) {
  std::vector<pid_t> pids;
  for_each_line(text, [&](std::string_view line) {
    if (auto v = parse_u64(line); v && *v > 0) pids.push_back(static_cast<pid_t>(*v));
  });
  return pids;
}

void parse_keyed_values(std::string_view text, std::span<const std::string_view> keys,
                        std::span<std::optional<uint64_t>> out) {
  uint64_t found = 0, all = keys.size() >= 64 ? ~0ull : (1ull << keys.size()) - 1;
  while (!text.empty() && found != all) {
    size_t nl = text.find('\n');
    std::string_view line = text.substr(0, nl);
    text.remove_prefix(nl == std::string_view::npos ? text.size() : nl + 1);
    size_t space = line.find(' ');
    if (space == std::string_view::npos) continue;
    std::string_view key = line.substr(0, space);
    for (size_t i = 0; i < keys.size() && i < 64; ++i) {
      if (key != keys[i] || (found & (1ull << i))) continue;
      out[i] = parse_u64(line.substr(space + 1));
      found |= 1ull << i;
      break;
    }
  }
}

std::optional<uint64_t> parse_keyed_value(std::string_view text, std::string_view key) {
  std::optional<uint64_t> v;
  parse_keyed_values(text, {&key, 1}, {&v, 1});
  return v;
}

std::optional<uint64_t> parse_limit(std::string_view text) {
  while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) text.remove_suffix(1);
  if (text == "max") return std::nullopt;
  auto v = parse_u64(text);
  if (!v || *v >= (1ull << 62)) return std::nullopt;  // v1 reports "unlimited" as ~2^63
  return v;
}

UnitCgroupFiles::UnitCgroupFiles(std::filesystem::path membership_dir,
                                 std::filesystem::path memory_dir, bool v2, int max_depth)
    : membership_(std::move(membership_dir)),
      memory_dir_(std::move(memory_dir)),
      v2_(v2),
      max_depth_(max_depth) {}

UnitCgroupFiles::~UnitCgroupFiles() = default;

void UnitCgroupFiles::close_memory() {
  for (Fd& fd : mem_fd_) fd.reset();
  generation_ = 0;
}

bool UnitCgroupFiles::open_memory(uint64_t inode) {
  close_memory();  // generation_ 0 until the usage file, which every layout has, is open
  for (int s = 0; s < kSlots; ++s)
    if (const char* name = slot_name(s, v2_)) mem_fd_[s] = Fd(open_ro(memory_dir_ / name));
  generation_ = inode;
  return static_cast<bool>(mem_fd_[kUsage]);
}

// The membership directory stays open: cgroup.procs is opened relative to it and its link count
// read with fstat (no walk of the ~7 directories of the path). A removed cgroup's directory
// holds nothing (openat fails, a kept cgroup.procs reads ENODEV): then both are opened anew from
// the path, as the cgroup may have been made again (a restarted unit).
std::optional<std::string_view> UnitCgroupFiles::read_procs(bool reopen) {
  for (int attempt = 0; attempt < 2; ++attempt) {
    if (attempt == 1) {
      dir_.reset();
      procs_.reset();
    }
    if (!dir_) dir_ = Fd(::open(membership_.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (!dir_) return std::nullopt;  // gone
    if (!procs_ || reopen) procs_ = Fd(::openat(dir_.get(), "cgroup.procs", O_RDONLY | O_CLOEXEC));
    if (!procs_) continue;
    if (auto text = pread_whole(procs_.get(), buf_, Records::many)) return text;
  }
  return std::nullopt;
}

std::vector<pid_t> UnitCgroupFiles::pids(std::chrono::steady_clock::time_point now) {
  std::vector<pid_t> out;
  // v1 builds cgroup.procs' list at the first read after an open and hands it to every re-read
  // from offset 0 until it has gone unused for 1 s (CGROUP_PIDLIST_DESTROY_DELAY): with a kept
  // fd and scans under 1 s apart, a process that joined later was never seen. So re-open when
  // the last read is recent (an openat in the kept directory); at the default 5 s interval the
  // kernel has dropped the list and the kept fd reads afresh. v2 lists afresh every read.
  constexpr auto kPidlistKept = std::chrono::seconds(2);  // the kernel's 1 s, with slack
  bool reopen = !v2_ && (now == std::chrono::steady_clock::time_point{} || !last_procs_read_ ||
                         now - *last_procs_read_ < kPidlistKept);
  last_procs_read_ = now;
  if (auto text = read_procs(reopen)) out = parse_cgroup_procs(*text);
  struct stat st {};
  if (dir_ && ::fstat(dir_.get(), &st) == 0) collect_child_pids(membership_, max_depth_, out, &st);
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());  // v1 may list a PID twice
  return out;
}

// One memory file's text into r (the slots are read in order: swap on v1 needs the usage).
void UnitCgroupFiles::parse_slot(Slot s, std::string_view text, CgroupReadResult& r) const {
  CgroupMemory& m = r.memory;
  switch (s) {
    case kUsage:
      m.usage = parse_u64(text);
      if (!m.usage) ++r.errors;
      break;
    case kLimit:
      m.limit = parse_limit(text);
      break;
    case kSwap: {
      auto v = parse_u64(text);
      if (!v)
        ++r.errors;
      else if (v2_)
        m.swap = v;
      else if (m.usage)
        m.swap = *v > *m.usage ? *v - *m.usage : 0;  // memsw - usage
      break;
    }
    case kStat: {
      // v1: total_* include child cgroups, as v2's memory.stat does.
      static constexpr std::string_view kV2Keys[] = {"anon", "file", "inactive_file"};
      static constexpr std::string_view kV1Keys[] = {"total_rss", "total_cache",
                                                     "total_inactive_file"};
      std::optional<uint64_t> v[3];
      parse_keyed_values(text, v2_ ? kV2Keys : kV1Keys, v);
      m.anon = v[0];
      m.file = v[1];
      m.inactive_file = v[2];
      break;
    }
    case kEvents:
      m.oom_kills = parse_keyed_value(text, "oom_kill");
      break;
    case kFailcnt:
      m.failcnt = parse_u64(text);
      break;
    case kSlots:
      break;
  }
}

// Kept descriptors read the same cgroup until it is removed; systemd recreates a unit's cgroup
// when it restarts it (a new inode: new counters, generation). A removed cgroup's files fail to
// read (ENODEV) and an unlinked file has no links left (fstat: also what fixture trees show), so
// one fstat per scan replaces a stat of the path (a walk of ~7 directories); then the files are
// opened anew from the path, once per scan at most.
CgroupReadResult UnitCgroupFiles::memory() {
  if (memory_dir_.empty()) return {};
  for (int attempt = 0; attempt < 2; ++attempt) {
    struct stat st {};
    if (generation_ != 0 && (::fstat(mem_fd_[kUsage].get(), &st) != 0 || st.st_nlink == 0))
      close_memory();
    if (generation_ == 0) {
      if (::stat(memory_dir_.c_str(), &st) != 0)
        return {};  // no memory cgroup for this unit (gone, or accounting off)
      if (!open_memory(st.st_ino)) {
        close_memory();
        return {};
      }
    }
    if (auto r = read_memory()) return *r;
    close_memory();  // removed while being read: once more from the path
  }
  return {};
}

// Every memory file of the open cgroup; nullopt when one fails to read (the cgroup is gone).
std::optional<CgroupReadResult> UnitCgroupFiles::read_memory() {
  CgroupReadResult r;
  r.memory.generation = generation_;
  for (int s = 0; s < kSlots; ++s) {
    if (!mem_fd_[s]) continue;  // kernel configuration decides which files exist
    auto t = pread_whole(mem_fd_[s].get(), buf_);
    if (!t) return std::nullopt;
    parse_slot(static_cast<Slot>(s), *t, r);  // *t: valid until the next pread into buf_
  }
  r.memory.present = r.memory.usage.has_value();
  return r;
}

std::vector<pid_t> read_cgroup_pids(const std::filesystem::path& dir, int max_depth) {
  return UnitCgroupFiles(dir, {}, false, max_depth).pids();
}

CgroupReadResult read_cgroup_memory(const std::filesystem::path& dir, bool v2) {
  return UnitCgroupFiles({}, dir, v2).memory();
}

}  // namespace mobasher
