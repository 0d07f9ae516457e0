// mobasher-leaker: a stand-in for a leaking ffmpeg child. Allocates and touches a known amount of
// anonymous memory, then optionally keeps growing, so tests and the demo have exact ground truth.
#include <sys/mman.h>
#include <unistd.h>

#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string_view>
#include <thread>
#include <vector>

namespace {
volatile std::sig_atomic_t g_stop = 0;  // async-signal flag: the only safe global here
void on_signal(int) {
  g_stop = 1;
}

void usage() {
  std::fprintf(stderr,
               "usage: mobasher-leaker [--initial-mb N] [--grow-mb-per-s R] [--max-mb M]\n"
               "  allocates and touches N MiB, then grows R MiB/s up to M MiB; exits on "
               "SIGTERM/SIGINT\n");
}

// Touches every page so the memory counts as RSS (RssAnon), not just as address space.
bool allocate_mb(std::vector<void*>& blocks, double mb) {
  const size_t bytes = static_cast<size_t>(mb * 1024 * 1024);
  if (bytes == 0) return true;
  void* p = mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) return false;
  std::memset(p, 0x5a, bytes);
  blocks.push_back(p);
  return true;
}
}  // namespace

int main(int argc, char** argv) {
  double initial = 0, rate = 0, max_mb = 1e12;
  for (int i = 1; i < argc; ++i) {
    std::string_view a = argv[i];
    if (i + 1 >= argc) {
      usage();
      return 2;
    }
    double v = std::strtod(argv[++i], nullptr);
    if (a == "--initial-mb")
      initial = v;
    else if (a == "--grow-mb-per-s")
      rate = v;
    else if (a == "--max-mb")
      max_mb = v;
    else {
      usage();
      return 2;
    }
  }
  std::signal(SIGTERM, on_signal);
  std::signal(SIGINT, on_signal);
  std::vector<void*> blocks;
  if (!allocate_mb(blocks, initial)) {
    std::perror("mmap");
    return 1;
  }
  double total = initial;
  std::printf("ready pid=%d mb=%.1f\n", getpid(), total);
  std::fflush(stdout);
  const auto tick = std::chrono::milliseconds(200);
  while (!g_stop) {
    std::this_thread::sleep_for(tick);
    if (rate > 0 && total < max_mb) {
      double step = std::min(rate * 0.2, max_mb - total);
      if (allocate_mb(blocks, step)) total += step;
    }
  }
  return 0;
}
