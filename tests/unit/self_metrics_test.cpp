#include "collectors/self_metrics.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <array>
#include <chrono>
#include <vector>

#include "fixtures/fixture_tree.hpp"

namespace mobasher {
namespace {

using namespace fixtures;
using namespace std::chrono_literals;

TEST(SelfReader, FixtureProcess) {
  FixtureTree fx;
  fx.boot_time(1'700'000'000);
  fx.proc(4242).comm("mobasher-agent").cpu(300, 100).start_time(500).status(8_MiB, 4_MiB, 0, 0);
  for (int fd : {0, 1, 2}) fx.write("proc/4242/fd/" + std::to_string(fd), "");
  SelfReader reader(fx.proc_root() / "4242");
  auto s = reader.read(std::chrono::steady_clock::time_point{} + 1h);
  ASSERT_TRUE(s.has_value());
  const double hz = static_cast<double>(sysconf(_SC_CLK_TCK));
  EXPECT_DOUBLE_EQ(s->cpu_seconds, 400 / hz);
  EXPECT_DOUBLE_EQ(s->start_time_seconds, 1'700'000'000 + 500 / hz);
  EXPECT_EQ(s->resident_bytes, 12_MiB);
  EXPECT_EQ(s->open_fds, 3u);
  EXPECT_GT(s->max_fds, 0u);
}

// A fixture fd directory is not procfs: it is listed, at most once per kListEvery.
TEST(SelfReader, ListsTheFdDirectoryAtMostOncePerInterval) {
  FixtureTree fx;
  fx.boot_time(1'700'000'000);
  fx.proc(4242).cpu(1, 1);
  for (int fd : {0, 1, 2}) fx.write("proc/4242/fd/" + std::to_string(fd), "");
  SelfReader reader(fx.proc_root() / "4242");
  const auto t0 = std::chrono::steady_clock::time_point{} + 1h;
  ASSERT_EQ(reader.read(t0)->open_fds, 3u);
  fx.write("proc/4242/fd/3", "");
  fx.write("proc/4242/fd/4", "");
  fx.proc(4242).cpu(9, 1);
  auto s = reader.read(t0 + SelfReader::kListEvery - 1s);
  EXPECT_EQ(s->open_fds, 3u);                                                        // kept count
  EXPECT_DOUBLE_EQ(s->cpu_seconds, 10 / static_cast<double>(sysconf(_SC_CLK_TCK)));  // stat fresh
  EXPECT_EQ(reader.read(t0 + SelfReader::kListEvery)->open_fds, 5u);
  fx.remove("proc/4242/fd/4");
  EXPECT_EQ(reader.read(t0)->open_fds, 4u);  // the clock went back: listed again
}

TEST(SelfReader, MissingStatIsNoStats) {
  FixtureTree fx;
  fx.mkdir("proc/77/fd");
  EXPECT_FALSE(SelfReader(fx.proc_root() / "77").read().has_value());
}

TEST(SelfReader, RealProcessCountsNewDescriptors) {
  SelfReader reader;
  const auto t0 = std::chrono::steady_clock::now();
  auto before = reader.read(t0);
  ASSERT_TRUE(before.has_value());
  std::vector<std::array<int, 2>> pipes(5);
  for (auto& p : pipes) ASSERT_EQ(::pipe(p.data()), 0);
  auto after = reader.read(t0 + SelfReader::kListEvery);  // past the listing interval on < 6.2
  for (auto& p : pipes) ::close(p[0]), ::close(p[1]);
  ASSERT_TRUE(after.has_value());
  EXPECT_EQ(after->open_fds, before->open_fds + 10);
  EXPECT_GT(after->resident_bytes, 0u);
  EXPECT_GE(after->cpu_seconds, before->cpu_seconds);
}

}  // namespace
}  // namespace mobasher
