// OneJobWorker: a thread that runs one job at a time for its owner. The projector has two (the
// writer commits a batch, the collector reads the next one): submit() hands over a job, wait()
// blocks until it is done and returns its result.
//
// THREAD SAFETY: submit/wait/start/stop from one owner thread; `run` runs on the worker thread.
#pragma once

#include <cassert>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <optional>
#include <thread>
#include <utility>

namespace tally {

template <typename Job, typename Result>
class OneJobWorker {
 public:
  OneJobWorker() = default;
  OneJobWorker(const OneJobWorker&) = delete;
  OneJobWorker& operator=(const OneJobWorker&) = delete;
  ~OneJobWorker() { stop(); }

  // Starts the thread once (later calls do nothing); `run` is called on it for every job.
  void start(std::function<Result(Job)> run) {
    if (thread_.joinable()) return;
    run_ = std::move(run);
    thread_ = std::thread([this] { loop(); });
  }
  // Hands `job` over. REQUIRES: idle, and the last result collected by wait().
  void submit(Job job) {
    {
      std::lock_guard lock(mutex_);
      assert(!job_ && !result_);
      job_ = std::move(job);
    }
    cv_.notify_all();
  }
  // Waits until idle; returns the result of the job handed over since the last wait, or Result{}.
  Result wait() {
    std::unique_lock lock(mutex_);
    cv_.wait(lock, [&] { return !job_; });
    Result result = result_ ? std::move(*result_) : Result{};
    result_.reset();
    return result;
  }
  // Finishes the job in hand, if any, and ends the thread. The owner calls it before destroying
  // what `run` uses.
  void stop() {
    if (!thread_.joinable()) return;
    {
      std::lock_guard lock(mutex_);
      stop_ = true;
    }
    cv_.notify_all();
    thread_.join();
  }

 private:
  void loop() {
    std::unique_lock lock(mutex_);
    for (;;) {
      cv_.wait(lock, [&] { return stop_ || job_.has_value(); });
      if (!job_) return;  // stopping, and idle
      Job job = *job_;
      lock.unlock();
      Result result = run_(std::move(job));
      lock.lock();
      result_ = std::move(result);
      job_.reset();
      cv_.notify_all();
    }
  }

  std::function<Result(Job)> run_;
  std::thread thread_;
  std::mutex mutex_;
  std::condition_variable cv_;
  std::optional<Job> job_;        // handed over, not finished
  std::optional<Result> result_;  // of the last job, until wait() collects it
  bool stop_ = false;
};

}  // namespace tally
