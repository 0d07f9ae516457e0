// What the history store costs (exporters/history/history_writer.hpp):
//
//   BM_HistoryRecordScan/N    the scan loop's part of one history tick (every history.interval,
//                             15 s by default): serialize N unit samples + the node sample and
//                             append() them to a live HistoryWriter. CPU time of the loop thread.
//   BM_HistoryWriterBatch/N   the writer thread's part: one batch of N records written and
//                             fdatasync'ed (append N, then flush()). Wall time; at the default
//                             15 s interval a 2 s batch holds one tick (13 records for 12 units).
//   BM_HistoryRotateCompress  one rotation of a full 16 MiB current.jsonl: rename, gzip -6 into
//                             history-*.jsonl.gz, fsyncs, retention. Wall time per rotation.
//
// Where `history --since 24h` and /api/v1/history?since=24h spend their time, on a corpus made
// by mobasher-history-corpus (bench/history_bench.sh runs these with MOBASHER_BENCH_HISTORY_DIR
// set; without it they are not registered). Each reads the last 24 h before now:
//   BM_HistoryGunzip          gzread of the newest rotated file, whole (the reader's floor)
//   BM_HistoryRead            read_history with a counting sink: gunzip, line split, prefix filter
//   BM_HistoryReadParse       the same + nlohmann::ordered_json::parse of every matched line
//   BM_HistoryReadAccept      the same + nlohmann::json::accept (validation, no document)
//   BM_HistoryReadExtract     the same + the six numbers found by key (a prototype, no JSON)
//   BM_HistoryPrint/json|table  print_history into a discarding stream (the CLI minus the tty)
//   BM_HistoryApi             history_api(step 5m) + dump (the HTTP answer minus the socket)
//
// Files go to a fresh directory under $MOBASHER_BENCH_HISTORY_TMP (default: the system temp
// directory, which should be on the same kind of disk as /var/lib), removed at the end.
#include <benchmark/benchmark.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <atomic>
#include <charconv>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>
#include <vector>

#include <zlib.h>

#include <ostream>

#include "agent/app/history_cli.hpp"
#include "exporters/history/history_api.hpp"
#include "exporters/history/history_reader.hpp"
#include "exporters/history/history_record.hpp"
#include "exporters/history/history_writer.hpp"
#include "tests/fixtures/snapshots.hpp"

namespace {

using namespace mobasher;
namespace fs = std::filesystem;

constexpr uint64_t kMiB = 1ull << 20;

// A fresh directory, removed with everything in it when the benchmark ends.
class TempDir {
 public:
  explicit TempDir(const char* what) {
    const char* base = std::getenv("MOBASHER_BENCH_HISTORY_TMP");
    fs::path parent = base && *base ? fs::path(base) : fs::temp_directory_path();
    static int n = 0;
    path_ = parent / ("mobasher-history-bench-" + std::to_string(::getpid()) + "-" + what + "-" +
                      std::to_string(n++));
    fs::remove_all(path_);
    fs::create_directories(path_);
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  const fs::path& path() const { return path_; }

 private:
  fs::path path_;
};

// An archiver unit as the scanner reports it: bash main, an ffmpeg child that holds most of the
// memory, an uploader; cgroup usage a little above the RSS (page cache). Sizes vary per sample
// in page steps, so the JSON (and its compression) looks like a real day's.
UnitSample archiver(int i, std::mt19937_64& rng) {
  std::uniform_int_distribution<uint64_t> pages(0, 60000);  // up to ~234 MiB of drift
  fixtures::UnitBuilder b("archiver@ch" + std::to_string(i + 1) + ".service", "archiver");
  const pid_t pid = 20000 + 3 * i;
  const uint64_t ffmpeg = 700 * kMiB + pages(rng) * 4096 * 3;
  b.main(pid, 812345 + i, 3 * kMiB + pages(rng) % 256 * 4096, "archiver")
      .child(pid + 1, 812350 + i, ffmpeg, "ffmpeg")
      .child(pid + 2, 812351 + i, 40 * kMiB + pages(rng) % 4096 * 4096, "uploader");
  const uint64_t rss = b.sample().rss();
  b.limits(2ull << 30, 1536 * kMiB, 1945 * kMiB)
      .cgroup(4026531840ull + i, rss + 150 * kMiB + pages(rng) * 1024, 2ull << 30, 0);
  b.sample().memory.inactive_file = 100 * kMiB + pages(rng) * 512;
  b.sample().restarts[RestartCause::age] = 3;  // a unit some days old has restarted
  return b;
}

NodeSample node(std::mt19937_64& rng) {
  NodeSample n;
  n.mem_total = 32ull << 30;
  n.mem_available = (14ull << 30) + std::uniform_int_distribution<uint64_t>(0, 1 << 20)(rng) * 4096;
  n.swap_total = 8ull << 30;
  n.swap_free = 8ull << 30;
  return n;
}

Snapshot snapshot(int units, std::mt19937_64& rng) {
  std::vector<UnitSample> us;
  for (int i = 0; i < units; ++i) us.push_back(archiver(i, rng));
  Snapshot s = fixtures::snapshot_at(1.8e9, std::move(us));
  s.node = node(rng);
  return s;
}

// The records of one tick, as Daemon::record_history makes them.
std::vector<std::string> tick_records(const Snapshot& s) {
  std::vector<std::string> out;
  for (const auto& u : s.units) out.push_back(history_unit_sample(u, s.taken_at));
  out.push_back(history_node_sample(s.node, s.taken_at));
  return out;
}

void BM_HistoryRecordScan(benchmark::State& state) {
  TempDir dir("record");
  std::mt19937_64 rng(1);
  Snapshot s = snapshot(static_cast<int>(state.range(0)), rng);
  HistoryOptions o;
  o.dir = dir.path() / "history";
  // The writer thread writes only when asked, outside the timed part: the timing is the loop
  // thread's own work (serialization, the mutex, the queue), not contention with its I/O.
  o.sync_interval = std::chrono::hours(1);
  o.max_pending_bytes = 64 * kMiB;
  HistoryWriter w(o);
  size_t bytes = 0, ticks = 0;
  for (auto _ : state) {
    s.taken_at += std::chrono::seconds(15);
    for (const auto& u : s.units) {
      std::string line = history_unit_sample(u, s.taken_at);
      bytes += line.size() + 1;
      w.append(std::move(line));
    }
    std::string line = history_node_sample(s.node, s.taken_at);
    bytes += line.size() + 1;
    w.append(std::move(line));
    if (++ticks % 256 == 0) {
      state.PauseTiming();
      w.flush(std::chrono::seconds(30));
      state.ResumeTiming();
    }
  }
  w.flush(std::chrono::seconds(30));
  state.counters["bytes_per_tick"] = static_cast<double>(bytes) / static_cast<double>(ticks);
  state.counters["dropped"] = static_cast<double>(w.status().records_dropped);
}
BENCHMARK(BM_HistoryRecordScan)->Arg(12)->Arg(120)->Unit(benchmark::kMicrosecond);

// Serialization alone (no writer), to see what append() adds.
void BM_HistorySerializeScan(benchmark::State& state) {
  std::mt19937_64 rng(1);
  Snapshot s = snapshot(static_cast<int>(state.range(0)), rng);
  for (auto _ : state) {
    s.taken_at += std::chrono::seconds(15);
    auto lines = tick_records(s);
    benchmark::DoNotOptimize(lines);
  }
}
BENCHMARK(BM_HistorySerializeScan)->Arg(12)->Arg(120)->Unit(benchmark::kMicrosecond);

void BM_HistoryWriterBatch(benchmark::State& state) {
  TempDir dir("batch");
  std::mt19937_64 rng(2);
  const int records = static_cast<int>(state.range(0));
  Snapshot s = snapshot(12, rng);
  std::vector<std::string> lines;
  while (static_cast<int>(lines.size()) < records) {
    s.taken_at += std::chrono::seconds(15);
    for (auto& l : tick_records(s)) lines.push_back(std::move(l));
  }
  lines.resize(static_cast<size_t>(records));
  HistoryOptions o;
  o.dir = dir.path() / "history";
  HistoryWriter w(o);
  bool ok = true;
  for (auto _ : state) {
    for (const auto& l : lines) w.append(l);
    ok = w.flush(std::chrono::seconds(30)) && ok;
  }
  if (!ok) state.SkipWithError(("flush failed: " + w.status().error).c_str());
  size_t bytes = 0;
  for (const auto& l : lines) bytes += l.size() + 1;
  state.counters["bytes_per_batch"] = static_cast<double>(bytes);
}
// 13: one tick of 12 units (what a 2 s batch holds at history.interval 15 s); 65: five ticks.
BENCHMARK(BM_HistoryWriterBatch)
    ->Arg(13)
    ->Arg(65)
    ->UseRealTime()
    ->MeasureProcessCPUTime()
    ->Unit(benchmark::kMillisecond);

// A 16 MiB current.jsonl of 12-unit ticks (the default max_file_size), written once.
fs::path full_current_file(const fs::path& dir) {
  fs::path p = dir / "template.jsonl";
  std::mt19937_64 rng(3);
  Snapshot s = fixtures::snapshot_at(1.8e9, {});
  std::ofstream out(p, std::ios::binary);
  uint64_t size = 0;
  const uint64_t want = HistoryOptions{}.max_file_size;
  while (size < want) {
    Snapshot t = snapshot(12, rng);
    s.taken_at += std::chrono::seconds(15);
    t.taken_at = s.taken_at;
    for (const auto& l : tick_records(t)) {
      out << l << '\n';
      size += l.size() + 1;
    }
  }
  return p;
}

void BM_HistoryRotateCompress(benchmark::State& state) {
  TempDir dir("rotate");
  const fs::path tmpl = full_current_file(dir.path());
  const uint64_t plain = fs::file_size(tmpl);
  // The template's records span ~25 h from 1.8e9: the clock is shortly after its last one.
  const WallTime now = fixtures::at_unix(1.8e9 + 2 * 86400);
  uint64_t gz = 0;
  int round = 0;
  for (auto _ : state) {
    state.PauseTiming();
    fs::path hist = dir.path() / ("history-" + std::to_string(round++));
    fs::create_directories(hist);
    fs::copy_file(tmpl, hist / "current.jsonl");
    HistoryOptions o;
    o.dir = hist;
    auto w = std::make_unique<HistoryWriter>(o, [now] { return now; });
    state.ResumeTiming();
    // One more record: the batch that finds current.jsonl full rotates it before writing;
    // flush() returns once the rotated file is compressed and retention applied.
    w->append(history_event("agent_start", now, "", {{"version", "bench"}}));
    if (!w->flush(std::chrono::seconds(60))) {
      state.SkipWithError(("rotation failed: " + w->status().error).c_str());
      break;
    }
    state.PauseTiming();
    w.reset();
    gz = 0;
    for (const auto& e : fs::directory_iterator(hist))
      if (e.path().extension() == ".gz") gz += e.file_size();
    fs::remove_all(hist);
    state.ResumeTiming();
  }
  state.counters["plain_bytes"] = static_cast<double>(plain);
  state.counters["gz_bytes"] = static_cast<double>(gz);
  state.counters["ratio"] = gz ? static_cast<double>(plain) / static_cast<double>(gz) : 0;
}
BENCHMARK(BM_HistoryRotateCompress)
    ->UseRealTime()
    ->MeasureProcessCPUTime()
    ->Unit(benchmark::kMillisecond);

// ---------------------------------------------------------------- reading a corpus

// Set: the corpus benchmarks are registered (main), and read this history directory.
const char* corpus_dir() {
  return std::getenv("MOBASHER_BENCH_HISTORY_DIR");
}

HistoryFilter last_day() {
  HistoryFilter f;
  f.until = WallClock::now();
  f.since = f.until - std::chrono::hours(24);
  return f;
}

void BM_HistoryGunzip(benchmark::State& state) {
  const char* dir = corpus_dir();
  fs::path newest;
  for (const auto& f : list_history_files(dir))
    if (f.compressed) newest = f.path;
  std::vector<char> buf(64 << 10);
  size_t bytes = 0;
  for (auto _ : state) {
    gzFile g = ::gzopen(newest.c_str(), "rb");
    ::gzbuffer(g, 64 << 10);
    bytes = 0;
    for (int n; (n = ::gzread(g, buf.data(), static_cast<unsigned>(buf.size()))) > 0;)
      bytes += static_cast<size_t>(n);
    ::gzclose(g);
  }
  state.counters["plain_bytes"] = static_cast<double>(bytes);
}

void BM_HistoryRead(benchmark::State& state) {
  const char* dir = corpus_dir();
  HistoryFilter f = last_day();
  HistoryReadStats st;
  for (auto _ : state) {
    size_t n = 0;
    st = read_history(dir, f, [&](std::string_view) { return ++n, true; });
    benchmark::DoNotOptimize(n);
  }
  state.counters["files"] = static_cast<double>(st.files);
  state.counters["lines"] = static_cast<double>(st.lines);
  state.counters["matched"] = static_cast<double>(st.matched);
}

void BM_HistoryReadParse(benchmark::State& state) {
  const char* dir = corpus_dir();
  HistoryFilter f = last_day();
  for (auto _ : state) {
    size_t n = 0;
    read_history(dir, f, [&](std::string_view l) {
      auto j = nlohmann::ordered_json::parse(l, nullptr, false);
      n += j.size();
      return true;
    });
    benchmark::DoNotOptimize(n);
  }
}

// Validating without building the document (what `history --format json` needs of a line).
void BM_HistoryReadAccept(benchmark::State& state) {
  const char* dir = corpus_dir();
  HistoryFilter f = last_day();
  for (auto _ : state) {
    size_t n = 0;
    read_history(dir, f, [&](std::string_view l) {
      n += nlohmann::json::accept(l);
      return true;
    });
    benchmark::DoNotOptimize(n);
  }
}

struct NullBuf : std::streambuf {
  size_t n = 0;
  int overflow(int c) override { return ++n, c; }
  std::streamsize xsputn(const char*, std::streamsize k) override {
    n += static_cast<size_t>(k);
    return k;
  }
};

void BM_HistoryPrint(benchmark::State& state, const char* format) {
  const char* dir = corpus_dir();
  HistoryFilter f = last_day();
  NullBuf buf;
  std::ostream out(&buf), err(&buf);
  for (auto _ : state) print_history(dir, f, *parse_enum<OutputFormat>(format), out, err);
  state.counters["bytes_out"] =
      static_cast<double>(buf.n) / static_cast<double>(state.iterations());
}

// A prototype of what the API needs from a sample line without a JSON document: the unit and
// the six numbers, found by key in the writer's fixed field order (std::from_chars). Not what
// history_api does today; here to size the suggestion in docs/BENCHMARKS.md.
void BM_HistoryReadExtract(benchmark::State& state) {
  const char* dir = corpus_dir();
  HistoryFilter f = last_day();
  static constexpr std::string_view kKeys[] = {
      "\"rss\":", "\"swap\":", "\"usage\":", "\"working_set\":", "\"limit\":", "\"processes\":"};
  for (auto _ : state) {
    double sum = 0;
    read_history(dir, f, [&](std::string_view l) {
      size_t at = 0;
      for (auto key : kKeys) {
        size_t k = l.find(key, at);
        if (k == std::string_view::npos) continue;
        uint64_t v = 0;
        const char* p = l.data() + k + key.size();
        auto r = std::from_chars(p, l.data() + l.size(), v);
        sum += static_cast<double>(v);
        at = static_cast<size_t>(r.ptr - l.data());
      }
      return true;
    });
    benchmark::DoNotOptimize(sum);
  }
}

void BM_HistoryApi(benchmark::State& state) {
  const char* dir = corpus_dir();
  HistoryFilter f = last_day();
  HistoryApiRequest req{f.since, f.until, "", std::chrono::minutes(5)};
  size_t bytes = 0;
  for (auto _ : state) {
    auto body =
        history_api(dir, req).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    bytes = body.size();
  }
  state.counters["bytes_out"] = static_cast<double>(bytes);
}

void register_corpus_benchmarks() {
  using Fn = void (*)(benchmark::State&);
  const std::pair<const char*, Fn> benches[] = {
      {"BM_HistoryGunzip", BM_HistoryGunzip},
      {"BM_HistoryRead", BM_HistoryRead},
      {"BM_HistoryReadParse", BM_HistoryReadParse},
      {"BM_HistoryReadAccept", BM_HistoryReadAccept},
      {"BM_HistoryReadExtract", BM_HistoryReadExtract},
      {"BM_HistoryApi", BM_HistoryApi},
  };
  for (const auto& [name, fn] : benches)
    benchmark::RegisterBenchmark(name, fn)->Unit(benchmark::kMillisecond);
  for (const char* format : {"json", "table"})
    benchmark::RegisterBenchmark((std::string("BM_HistoryPrint/") + format).c_str(),
                                 [format](benchmark::State& s) { BM_HistoryPrint(s, format); })
        ->Unit(benchmark::kMillisecond);
}

}  // namespace

int main(int argc, char** argv) {
  spdlog::set_level(spdlog::level::warn);  // no "history rotated" lines among the results
  const char* corpus = corpus_dir();
  if (corpus && *corpus) register_corpus_benchmarks();
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
