// How a background role is woken (new work) and stopped, without polling: one mutex, one
// condition variable, a pending-wake flag and a stop flag.
// Thread safety: every member from any thread.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <mutex>

namespace tally::connectors {

class Waker {
 public:
  // Wakes one wait_for() (now or the next one: a wake is never lost).
  void notify() {
    {
      std::lock_guard lock(mutex_);
      woken_ = true;
    }
    cv_.notify_all();
  }

  // Makes every wait return at once, now and later.
  void stop() {
    {
      std::lock_guard lock(mutex_);
      stopped_ = true;
    }
    cv_.notify_all();
  }

  bool stopped() const {
    std::lock_guard lock(mutex_);
    return stopped_;
  }

  // Waits until notified, stopped, or `timeout_ms` passed; consumes the wake. Returns !stopped().
  bool wait_for(int64_t timeout_ms) {
    std::unique_lock lock(mutex_);
    cv_.wait_for(lock, std::chrono::milliseconds(timeout_ms), [this] { return woken_ || stopped_; });
    woken_ = false;
    return !stopped_;
  }

  // Sleeps `timeout_ms` unless stopped first (a notify does not cut it short: backoff between
  // retries must not be skipped by unrelated work). Returns !stopped().
  bool sleep_for(int64_t timeout_ms) {
    std::unique_lock lock(mutex_);
    cv_.wait_for(lock, std::chrono::milliseconds(timeout_ms), [this] { return stopped_; });
    return !stopped_;
  }

 private:
  mutable std::mutex mutex_;
  std::condition_variable cv_;
  bool woken_ = false;
  bool stopped_ = false;
};

}  // namespace tally::connectors
