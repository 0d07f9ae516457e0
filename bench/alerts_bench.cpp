// What alerting adds to a scan: evaluating every alert of N units (the loop pays this every
// scan_interval), and writing + removing one outbox file (paid once per notification).
#include <benchmark/benchmark.h>
#include <unistd.h>

#include <filesystem>

#include "agent/state/alerts.hpp"
#include "exporters/alerting/outbox.hpp"
#include "tests/fixtures/snapshots.hpp"

namespace {

using namespace mobasher;

Snapshot units(int n, double t) {
  std::vector<UnitSample> us;
  for (int i = 0; i < n; ++i) {
    fixtures::UnitBuilder b("archiver@ch" + std::to_string(i) + ".service", "archiver");
    // Every third unit above its warning threshold: firing alerts are part of the steady state.
    uint64_t rss = (i % 3 == 0 ? 1600ull : 900ull) << 20;
    b.main(100 + 3 * i, 5000, 4 << 20)
        .child(101 + 3 * i, 5001, rss)
        .child(102 + 3 * i, 5002, 1 << 20);
    b.limits(2ull << 30, 1536ull << 20, 1945ull << 20).cgroup(7, rss, 2ull << 30, 0);
    b.sample().growth_bytes_per_second = 1000;
    b.sample().seconds_to_limit = 3600;
    us.push_back(b);
  }
  Snapshot s = fixtures::snapshot_at(t, std::move(us));
  s.node.mem_total = 32ull << 30;
  s.node.mem_available = 16ull << 30;
  s.node.swap_total = 8ull << 30;
  s.node.swap_free = 8ull << 30;
  return s;
}

void BM_EvaluateAlerts(benchmark::State& state) {
  AlertSettings settings;
  settings.instance = "bench";
  settings.groups = {"archiver"};
  AlertEvaluator e(settings);
  const Snapshot base = units(static_cast<int>(state.range(0)), 1.8e9);
  double t = 1.8e9;
  size_t notes = 0;
  for (auto _ : state) {
    Snapshot s = base;  // the scanner makes a fresh snapshot every scan too
    s.taken_at = fixtures::at_unix(t += 5);
    notes += e.evaluate(s).size();
    benchmark::DoNotOptimize(s);
  }
  state.counters["notifications"] = static_cast<double>(notes);
}
BENCHMARK(BM_EvaluateAlerts)->Arg(6)->Arg(60)->Arg(600);

// Copying the snapshot is part of BM_EvaluateAlerts; this is that copy alone, to subtract.
void BM_SnapshotCopy(benchmark::State& state) {
  const Snapshot base = units(static_cast<int>(state.range(0)), 1.8e9);
  for (auto _ : state) {
    Snapshot s = base;
    benchmark::DoNotOptimize(s);
  }
}
BENCHMARK(BM_SnapshotCopy)->Arg(6)->Arg(60)->Arg(600);

void BM_OutboxPushPop(benchmark::State& state) {
  auto dir = std::filesystem::temp_directory_path() /
             ("mobasher-outbox-bench-" + std::to_string(::getpid()));
  {
    Outbox box(dir, 1000);
    Notification n;
    n.kind = NotificationKind::firing;
    n.alertname = "MobasherUnitMemoryHigh";
    n.labels = {{"alertname", n.alertname}, {"unit", "archiver@ch1.service"}};
    n.fingerprint = label_fingerprint(n.labels);
    n.annotations = {{"summary", std::string(120, 's')}, {"description", std::string(300, 'd')}};
    std::string err;
    for (auto _ : state) {
      box.push(n, false, err);
      box.pop_front();
    }
    if (!err.empty()) state.SkipWithError(err.c_str());
  }
  std::filesystem::remove_all(dir);
}
BENCHMARK(BM_OutboxPushPop)->Unit(benchmark::kMicrosecond);

}  // namespace

BENCHMARK_MAIN();
