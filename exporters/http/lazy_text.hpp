// A response body made once per snapshot, when first asked for, on the agent's event loop.
#pragma once

#include <chrono>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <string>

namespace mobasher {

// Runs a job on the agent's event loop (the daemon posts it to its io_context). It may also run
// the job at once, or never (a stopped loop).
using RenderRunner = std::function<void(std::function<void()>)>;

// A body made by the first request that asks for it and kept for the snapshot's life: a scan
// nobody scrapes costs no rendering. Thread-safe.
//
// With a runner the making runs there, not on the HTTP worker that asked. A rendering allocates
// and frees thousands of small blocks, and glibc keeps up to 7 freed blocks of each size in a
// cache of the thread that freed them, reused only by that thread: made on 128 workers, each
// serving once in 128 connections, those caches filled one by one and RSS grew ~45 kB a minute
// for hours (docs/RELIABILITY.md "Soak"). On one thread they are reused by the next rendering.
// A worker that has waited `patience` for a loop that is busy or stopped makes it itself; a
// making that throws is tried again by the worker, whose request answers the error.
class LazyText : public std::enable_shared_from_this<LazyText> {
 public:
  explicit LazyText(std::function<std::string()> make, RenderRunner run = nullptr,
                    std::chrono::milliseconds patience = std::chrono::seconds(1))
      : make_(std::move(make)), run_(std::move(run)), patience_(patience) {}
  const std::string& get() const;

 private:
  enum class State { idle, queued, making, done };
  void make_here(std::unique_lock<std::mutex>& lock) const;
  void make_if_queued() const;  // the runner's job

  mutable std::mutex mu_;
  mutable std::condition_variable changed_;
  mutable State state_ = State::idle;
  mutable std::function<std::string()> make_;
  mutable std::string text_;
  RenderRunner run_;
  std::chrono::milliseconds patience_;
};

}  // namespace mobasher
