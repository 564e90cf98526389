// A durable reader of the signals log for one connector (recharge, enforcement): it reads from its
// own stored position, hands each signal to the connector once, drops duplicates by signal id, and
// records how far it got in its own ProgressFile.
//
// CAVEATS (read these first)
//   - Positions are the consumer's own (never Kafka-stored offsets, SPEC §1): the next offset of
//     every partition of the signals log, plus the identity of that log. A different log behind
//     the same progress file (a new journal, another Kafka cluster) is a startup error, not a
//     silent restart from offset 0.
//   - At least once per signal: a signal is handed over again after a crash that came before its
//     position was recorded. Connectors make their action idempotent (Stripe Idempotency-Key =
//     signal id; webhooks carry the id for the platform to drop).
//   - Duplicates: the emitter may append a signal twice (crash between append and record, see
//     relay/outbox_emitter.h). The consumer remembers the last consumer_seen_ids_max ids it
//     handled (stored with the position) and skips a repeat among them. A resend is at most one
//     emitter page long, far inside that window.
//   - A handler failure (the signals' action could not be done now: Stripe or the events log down)
//     stops the partition at that signal: it is retried with capped backoff, later signals of the
//     same partition wait (an org's pause must not overtake its resume).
//   - An undecodable record is reported and skipped: retrying cannot make it readable.
//
// Lifecycle: open() → run(handler) on a thread → request_stop() → join.
// Thread safety: request_stop() and waker() from any thread; the rest from the running thread.
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <string>
#include <unordered_set>
#include <vector>

#include "engine/status.h"
#include "log/log.h"
#include "relay/progress_file.h"
#include "relay/signal_record.h"
#include "relay/waker.h"

namespace tally::connectors {

inline constexpr std::size_t consumer_poll_records_max = 256;
inline constexpr int consumer_poll_timeout_ms = 200;
inline constexpr std::size_t consumer_seen_ids_max = 2'048;
inline constexpr int64_t consumer_retry_backoff_ms_initial = 100;
inline constexpr int64_t consumer_retry_backoff_ms_max = 10'000;

// What a handler did with a signal.
enum class Handled {
  skipped,  // not for this connector: position may be recorded lazily
  acted,    // it did something outside (charged, appended, delivered): record the position now
};

// Acts on one signal. An error means "not done, try again later" (see CAVEATS).
using SignalHandler = std::function<Result<Handled>(const SignalRecord& signal)>;

struct SignalConsumerOptions {
  std::string name;           // "recharge", "enforce": in messages
  std::string progress_path;  // e.g. DIR/recharge.progress; its directory must exist
  // Transient failures (handler errors, the log unavailable, skipped bad records). Empty: stderr.
  std::function<void(const Status&)> on_error;
};

class SignalConsumer {
 public:
  // Loads the stored position and seeks `signals` to it (offset 0 for partitions never read).
  // `signals` must outlive the consumer and is used by it only.
  // Errors: unavailable (the progress file is locked: another instance runs), conflict (the
  //   progress belongs to another log or partition count), corruption/io_error (progress file),
  //   the reader's seek errors.
  static Result<std::unique_ptr<SignalConsumer>> open(LogReader& signals, SignalConsumerOptions options);

  // Reads one poll's worth of records (waiting up to `timeout_ms` for the first) and hands each
  // new signal to `handle` in order. Returns the records consumed (duplicates and skipped
  // included). On a handler error the partitions are re-seeked to the first unconsumed record and
  // the error is returned. Records the position before returning.
  Result<std::size_t> run_once(const SignalHandler& handle, int timeout_ms = consumer_poll_timeout_ms);

  // run_once until request_stop(); errors go to on_error and are retried with capped backoff.
  void run(const SignalHandler& handle);

  void request_stop() { waker_.stop(); }
  // Stop-aware sleeps for handlers that retry (webhook backoff).
  Waker& waker() { return waker_; }

  // Next offset per partition of the signals log (what is recorded after run_once returns).
  const std::vector<Offset>& next_offsets() const { return next_offsets_; }
  // Duplicates dropped since open (for tests and metrics).
  uint64_t duplicates_dropped() const { return duplicates_; }

 private:
  SignalConsumer(LogReader& signals, SignalConsumerOptions options, std::unique_ptr<ProgressFile> progress)
      : signals_(signals), options_(std::move(options)), progress_(std::move(progress)) {}
  Status load();
  Status store_position();
  void remember(const std::string& signal_id);
  void report(const Status& status) const;
  Status reseek();

  LogReader& signals_;
  SignalConsumerOptions options_;
  std::unique_ptr<ProgressFile> progress_;
  std::string identity_;
  std::vector<Offset> next_offsets_;
  std::deque<std::string> seen_order_;
  std::unordered_set<std::string> seen_;
  bool dirty_ = false;
  uint64_t duplicates_ = 0;
  Waker waker_;
};

}  // namespace tally::connectors
