#include "exporters/http/lazy_text.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <deque>
#include <stdexcept>
#include <thread>
#include <vector>

namespace mobasher {
namespace {

using namespace std::chrono_literals;

// The daemon's event loop, played by one thread running the jobs it is given, in order.
class LoopThread {
 public:
  LoopThread()
      : thread_([this] {
          std::unique_lock lock(mu_);
          for (;;) {
            cv_.wait(lock, [this] { return stop_ || !jobs_.empty(); });
            if (jobs_.empty()) return;
            auto job = std::move(jobs_.front());
            jobs_.pop_front();
            lock.unlock();
            job();
            lock.lock();
          }
        }) {}
  ~LoopThread() {
    {
      std::lock_guard lock(mu_);
      stop_ = true;
    }
    cv_.notify_all();
    thread_.join();
  }
  RenderRunner runner() {
    return [this](std::function<void()> job) {
      {
        std::lock_guard lock(mu_);
        jobs_.push_back(std::move(job));
      }
      cv_.notify_all();
    };
  }
  std::thread::id id() const { return thread_.get_id(); }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::function<void()>> jobs_;
  bool stop_ = false;
  std::thread thread_;
};

TEST(LazyText, WithoutARunnerTheFirstAskerMakesItOnce) {
  int made = 0;
  auto text = std::make_shared<LazyText>([&] { return "body " + std::to_string(++made); });
  EXPECT_EQ(text->get(), "body 1");
  EXPECT_EQ(text->get(), "body 1");
  EXPECT_EQ(made, 1);
}

TEST(LazyText, WithARunnerItIsMadeOnTheLoopNotOnTheAskingThread) {
  LoopThread loop;
  std::thread::id made_on;
  auto text = std::make_shared<LazyText>(
      [&] {
        made_on = std::this_thread::get_id();
        return std::string("# HELP x\n");
      },
      loop.runner(), 60s);  // patience far beyond any wait: the loop must be the one
  std::string got;
  std::thread worker([&] { got = text->get(); });
  worker.join();
  EXPECT_EQ(got, "# HELP x\n");
  EXPECT_EQ(made_on, loop.id());
}

TEST(LazyText, ManyWorkersAskingAtOnceGetOneMaking) {
  LoopThread loop;
  std::atomic<int> made = 0;
  auto text = std::make_shared<LazyText>(
      [&] {
        ++made;
        return std::string(100'000, 'm');
      },
      loop.runner(), 60s);
  std::vector<std::thread> workers;
  std::atomic<int> right = 0;
  for (int i = 0; i < 16; ++i)
    workers.emplace_back([&] { right += text->get() == std::string(100'000, 'm') ? 1 : 0; });
  for (auto& w : workers) w.join();
  EXPECT_EQ(made.load(), 1);
  EXPECT_EQ(right.load(), 16);
}

TEST(LazyText, ALoopThatNeverRunsTheJobCostsTheWorkerItsPatienceThenItMakesIt) {
  std::vector<std::function<void()>> dropped;  // a stopped loop: the job is kept, never run
  int made = 0;
  std::thread::id made_on;
  auto text = std::make_shared<LazyText>(
      [&] {
        ++made;
        made_on = std::this_thread::get_id();
        return std::string("late");
      },
      [&](std::function<void()> job) { dropped.push_back(std::move(job)); }, 20ms);
  EXPECT_EQ(text->get(), "late");
  EXPECT_EQ(made_on, std::this_thread::get_id());
  ASSERT_EQ(dropped.size(), 1u);
  dropped.front()();  // the loop runs it after all: nothing made twice
  EXPECT_EQ(made, 1);
  EXPECT_EQ(text->get(), "late");
}

TEST(LazyText, ARunnerThatRunsTheJobAtOnceDoesNotDeadlock) {
  int made = 0;
  auto text = std::make_shared<LazyText>([&] { return "now " + std::to_string(++made); },
                                         [](std::function<void()> job) { job(); }, 60s);
  EXPECT_EQ(text->get(), "now 1");
  EXPECT_EQ(made, 1);
}

TEST(LazyText, AJobRunAfterTheTextIsGoneDoesNothing) {
  std::function<void()> kept;
  bool made = false;
  {
    auto text = std::make_shared<LazyText>(
        [&] {
          made = true;
          return std::string();
        },
        [&](std::function<void()> job) { kept = std::move(job); }, 1ms);
    text->get();
  }
  made = false;
  kept();  // the LazyText is destroyed: the job finds nothing to make
  EXPECT_FALSE(made);
}

TEST(LazyText, AMakingThatThrowsOnTheLoopIsMadeAgainByTheWorker) {
  int calls = 0;
  auto text = std::make_shared<LazyText>(
      [&]() -> std::string {
        if (++calls == 1) throw std::runtime_error("first rendering failed");
        return "second";
      },
      [](std::function<void()> job) { job(); }, 60s);
  EXPECT_EQ(text->get(), "second");
  EXPECT_EQ(calls, 2);
}

TEST(LazyText, AMakingThatAlwaysThrowsReachesTheRequestAndIsTriedAgainNextTime) {
  int calls = 0;
  auto text = std::make_shared<LazyText>(
      [&]() -> std::string { throw std::runtime_error("render " + std::to_string(++calls)); },
      [](std::function<void()> job) { job(); }, 60s);
  EXPECT_THROW(
      {
        try {
          text->get();
        } catch (const std::runtime_error& e) {
          EXPECT_STREQ(e.what(), "render 2");  // the loop's try (1), then the worker's (2)
          throw;
        }
      },
      std::runtime_error);
  EXPECT_THROW(text->get(), std::runtime_error);
  EXPECT_EQ(calls, 4);
}

}  // namespace
}  // namespace mobasher
