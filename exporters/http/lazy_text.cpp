#include "exporters/http/lazy_text.hpp"

namespace mobasher {

const std::string& LazyText::get() const {
  std::unique_lock lock(mu_);
  auto deadline = std::chrono::steady_clock::now() + patience_;
  bool posted = false;
  for (;;) {
    switch (state_) {
      case State::done:
        return text_;
      case State::idle:
        if (run_ && !posted) {
          state_ = State::queued;
          posted = true;
          lock.unlock();  // a runner may run the job at once
          run_([self = weak_from_this()] {
            if (auto text = self.lock()) text->make_if_queued();
          });
          lock.lock();
        } else {
          make_here(lock);
        }
        break;
      case State::queued:
        if (!changed_.wait_until(lock, deadline, [this] { return state_ != State::queued; }))
          make_here(lock);  // the loop is busy or stopped
        break;
      case State::making:
        changed_.wait(lock, [this] { return state_ != State::making; });
        break;
    }
  }
}

void LazyText::make_here(std::unique_lock<std::mutex>& lock) const {
  state_ = State::making;
  lock.unlock();
  std::string text;
  try {
    text = make_();
  } catch (...) {
    lock.lock();
    state_ = State::idle;
    changed_.notify_all();
    throw;
  }
  lock.lock();
  text_ = std::move(text);
  make_ = nullptr;  // what it captured (the snapshot) is not kept twice
  state_ = State::done;
  changed_.notify_all();
}

void LazyText::make_if_queued() const {
  std::unique_lock lock(mu_);
  if (state_ != State::queued) return;
  try {
    make_here(lock);
  } catch (...) {  // the waiting request makes it again, and answers the error
  }
}

}  // namespace mobasher
