// mobasher-forker RATE SECONDS: makes up to RATE short-lived processes per second for SECONDS
// (each child exits at once and is reaped), then prints "forked N in S s (R/s)". For the churn
// test: a unit whose process list changes thousands of times a second while the agent reads it.
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>

int main(int argc, char** argv) {
  if (argc != 3) {
    std::fprintf(stderr, "usage: mobasher-forker RATE SECONDS\n");
    return 2;
  }
  const double rate = std::atof(argv[1]), seconds = std::atof(argv[2]);
  if (rate <= 0 || seconds <= 0 || seconds > 3600) {
    std::fprintf(stderr, "mobasher-forker: RATE > 0 and 0 < SECONDS <= 3600\n");
    return 2;
  }
  using clock = std::chrono::steady_clock;
  const auto start = clock::now();
  const auto end = start + std::chrono::duration<double>(seconds);
  long forked = 0;
  for (auto now = start; now < end; now = clock::now()) {
    // Ahead of the rate: wait for the next slot (a short sleep keeps a core for the agent).
    double due = std::chrono::duration<double>(now - start).count() * rate;
    if (static_cast<double>(forked) >= due + 50) {  // sleeps are coarse: run ahead a little
      ::usleep(200);
      continue;
    }
    pid_t pid = ::vfork();  // no page tables copied: the child only exits
    if (pid == 0) ::_exit(0);
    if (pid < 0) {
      ::usleep(1000);  // EAGAIN: a pids limit; try again shortly
      continue;
    }
    ::waitpid(pid, nullptr, 0);
    ++forked;
  }
  double took = std::chrono::duration<double>(clock::now() - start).count();
  std::printf("forked %ld in %.2f s (%.0f/s)\n", forked, took, forked / took);
  return 0;
}
