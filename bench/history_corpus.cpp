// mobasher-history-corpus DIR DAYS UNITS: DAYS days of history for UNITS archiver units, ending
// now, written into DIR (a history directory: STATE_DIR/history) by the real HistoryWriter with
// the default options and a fake clock, so the rotated history-*.jsonl.gz files, their names and
// retention are exactly what the agent would leave. For bench/history_bench.sh.
//
// A sample per unit and one of the node every 15 s (the default history.interval; a few ms of
// scan jitter). Each unit's ffmpeg leaks: RSS climbs from ~700 MiB until a restart, by age after
// 20-28 h, or by memory (above 1.8 GiB) with MobasherUnitMemoryHigh firing from 1.5 GiB; restart,
// alert and a daily agent restart are the events (a few per unit and day).
//
// The writer batches what arrives in 2 s, so with 15 s ticks every tick is its own batch. Here a
// batch is an hour of ticks (an fdatasync per tick would take minutes), except that a tick at
// which the writer would rotate (current.jsonl full, or its first record a day old) starts its own
// batch, written at the tick's time: files start and end at the same records as the agent's.
// Prints one line of key=value totals.
#include <spdlog/spdlog.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "exporters/history/history_record.hpp"
#include "exporters/history/history_writer.hpp"
#include "tests/fixtures/snapshots.hpp"

namespace {

using namespace mobasher;
using std::chrono::milliseconds;
using std::chrono::seconds;

constexpr uint64_t kMiB = 1ull << 20;
constexpr uint64_t kLimit = 2ull << 30, kWarn = 1536 * kMiB, kCritical = 1945 * kMiB;

struct Unit {
  std::string name;
  pid_t pid = 0;
  uint64_t start_ticks = 0;
  double cycle_start = 0, cycle_hours = 24, leak_per_hour = 0;  // this run of the unit
  uint64_t base = 0;
  std::map<RestartCause, uint64_t> restarts;
  bool high = false;  // MobasherUnitMemoryHigh firing
};

class Corpus {
 public:
  Corpus(int units, double start, std::mt19937_64& rng) : rng_(rng) {
    for (int i = 0; i < units; ++i) {
      Unit u;
      u.name = "archiver@ch" + std::to_string(i + 1) + ".service";
      begin_cycle(u, start - uniform(0, 20) * 3600);  // units started at different times
      units_.push_back(std::move(u));
    }
  }

  // The records of the tick at t: events first (as the scan loop appends them), then samples.
  void tick(double t, std::vector<std::string>& out) {
    WallTime wt = fixtures::at_unix(t);
    std::vector<UnitSample> samples;
    for (auto& u : units_) {
      double hours = (t - u.cycle_start) / 3600;
      uint64_t ffmpeg =
          u.base + static_cast<uint64_t>(hours * u.leak_per_hour) / 4096 * 4096 + noise(20 * kMiB);
      if (ffmpeg > 1800 * kMiB || hours >= u.cycle_hours) {
        RestartCause cause = ffmpeg > 1800 * kMiB ? RestartCause::memory : RestartCause::age;
        if (u.high) alert(u, wt, false, ffmpeg, out);
        ++u.restarts[cause];
        out.push_back(history_event("restart", wt, u.name,
                                    {{"cause", to_string(cause)}, {"total", u.restarts[cause]}}));
        begin_cycle(u, t);
        ffmpeg = u.base;
      }
      if (!u.high && ffmpeg > kWarn) alert(u, wt, true, ffmpeg, out);
      samples.push_back(sample(u, ffmpeg));
    }
    for (const auto& s : samples) out.push_back(history_unit_sample(s, wt));
    NodeSample n;
    n.mem_total = 32ull << 30;
    n.mem_available = (12ull << 30) + noise(2ull << 30);
    n.swap_total = 8ull << 30;
    n.swap_free = (8ull << 30) - noise(64 * kMiB);
    out.push_back(history_node_sample(n, wt));
  }

 private:
  double uniform(double a, double b) { return std::uniform_real_distribution<double>(a, b)(rng_); }
  uint64_t noise(uint64_t max) {  // page-granular, like the kernel's counters
    return std::uniform_int_distribution<uint64_t>(0, max / 4096)(rng_) * 4096;
  }

  void begin_cycle(Unit& u, double t) {
    u.pid = next_pid_ += 3 + static_cast<pid_t>(noise(40 * 4096) / 4096);
    u.start_ticks = static_cast<uint64_t>(t * 100);
    u.cycle_start = t;
    u.cycle_hours = uniform(20, 28);
    // Most units stay under the warning level for a day; one in five leaks fast enough to fire
    // MobasherUnitMemoryHigh and be restarted for memory.
    u.leak_per_hour = (uniform(0, 1) < 0.2 ? uniform(50, 70) : uniform(10, 30)) * kMiB;
    u.base = static_cast<uint64_t>(uniform(650, 750)) * kMiB;
  }

  void alert(Unit& u, WallTime t, bool firing, uint64_t value, std::vector<std::string>& out) {
    u.high = firing;
    out.push_back(history_event(firing ? "alert_firing" : "alert_resolved", t, u.name,
                                {{"alert", "MobasherUnitMemoryHigh"},
                                 {"severity", "warning"},
                                 {"value", static_cast<double>(value)},
                                 {"threshold", static_cast<double>(kWarn)}}));
  }

  UnitSample sample(const Unit& u, uint64_t ffmpeg) {
    fixtures::UnitBuilder b(u.name, "archiver");
    b.main(u.pid, u.start_ticks, 3 * kMiB + noise(kMiB), "archiver")
        .child(u.pid + 1, u.start_ticks + 2, ffmpeg, "ffmpeg")
        .child(u.pid + 2, u.start_ticks + 3, 40 * kMiB + noise(16 * kMiB), "uploader");
    uint64_t rss = b.sample().rss();
    b.limits(kLimit, kWarn, kCritical)
        .cgroup(4026531840ull + u.pid, rss + noise(300 * kMiB), kLimit, 0);
    b.sample().memory.inactive_file = noise(100 * kMiB);
    b.sample().restarts = u.restarts;
    return b;
  }

  std::mt19937_64& rng_;
  std::vector<Unit> units_;
  pid_t next_pid_ = 4000;
};

// The writer's rotation rule (HistoryWriter::needs_rotation), to know which tick starts a file.
struct RotationModel {
  HistoryOptions o;
  uint64_t size = 0;
  double first = -1;
  bool rotates_before(double t) const {
    return size > 0 &&
           (size >= o.max_file_size || t - first >= static_cast<double>(o.rotate_age().count()));
  }
  void add(double t, uint64_t bytes) {
    if (size == 0) first = t;
    size += bytes;
  }
};

int usage() {
  std::fprintf(stderr, "usage: mobasher-history-corpus DIR DAYS UNITS\n");
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 4) return usage();
  const std::filesystem::path dir = argv[1];
  const double days = std::atof(argv[2]);
  const int units = std::atoi(argv[3]);
  if (days <= 0 || units <= 0) return usage();
  spdlog::set_level(spdlog::level::warn);  // one "history rotated" line a day otherwise

  std::error_code ec;
  if (std::filesystem::exists(dir, ec) && !std::filesystem::is_empty(dir, ec)) {
    std::fprintf(stderr, "mobasher-history-corpus: %s is not empty\n", dir.c_str());
    return 1;
  }
  const double end = std::chrono::duration<double>(WallClock::now().time_since_epoch()).count();
  const double start = end - days * 86400;
  std::atomic<double> clock{start};
  HistoryOptions o;  // the defaults, as Daemon's history_options() with the default config
  o.dir = dir;
  std::mt19937_64 rng(42);
  Corpus corpus(units, start, rng);
  RotationModel model{o};
  uint64_t records = 0, bytes = 0, batches = 0;
  {
    HistoryWriter w(o, [&clock] { return fixtures::at_unix(clock.load()); });
    std::vector<std::string> lines;
    auto flush = [&] {
      if (!w.flush(std::chrono::minutes(2))) {
        std::fprintf(stderr, "mobasher-history-corpus: write failed: %s\n",
                     w.status().error.c_str());
        std::exit(1);
      }
      ++batches;
    };
    auto append_all = [&](double t) {
      for (auto& l : lines) {
        model.add(t, l.size() + 1);
        bytes += l.size() + 1;
        ++records;
        w.append(std::move(l));
      }
      lines.clear();
    };
    lines.push_back(history_event("agent_start", fixtures::at_unix(start), "",
                                  {{"version", MOBASHER_VERSION},
                                   {"pid", 812},
                                   {"config", "/etc/mobasher-agent/config.json"}}));
    append_all(start);
    double last_flush = start, last_t = start, next_restart = start + 86400;
    std::normal_distribution<double> jitter(0.004, 0.002);  // scan start to taken_at
    for (long i = 0;; ++i) {
      double t = start + 15.0 * static_cast<double>(i) + std::max(0.0, jitter(rng));
      if (t > end) break;
      if (t >= next_restart) {  // a daily agent restart (upgrade, config change): stop, start
        lines.push_back(
            history_event("agent_stop", fixtures::at_unix(t - 1), "", {{"reason", "SIGTERM"}}));
        lines.push_back(history_event("agent_start", fixtures::at_unix(t), "",
                                      {{"version", MOBASHER_VERSION},
                                       {"pid", 812 + static_cast<int>(i % 30000)},
                                       {"config", "/etc/mobasher-agent/config.json"}}));
        next_restart += 86400;
      }
      corpus.tick(t, lines);
      // At a tick where the agent's writer rotates, what is pending goes into the old file
      // first (written at the previous tick's time, when the writer would not rotate yet), then
      // this tick alone, at its time: the writer rotates before writing it.
      const bool rotates = model.rotates_before(t);
      if (rotates) {
        clock = last_t;
        flush();
        model.size = 0;
      }
      append_all(t);
      if (rotates || t - last_flush >= 3600) {
        clock = t;
        flush();
        last_flush = t;
      }
      last_t = t;
    }
    clock = last_t;
    flush();
    HistoryStatus s = w.status();
    std::printf(
        "records=%llu bytes_appended=%llu days=%g units=%d batches=%llu files=%zu "
        "disk_bytes=%llu write_errors=%llu dropped=%llu\n",
        static_cast<unsigned long long>(records), static_cast<unsigned long long>(bytes), days,
        units, static_cast<unsigned long long>(batches), s.files,
        static_cast<unsigned long long>(s.bytes), static_cast<unsigned long long>(s.write_errors),
        static_cast<unsigned long long>(s.records_dropped));
  }
  return 0;
}
