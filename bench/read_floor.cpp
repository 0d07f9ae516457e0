// read_floor INTERVAL_MS COUNT KEPT... [-- REOPENED...]: the floor under a scan's CPU cost, the
// kernel's side of it. Every INTERVAL_MS it reads each KEPT file whole from offset 0 through a
// descriptor kept open, with the agent's own pread_whole (as the agent reads /proc/PID/status,
// memory.* and the node's files: one pread a file where the agent needs one), and each REOPENED
// file through a fresh openat of it (as the agent reads v1 cgroup.procs at intervals under 2 s),
// and nothing else: no parsing, no allocation, no metrics. It prints the CPU time the
// reads took (CLOCK_THREAD_CPUTIME_ID around them), median and mean over COUNT rounds, after one
// unmeasured round. bench/run.sh runs it in the scenario with the agent's own files at the
// agent's pace (docs/BENCHMARKS.md, "The floor").
#include <fcntl.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <numeric>
#include <string>
#include <vector>

#include "collectors/proc_reader.hpp"

namespace {

double thread_cpu_us() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) * 1e6 + static_cast<double>(ts.tv_nsec) / 1e3;
}

// The agent's own read: from offset 0 into a reused buffer, ended by a short read as the agent
// ends it (Records::many: a read shorter than a page minus a record; every file here is either a
// seq_file of records, cgroup.procs and vmstat, or made in one piece and far shorter than that).
size_t read_whole(int fd, std::string& buf) {
  auto text = mobasher::pread_whole(fd, buf, mobasher::Records::many);
  return text ? text->size() : 0;
}

// One round: every kept file, then every reopened one; the CPU time it took, or -1 (said on
// stderr, naming the file) when a file could not be opened: a round that skipped one would
// under-measure.
double read_round(const std::vector<int>& kept, const std::vector<const char*>& reopened,
                  std::string& buf, size_t& bytes) {
  const double t0 = thread_cpu_us();
  bytes = 0;
  for (int fd : kept) bytes += read_whole(fd, buf);
  for (const char* path : reopened) {
    int fd = ::open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
      std::fprintf(stderr, "read_floor: cannot open %s: %s\n", path, std::strerror(errno));
      return -1;
    }
    bytes += read_whole(fd, buf);
    ::close(fd);
  }
  return thread_cpu_us() - t0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 4) {
    std::fprintf(stderr, "usage: read_floor INTERVAL_MS COUNT KEPT... [-- REOPENED...]\n");
    return 2;
  }
  char* end = nullptr;
  const long interval_ms = std::strtol(argv[1], &end, 10);
  if (*end != '\0' || interval_ms < 0) {
    std::fprintf(stderr, "read_floor: INTERVAL_MS '%s' is not a whole number >= 0\n", argv[1]);
    return 2;
  }
  const long count = std::strtol(argv[2], &end, 10);
  if (*end != '\0' || count < 1 || count > 1000000) {
    std::fprintf(stderr, "read_floor: COUNT '%s' is not a whole number from 1 to 1000000\n",
                 argv[2]);
    return 2;
  }
  std::vector<int> kept;
  std::vector<const char*> reopened;
  bool after_dashes = false;
  for (int i = 3; i < argc; ++i) {
    if (std::strcmp(argv[i], "--") == 0) {
      after_dashes = true;
    } else if (after_dashes) {
      reopened.push_back(argv[i]);
    } else {
      int fd = ::open(argv[i], O_RDONLY | O_CLOEXEC);
      if (fd < 0) {
        std::fprintf(stderr, "read_floor: cannot open %s: %s\n", argv[i], std::strerror(errno));
        return 1;
      }
      kept.push_back(fd);
    }
  }
  std::string buf;
  std::vector<double> rounds;
  size_t bytes = 0;
  for (long r = 0; r <= count; ++r) {
    timespec pause{interval_ms / 1000, (interval_ms % 1000) * 1000000};
    nanosleep(&pause, nullptr);
    const double spent = read_round(kept, reopened, buf, bytes);
    if (spent < 0) return 1;
    if (r > 0) rounds.push_back(spent);  // the first round opens caches: not measured
  }
  std::vector<double> sorted = rounds;
  std::sort(sorted.begin(), sorted.end());
  const double median = sorted[sorted.size() / 2];
  const double mean = std::accumulate(rounds.begin(), rounds.end(), 0.0) / rounds.size();
  std::printf(
      "{\"files_kept\": %zu, \"files_reopened\": %zu, \"bytes_per_round\": %zu, \"rounds\": %ld, "
      "\"interval_ms\": %ld, \"cpu_us_median\": %.1f, \"cpu_us_mean\": %.1f}\n",
      kept.size(), reopened.size(), bytes, count, interval_ms, median, mean);
  return 0;
}
