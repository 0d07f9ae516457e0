// What the restart policy adds to a scan: Policy::decide() on N units (the loop pays this every
// scan_interval), in the steady state where no unit needs a restart, and with every third unit
// above on_memory (decisions are made and held by the one-per-group rule).
#include <benchmark/benchmark.h>

#include "agent/state/policy.hpp"
#include "tests/fixtures/snapshots.hpp"

namespace {

using namespace mobasher;

Snapshot units(int n, double t, bool pressure) {
  std::vector<UnitSample> us;
  for (int i = 0; i < n; ++i) {
    fixtures::UnitBuilder b("archiver@ch" + std::to_string(i) + ".service", "archiver");
    uint64_t rss = (pressure && i % 3 == 0 ? 1900ull : 900ull) << 20;
    b.main(100 + 3 * i, 5000, 4 << 20, "bash", t - 3600).child(101 + 3 * i, 5001, rss);
    b.limits(2ull << 30, 1536ull << 20, 1945ull << 20).cgroup(7, rss, 2ull << 30, 0);
    b.sample().growth_bytes_per_second = 1000;
    b.sample().seconds_to_limit = 3600;
    us.push_back(b);
  }
  return fixtures::snapshot_at(t, std::move(us));
}

PolicySettings settings() {
  PolicySettings s;
  PolicyGroup g;
  g.name = "archiver";
  g.on_memory = Size{0, 90.0};
  g.max_age_seconds = 4 * 3600;
  g.predict_seconds = 600;
  s.groups = {g};
  return s;
}

void run(benchmark::State& state, bool pressure) {
  Policy p(settings());
  Snapshot s = units(static_cast<int>(state.range(0)), 1.8e9, pressure);
  double t = 1.8e9;
  size_t decisions = 0;
  for (auto _ : state) {
    s.taken_at = fixtures::at_unix(t += 5);
    decisions += p.decide(s).decisions.size();
  }
  state.counters["decisions"] = static_cast<double>(decisions);
}

void BM_PolicyDecideQuiet(benchmark::State& state) {
  run(state, false);
}
void BM_PolicyDecidePressure(benchmark::State& state) {
  run(state, true);
}
BENCHMARK(BM_PolicyDecideQuiet)->Arg(12)->Arg(120)->Arg(1000);
BENCHMARK(BM_PolicyDecidePressure)->Arg(12)->Arg(120)->Arg(1000);

}  // namespace

BENCHMARK_MAIN();
