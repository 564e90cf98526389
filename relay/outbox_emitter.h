// The outbox emitter (SPEC §6, §9): moves the signals the projector wrote into the views' outbox
// on to the signals log (journal topic "signals", or Kafka <prefix>.signals), keyed by org id, and
// records durably how far it got.
//
// CAVEATS (read these first)
//   - At least once, never lost: a page of outbox entries is appended to the signals log FIRST and
//     its last sequence recorded AFTER, durably, in the views store itself (record_sent =
//     Projector::record_outbox_sent, meta "outbox_sent", read back through ViewReader::stats() on
//     open and shown in /metrics). A crash in between resends the page
//     on restart, so the signals log may hold a signal twice, with the same signal id; every
//     consumer drops duplicates by id (relay/signal_consumer.h). A resent run is at most one
//     page (page_entries) long, which bounds how far back consumers must remember ids.
//   - One emitter per views store: it runs inside the projector's process (Node), which holds the
//     store's writer lock. Progress lives with the views, so views replayed into a fresh data dir
//     start with an empty outbox and no progress, consistently.
//   - Order: entries are appended in outbox (emission) order; signals of one org stay in order
//     because they share a key and hence a partition.
//
// Lifecycle: open() → run() on a thread (notify() after each projector commit) → request_stop()
// → join. run_once() is the same work, one page, for tests and tools.
// Thread safety: notify(), request_stop() and sent_sequence() from any thread; run()/run_once()
// from one thread at a time.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "engine/status.h"
#include "log/log.h"
#include "projections/views.h"
#include "relay/waker.h"

namespace tally::connectors {

inline constexpr std::size_t emitter_page_entries_max = 1'000;
// Without a wake the emitter still looks at the outbox this often (a projector in another
// process, a lost callback): a safety net, not the way signals normally move.
inline constexpr int64_t emitter_idle_check_ms = 1'000;
inline constexpr int64_t emitter_retry_backoff_ms_initial = 100;
inline constexpr int64_t emitter_retry_backoff_ms_max = 5'000;

// Crash points for tests (fault_hook): the page is in the signals log, its sequence not recorded.
inline constexpr std::string_view fault_emitter_after_append = "emitter.after_append";

struct OutboxEmitterOptions {
  // Durably records that every entry up to `sequence` is in the signals log. Required; a Node
  // passes Projector::record_outbox_sent.
  std::function<Status(uint64_t sequence)> record_sent;
  std::size_t page_entries = emitter_page_entries_max;  // 1..emitter_page_entries_max
  // Called at each crash point with its name (tests kill the process there). Empty: none.
  std::function<void(std::string_view point)> fault_hook;
  // Transient failures (the signals log or the views unavailable); they are retried with backoff.
  // Empty: written to stderr.
  std::function<void(const Status&)> on_error;
};

class OutboxEmitter {
 public:
  // Reads the recorded progress (views.stats().outbox_sent). `views` and `signals` must outlive
  // the emitter. Errors: invalid_argument (page_entries, no record_sent), the views' errors.
  static Result<std::unique_ptr<OutboxEmitter>> open(ViewReader& views, LogWriter& signals,
                                                     OutboxEmitterOptions options);

  // Appends the next page of outbox entries past the recorded sequence, then records it.
  // Returns the number of entries sent (0: caught up).
  // Errors: the views' or the log's (nothing recorded; the same page is sent again next time),
  //   corruption (an outbox entry that is not a signal), record_sent's.
  Result<std::size_t> run_once();

  // Sends until caught up, then waits for notify() (or emitter_idle_check_ms), until
  // request_stop(). Failures go to on_error and are retried with capped backoff.
  void run();

  void notify() { waker_.notify(); }
  void request_stop() { waker_.stop(); }

  // The last outbox sequence recorded as sent (0 = none).
  uint64_t sent_sequence() const { return sent_.load(); }

 private:
  OutboxEmitter(ViewReader& views, LogWriter& signals, OutboxEmitterOptions options, uint64_t sent)
      : views_(views), signals_(signals), options_(std::move(options)), sent_(sent) {}

  ViewReader& views_;
  LogWriter& signals_;
  OutboxEmitterOptions options_;
  std::atomic<uint64_t> sent_;
  Waker waker_;
};

}  // namespace tally::connectors
