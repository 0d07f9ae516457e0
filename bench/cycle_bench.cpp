// One scan cycle of the daemon, stage by stage, on the real /proc and /sys/fs/cgroup of this host
// (bench/run.sh sets the scenario up: 6 archiver@bN.service unit cgroups x 3 processes among N
// unrelated processes). Each stage runs what the daemon runs for it (agent/app/daemon.cpp):
//
//   BM_StageScan      Scanner::scan (steady state: discovery searched before timing)
//   BM_StageTrack     UnitTracker::apply (restarts, OOM kills, growth, events)
//   BM_StageAlerts    AlertEvaluator::evaluate
//   BM_StagePolicy    Policy::decide (the restart policy; nothing due)
//   BM_StageHistory   HistoryRecorder::record (events, alert transitions, one sample per unit:
//                     as at every history.interval; the writer thread's I/O is not timed)
//   BM_StageRender    render() and the /metrics body the first scrape makes (the status JSON
//                     and page are made only when asked for), without a cache: every family
//                     serialized, the upper bound
//   BM_StageScrape    a later scrape: the kept body copied out of the publication
//   BM_Cycle          Pipeline::step + the outputs above + one scrape: the whole cycle of a scan
//                     with one scrape per scan (the HTTP request itself not included), rendered
//                     as the daemon does, through its ExpositionCache; every scan every unit's
//                     processes and cgroup grow by a page, as leaking recorders do, so their
//                     memory families change each time (what stays is what a real host keeps:
//                     limits, thresholds, counters, alert states)
//
// (BM_Cycle: the daemon's restarter adds systemd's properties and Policy::decide; here
// decide is called directly, without a bus.)
// Environment: MOBASHER_BENCH_UNITS, MOBASHER_BENCH_PROC, MOBASHER_BENCH_CGROUP as scan_bench.
#include <benchmark/benchmark.h>

#include <cstdlib>
#include <filesystem>
#include <string>

#include "agent/app/pipeline.hpp"
#include "agent/config/config.hpp"
#include "agent/state/policy.hpp"
#include "exporters/history/history_recorder.hpp"
#include "exporters/http/publish.hpp"

namespace {

using namespace mobasher;

std::string env_or(const char* name, const char* fallback) {
  const char* v = std::getenv(name);
  return v && *v ? std::string(v) : std::string(fallback);
}

Config bench_config(const std::string& state_dir) {
  std::string text =
      "{\"scan_interval\": \"5s\", \"discovery_interval\": \"1h\", \"state_dir\": \"" + state_dir +
      "\", \"groups\": [{\"name\": \"archiver\", \"units\": \"" +
      env_or("MOBASHER_BENCH_UNITS", "archiver@b[0-9]*.service") +
      "\", \"memory_limit\": \"2G\", \"warn\": \"1.5G\", \"critical\": \"95%\", "
      "\"restart\": {\"on_memory\": \"90%\", \"max_age\": \"4h\", \"predict\": "
      "\"10m\"}}]}";
  return parse_config(text, "cycle_bench");
}

ScannerOptions bench_roots() {
  return {env_or("MOBASHER_BENCH_PROC", "/proc"),
          env_or("MOBASHER_BENCH_CGROUP", "/sys/fs/cgroup")};
}

// The pipeline with a clock advancing one scan_interval per call, its tracker warmed up.
struct Cycle {
  std::filesystem::path dir = std::filesystem::temp_directory_path() /
                              ("mobasher-cycle-bench-" + std::to_string(::getpid()));
  Config cfg = bench_config(dir.string());
  Pipeline pipeline{bench_roots(), cfg, "bench"};
  WallTime wall = WallClock::now();
  std::chrono::steady_clock::time_point steady = std::chrono::steady_clock::now();
  AgentStats stats;

  Cycle() {
    stats.version = "bench";
    for (int i = 0; i < 3; ++i) step();
  }
  ~Cycle() {
    std::error_code ec;
    std::filesystem::remove_all(dir, ec);
  }
  ScanStep step() {
    wall += cfg.scan_interval;
    steady += cfg.scan_interval;
    return pipeline.step(nullptr, wall, steady);
  }
  Snapshot snapshot() { return *step().snapshot; }
};

void counters(benchmark::State& state, const Snapshot& snap) {
  size_t procs = 0;
  for (const auto& u : snap.units) procs += u.processes.size();
  state.counters["units"] = static_cast<double>(snap.units.size());
  state.counters["processes"] = static_cast<double>(procs);
}

void BM_StageScan(benchmark::State& state) {
  Cycle c;
  Scanner scanner(bench_roots(), c.cfg);
  Snapshot snap;
  for (auto _ : state) {
    c.wall += c.cfg.scan_interval, c.steady += c.cfg.scan_interval;
    snap = scanner.scan(c.wall, c.steady);
  }
  counters(state, snap);
}
BENCHMARK(BM_StageScan);

// The tracker and the evaluator on copies of one scanned snapshot, a scan apart each time.
template <typename Stage>
void on_snapshots(benchmark::State& state, Stage&& stage) {
  Cycle c;
  Snapshot base = c.snapshot();
  Snapshot snap;
  for (auto _ : state) {
    state.PauseTiming();
    snap = base;
    base.taken_at += c.cfg.scan_interval;
    base.boot_seconds += seconds(c.cfg.scan_interval);
    state.ResumeTiming();
    stage(snap);
  }
  counters(state, snap);
}

void BM_StageTrack(benchmark::State& state) {
  UnitTracker tracker(tracker_options(Config{}));
  on_snapshots(state, [&](Snapshot& s) { tracker.apply(s); });
}
BENCHMARK(BM_StageTrack);

void BM_StageAlerts(benchmark::State& state) {
  AlertEvaluator alerts(alert_settings(bench_config("/tmp"), "bench"));
  on_snapshots(state, [&](Snapshot& s) { benchmark::DoNotOptimize(alerts.evaluate(s)); });
}
BENCHMARK(BM_StageAlerts);

void BM_StagePolicy(benchmark::State& state) {
  Policy policy(policy_settings(bench_config("/tmp")));
  on_snapshots(state, [&](Snapshot& s) { benchmark::DoNotOptimize(policy.decide(s)); });
}
BENCHMARK(BM_StagePolicy);

void BM_StageHistory(benchmark::State& state) {
  Cycle c;
  HistoryRecorder history(c.cfg);
  auto step = c.step();
  for (auto _ : state) {
    state.PauseTiming();
    auto snap = *step.snapshot;
    snap.taken_at = c.wall += c.cfg.history.interval;  // a sample is due every time
    state.ResumeTiming();
    history.record(snap, step.notes);
  }
  counters(state, *step.snapshot);
}
BENCHMARK(BM_StageHistory);

void BM_StageRender(benchmark::State& state) {
  Cycle c;
  SnapshotPtr snap = c.step().snapshot;
  for (auto _ : state) {
    auto p = render(snap, c.stats, c.cfg);
    benchmark::DoNotOptimize(p->metrics->get());  // made by the first scrape
  }
  counters(state, *snap);
}
BENCHMARK(BM_StageRender);

void BM_StageScrape(benchmark::State& state) {
  Cycle c;
  Publication pub;
  pub.publish(render(c.step().snapshot, c.stats, c.cfg));
  size_t bytes = 0;
  for (auto _ : state) {
    auto p = pub.latest();
    std::string body = p->metrics->get();
    bytes = body.size();
    benchmark::DoNotOptimize(body);
  }
  state.counters["bytes"] = static_cast<double>(bytes);
}
BENCHMARK(BM_StageScrape);

// Every unit's processes and cgroup grew by a page per scan since the first.
void leak(Snapshot& s, uint64_t scans) {
  for (auto& u : s.units) {
    if (u.memory.usage) *u.memory.usage += 4096 * scans;
    for (auto& p : u.processes) p.rss_anon += 4096 * scans;
  }
}

void BM_Cycle(benchmark::State& state) {
  Cycle c;
  HistoryRecorder history(c.cfg);
  Policy policy(policy_settings(c.cfg));  // what the restarter asks every scan
  Publication pub;
  auto cache = std::make_shared<ExpositionCache>();
  SnapshotPtr last;
  uint64_t scans = 0;
  for (auto _ : state) {
    auto step = c.step();
    leak(*step.snapshot, ++scans);
    benchmark::DoNotOptimize(policy.decide(*step.snapshot));
    history.record(*step.snapshot, step.notes);
    pub.publish(render(step.snapshot, c.stats, c.cfg, cache));
    benchmark::DoNotOptimize(pub.latest()->metrics->get());  // one scrape per scan
    last = step.snapshot;
  }
  counters(state, *last);
}
BENCHMARK(BM_Cycle);

}  // namespace

BENCHMARK_MAIN();
