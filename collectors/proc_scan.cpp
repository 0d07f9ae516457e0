#include "collectors/proc_scan.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <memory>
#include <unordered_map>

#include "collectors/proc_reader.hpp"

namespace mobasher {
namespace {

bool is_pid(const char* name, pid_t& pid) {
  pid_t v = 0;
  if (!*name) return false;
  for (const char* p = name; *p; ++p) {
    if (*p < '0' || *p > '9') return false;
    v = v * 10 + (*p - '0');
  }
  pid = v;
  return true;
}

// One open+read+close of a small /proc file into buf; false if the process is gone.
bool read_into(int dirfd, const std::string& rel, std::string& buf) {
  int fd = ::openat(dirfd, rel.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return false;
  buf.resize(4096);
  ssize_t n = ::read(fd, buf.data(), buf.size());
  ::close(fd);
  if (n <= 0) return false;
  buf.resize(static_cast<size_t>(n));
  return true;
}

}  // namespace

ProcScan::ProcScan(std::filesystem::path proc_root, std::vector<MatchGroup> groups,
                   size_t max_cmdline_cache)
    : root_(std::move(proc_root)), groups_(std::move(groups)), max_cache_(max_cmdline_cache) {}

const std::string& ProcScan::cmdline(const Entry& e) {
  auto key = std::make_pair(ProcessId{e.pid, e.start_time}, e.comm);
  auto it = cmdlines_.find(key);
  if (it == cmdlines_.end()) {
    std::string text;
    if (auto t = read_small_file(root_ / std::to_string(e.pid) / "cmdline", Records::until_empty))
      text = std::move(*t);
    while (!text.empty() && text.back() == '\0') text.pop_back();
    for (char& c : text)
      if (c == '\0') c = ' ';
    if (cmdlines_.size() >= max_cache_) {
      buf_ = std::move(text);  // cache full: match without remembering
      return buf_;
    }
    it = cmdlines_.emplace(std::move(key), Cached{std::move(text), true}).first;
  }
  it->second.seen = true;
  return it->second.cmdline;
}

int ProcScan::match(const Entry& e, std::string& channel) {
  for (size_t i = 0; i < groups_.size(); ++i) {
    const ProcessMatch& m = groups_[i].match;
    std::string comm_group, cmdline_group;
    if (m.comm && !m.comm->search(e.comm, &comm_group)) continue;
    if (m.cmdline && !m.cmdline->search(cmdline(e), &cmdline_group)) continue;
    // The channel: the cmdline's first capture group, else the comm's, else the PID.
    channel = !cmdline_group.empty() ? cmdline_group
              : !comm_group.empty()  ? comm_group
                                     : std::to_string(e.pid);
    channel = valid_utf8(channel);
    return static_cast<int>(i);
  }
  return -1;
}

std::vector<MatchedTree> ProcScan::scan() {
  std::vector<Entry> all = read_all();
  seen_ = all.size();
  std::vector<MatchedTree> out = trees(all);
  for (auto it = cmdlines_.begin(); it != cmdlines_.end();) {  // forget exited processes
    if (!it->second.seen)
      it = cmdlines_.erase(it);
    else
      (it++)->second.seen = false;
  }
  return out;
}

// Every live process's PID, parent, start time and comm (one read of /proc/PID/stat each).
std::vector<ProcScan::Entry> ProcScan::read_all() const {
  std::vector<Entry> all;
  std::unique_ptr<DIR, int (*)(DIR*)> dir(::opendir(root_.c_str()), ::closedir);
  if (!dir) return all;
  int dirfd = ::dirfd(dir.get());
  std::string buf, rel;
  while (dirent* d = ::readdir(dir.get())) {
    pid_t pid;
    if (!is_pid(d->d_name, pid)) continue;
    rel.assign(d->d_name).append("/stat");
    if (!read_into(dirfd, rel, buf)) continue;  // exited between readdir and open: normal
    auto st = parse_proc_stat(buf);
    if (!st || st->state == 'Z') continue;
    all.push_back({pid, st->ppid, st->start_time, std::move(st->comm)});
  }
  return all;
}

// The trees of the matching processes that have no matching ancestor, each with its
// descendants; trees that name the same channel of the same group are one unit (e.g. a script
// that runs one process per stream of a channel).
std::vector<MatchedTree> ProcScan::trees(const std::vector<Entry>& all) {
  std::unordered_map<pid_t, size_t> index;
  std::unordered_map<pid_t, std::vector<size_t>> children;
  index.reserve(all.size());
  for (size_t i = 0; i < all.size(); ++i) {
    index[all[i].pid] = i;
    children[all[i].ppid].push_back(i);
  }
  std::vector<int> matched(all.size(), -1);
  std::vector<std::string> channels(all.size());
  for (size_t i = 0; i < all.size(); ++i) matched[i] = match(all[i], channels[i]);

  // A matched process below another matched one belongs to that one's tree. /proc is read one
  // process at a time, so a reused PID can close a loop of parents (A's parent B, B's parent A):
  // within such a loop the matched process with the lowest PID is the root.
  auto nested = [&](size_t i) {
    std::vector<size_t> up;  // ancestors, nearest first
    bool loop_through_i = false;
    for (pid_t p = all[i].ppid; up.size() < 64 && p > 1;) {
      auto it = index.find(p);
      if (it == index.end() || std::find(up.begin(), up.end(), it->second) != up.end()) break;
      if (it->second == i) {
        loop_through_i = true;
        break;
      }
      up.push_back(it->second);
      p = all[it->second].ppid;
    }
    return std::any_of(up.begin(), up.end(), [&](size_t a) {
      return matched[a] >= 0 && (!loop_through_i || all[a].pid < all[i].pid);
    });
  };
  std::vector<MatchedTree> out;
  std::vector<bool> taken(all.size(), false);  // each process in one tree, once
  for (size_t i = 0; i < all.size(); ++i) {
    if (matched[i] < 0 || taken[i] || nested(i)) continue;
    const std::string& group = groups_[static_cast<size_t>(matched[i])].group;
    auto same = std::find_if(out.begin(), out.end(),
                             [&](auto& t) { return t.group == group && t.channel == channels[i]; });
    if (same == out.end())
      same = out.insert(out.end(), MatchedTree{group, channels[i], all[i].pid, {}});
    std::vector<size_t> todo{i};
    while (!todo.empty() && same->members.size() < 4096) {
      size_t cur = todo.back();
      todo.pop_back();
      if (taken[cur]) continue;
      taken[cur] = true;
      same->members.push_back(all[cur].pid);
      if (auto it = children.find(all[cur].pid); it != children.end())
        todo.insert(todo.end(), it->second.begin(), it->second.end());
    }
  }
  return out;
}

}  // namespace mobasher
