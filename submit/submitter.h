// The one way into the events log: every producer (the HTTP events and command routes, the LiteLLM
// and Stripe ingest routes, `tally produce`, the recharge connector, the ticker) hands its
// prepared events (submit/events.h) to a Submitter, which checks their time, appends them in one
// call and, if asked, waits for the outcome the fold gave each one.
//
// CAVEATS (read these first)
//   - Validation happened in submit/events.h; authorization is the caller's (api/authorization.h
//     decides for HTTP tokens; Tally's own producers need none). Nothing here parses or verifies.
//   - One append per submission: the journal appends it atomically (all or nothing); Kafka's
//     idempotent producer may have appended a prefix when it fails (log/log.h).
//   - An event of no org (rate card, tick) is appended to every partition: it has one position
//     per partition, and one outcome per position.
//   - Outcomes come from the projector that decided them (WaitOutcome: Projector::wait_for_outcome
//     in a process that projects). One deadline covers every wait of a submission.
//
// THREAD SAFETY: submit() and append() may be called from many threads at once (the LogWriter
// and the WaitOutcome must be thread-safe, as theirs are).
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <vector>

#include "engine/status.h"
#include "engine/types.h"
#include "log/log.h"
#include "projections/outcome_board.h"
#include "submit/events.h"

namespace tally::submit {

// Waits up to timeout_ms for the outcome of the record at a position (thread-safe).
using WaitOutcome = std::function<OutcomeWait(LogPosition position, int timeout_ms)>;

struct SubmitterOptions {
  // Set: an event whose occurred_at_ms runs more than this ahead of now_ms() is refused before
  // anything is appended (SPEC §2; the fold checks against the log's append time too).
  std::optional<int64_t> future_skew_max_ms;
  std::function<int64_t()> now_ms;  // Unix ms; empty: the system clock
  int wait_timeout_ms = 10'000;     // one deadline for every outcome of a submission
};

// What became of one event.
struct SubmittedEvent {
  std::vector<LogPosition> positions;  // one, or one per partition for an event of no org
  std::vector<OutcomeWait> outcomes;   // after a wait: one per position, in the same order
};

struct Submitted {
  std::vector<SubmittedEvent> events;  // in the order given
  bool waited = false;                 // a wait was asked for (outcomes are filled)
};

class Submitter {
 public:
  // `log` (and what `wait` uses) must outlive the Submitter. An empty `wait` answers every wait
  // with OutcomeWait::State::expired (appended; outcome not known here).
  Submitter(LogWriter& log, SubmitterOptions options, WaitOutcome wait = {});

  // Checks the time of every event, appends them all in one call and, if `wait`, waits for each
  // one's outcome. Errors (nothing appended unless said): invalid_argument, field
  // "occurred_at_ms" ("[i].occurred_at_ms" in a batch): too far ahead of the clock; unavailable:
  // the append failed (the log's error in the message).
  Result<Submitted> submit(PreparedEvents events, bool wait);

  int32_t partition_count() const { return log_.partition_count(); }

 private:
  Status check_time(const PreparedEvents& events) const;
  Result<std::vector<LogPosition>> append(PreparedEvents& events, Submitted& out);
  void wait_for_outcomes(Submitted& out) const;

  LogWriter& log_;
  SubmitterOptions options_;
  WaitOutcome wait_;
};

}  // namespace tally::submit
