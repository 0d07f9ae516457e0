// Scan cost on the real /proc and /sys/fs/cgroup of this host (bench/run.sh sets the scenario up:
// 6 archiver@bN.service unit cgroups x 3 processes, among N unrelated processes).
//
//   BM_Scan               steady-state Scanner::scan: discovery searched once before timing,
//                         then only the known slices are re-listed (discovery_interval = 1h)
//   BM_ScanFastInterval   the same with the clock stepping 1 s (v1 cgroup.procs re-opened)
//   BM_ScanPaced/MS       the same, the thread asleep MS ms before each scan (cold caches, as in
//                         the daemon); thread CPU time of the scan alone
//   BM_ScanWithDiscovery  the same with a full bounded hierarchy search on every iteration
//   BM_ScanFallbackMode   Scanner::scan with a group that matches by comm (the /proc fallback
//                         mode end to end: walk all of /proc, then sample the matched trees)
//   BM_ProcScanFallback   ProcScan::scan alone (the /proc walk + regex match + tree building)
//   BM_MinimalCLoop       the floor: opendir /proc, for each pid open+read+close stat and statm
//
// Environment (all optional; run.sh sets them):
//   MOBASHER_BENCH_UNITS      unit glob,           default "archiver@b[0-9]*.service"
//   MOBASHER_BENCH_COMM       comm regex,          default "^archiver-bench$"
//   MOBASHER_BENCH_PROC       proc root,           default /proc
//   MOBASHER_BENCH_CGROUP     cgroup root,         default /sys/fs/cgroup
// Counters: units / processes found per scan, so a wrong scenario is visible in the output.
#include <benchmark/benchmark.h>
#include <dirent.h>
#include <fcntl.h>
#include <unistd.h>

#include <cstdlib>
#include <ctime>
#include <string>
#include <thread>

#include "agent/config/config.hpp"
#include "collectors/proc_scan.hpp"
#include "collectors/scanner.hpp"

namespace {

using mobasher::Config;

std::string env_or(const char* name, const char* fallback) {
  const char* v = std::getenv(name);
  return v && *v ? std::string(v) : std::string(fallback);
}

std::string units_glob() {
  return env_or("MOBASHER_BENCH_UNITS", "archiver@b[0-9]*.service");
}
std::string comm_regex() {
  return env_or("MOBASHER_BENCH_COMM", "^archiver-bench$");
}
std::string proc_root() {
  return env_or("MOBASHER_BENCH_PROC", "/proc");
}
std::string cgroup_root() {
  return env_or("MOBASHER_BENCH_CGROUP", "/sys/fs/cgroup");
}

// JSON string escaping for the few characters a glob/regex from the environment may contain.
std::string quoted(const std::string& s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  return out + "\"";
}

Config units_config(const char* discovery_interval) {
  std::string text =
      std::string("{\"scan_interval\": \"1s\", \"discovery_interval\": \"") + discovery_interval +
      "\", \"groups\": [{\"name\": \"archiver\", \"units\": " + quoted(units_glob()) +
      ", \"memory_limit\": \"2G\", \"warn\": \"1.5G\", \"critical\": \"95%\"}]}";
  return mobasher::parse_config(text, "scan_bench");
}

Config match_config() {
  std::string text =
      "{\"scan_interval\": \"1s\", \"groups\": [{\"name\": \"archiver\", \"match\": {\"comm\": " +
      quoted(comm_regex()) +
      "}, \"memory_limit\": \"2G\", \"warn\": \"1.5G\", \"critical\": \"95%\"}]}";
  return mobasher::parse_config(text, "scan_bench");
}

mobasher::ScannerOptions scanner_options() {
  return {proc_root(), cgroup_root()};
}

void count(benchmark::State& state, const mobasher::Snapshot& snap) {
  size_t procs = 0;
  for (const auto& u : snap.units) procs += u.processes.size();
  state.counters["units"] = static_cast<double>(snap.units.size());
  state.counters["processes"] = static_cast<double>(procs);
}

// Monotonic time that advances 1 s per iteration, so the scanner's discovery schedule is
// deterministic: with a 1 h discovery_interval no timed scan searches (BM_Scan), with 10 ms every
// timed scan does (BM_ScanWithDiscovery).
// The scan's monotonic clock advancing by the default scan_interval (5 s) per scan. (Below 2 s
// the v1 reader re-opens cgroup.procs every scan: BM_ScanFastInterval measures that case.)
double thread_cpu_seconds() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}

struct FakeMono {
  std::chrono::steady_clock::duration step = std::chrono::seconds(5);
  std::chrono::steady_clock::time_point t{};
  std::chrono::steady_clock::time_point next() { return t += step; }
};

void BM_Scan(benchmark::State& state) {
  mobasher::Scanner scanner(scanner_options(), units_config("1h"));
  FakeMono mono;
  auto snap = scanner.scan(mobasher::WallClock::now(), mono.next());  // the one search
  for (auto _ : state) {
    snap = scanner.scan(mobasher::WallClock::now(), mono.next());
    benchmark::DoNotOptimize(snap);
  }
  count(state, snap);
}
BENCHMARK(BM_Scan);

void BM_ScanFastInterval(benchmark::State& state) {  // scan_interval 1 s
  mobasher::Scanner scanner(scanner_options(), units_config("1h"));
  FakeMono mono{std::chrono::seconds(1)};
  auto snap = scanner.scan(mobasher::WallClock::now(), mono.next());
  for (auto _ : state) {
    snap = scanner.scan(mobasher::WallClock::now(), mono.next());
    benchmark::DoNotOptimize(snap);
  }
  count(state, snap);
}
BENCHMARK(BM_ScanFastInterval);

// The scan as the daemon runs it: the thread sleeps ARG ms between scans (its caches and the
// kernel's go cold), and only the scan's own CPU time counts (CLOCK_THREAD_CPUTIME_ID, manual
// time). Against BM_ScanFastInterval it shows what running once a second costs over a hot loop.
void BM_ScanPaced(benchmark::State& state) {
  mobasher::Scanner scanner(scanner_options(), units_config("1h"));
  FakeMono mono{std::chrono::seconds(1)};
  auto snap = scanner.scan(mobasher::WallClock::now(), mono.next());
  for (auto _ : state) {
    std::this_thread::sleep_for(std::chrono::milliseconds(state.range(0)));
    const double before = thread_cpu_seconds();
    snap = scanner.scan(mobasher::WallClock::now(), mono.next());
    state.SetIterationTime(thread_cpu_seconds() - before);
    benchmark::DoNotOptimize(snap);
  }
  count(state, snap);
}
BENCHMARK(BM_ScanPaced)->Arg(10)->Arg(250)->Iterations(20)->UseManualTime();

void BM_ScanWithDiscovery(benchmark::State& state) {
  // discovery_interval 10ms (the config minimum) with the clock advancing 1 s per scan: every
  // scan is a full bounded search of the membership hierarchy.
  mobasher::Scanner scanner(scanner_options(), units_config("10ms"));
  FakeMono mono;
  auto snap = scanner.scan(mobasher::WallClock::now(), mono.next());
  for (auto _ : state) {
    snap = scanner.scan(mobasher::WallClock::now(), mono.next());
    benchmark::DoNotOptimize(snap);
  }
  count(state, snap);
}
BENCHMARK(BM_ScanWithDiscovery);

void BM_ScanFallbackMode(benchmark::State& state) {
  mobasher::Scanner scanner(scanner_options(), match_config());
  FakeMono mono;
  auto snap = scanner.scan(mobasher::WallClock::now(), mono.next());
  for (auto _ : state) {
    snap = scanner.scan(mobasher::WallClock::now(), mono.next());
    benchmark::DoNotOptimize(snap);
  }
  count(state, snap);
}
BENCHMARK(BM_ScanFallbackMode);

void BM_ProcScanFallback(benchmark::State& state) {
  Config c = match_config();
  std::vector<mobasher::MatchGroup> groups{{c.groups.at(0).name, *c.groups.at(0).match}};
  mobasher::ProcScan ps(proc_root(), groups);
  auto trees = ps.scan();
  for (auto _ : state) {
    trees = ps.scan();
    benchmark::DoNotOptimize(trees);
  }
  size_t procs = 0;
  for (const auto& t : trees) procs += t.members.size();
  state.counters["units"] = static_cast<double>(trees.size());
  state.counters["processes"] = static_cast<double>(procs);
  state.counters["seen"] = static_cast<double>(ps.processes_seen());
}
BENCHMARK(BM_ProcScanFallback);

// The floor for anything that walks /proc: no parsing, no allocation, no matching.
void BM_MinimalCLoop(benchmark::State& state) {
  const std::string root = proc_root();
  char buf[4096];
  size_t seen = 0;
  for (auto _ : state) {
    seen = 0;
    DIR* d = opendir(root.c_str());
    if (!d) {
      state.SkipWithError("opendir /proc");
      break;
    }
    int dfd = dirfd(d);
    while (dirent* e = readdir(d)) {
      if (e->d_name[0] < '0' || e->d_name[0] > '9') continue;
      char rel[sizeof(e->d_name) + 8];
      const char* files[] = {"stat", "statm"};
      for (const char* f : files) {
        snprintf(rel, sizeof rel, "%s/%s", e->d_name, f);
        int fd = openat(dfd, rel, O_RDONLY | O_CLOEXEC);
        if (fd < 0) continue;
        ssize_t n = read(fd, buf, sizeof buf);
        benchmark::DoNotOptimize(n);
        close(fd);
      }
      ++seen;
    }
    closedir(d);
  }
  state.counters["seen"] = static_cast<double>(seen);
}
BENCHMARK(BM_MinimalCLoop);

}  // namespace

BENCHMARK_MAIN();
