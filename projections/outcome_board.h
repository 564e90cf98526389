// The outcome of every committed record, by position, for whoever waits on one (HTTP ?wait=1):
// the projector that decided it publishes it, nobody searches the views for it afterwards.
//
// CAVEATS (read these first)
//   - Published only after the batch that holds the record is committed (Projector::Impl::
//     publish): a waiter never sees an outcome that a crash could undo.
//   - Bounded: each projected partition keeps the outcomes of its most recent records in a ring
//     of `ring_records` entries (outcome_board_records_max shared among the partitions, at least
//     outcome_ring_records_min each). A waiter registers after its append returned, so the record
//     may be committed before it asks: the ring covers that race as long as fewer than
//     ring_records later records of the same partition were committed meanwhile. Past that, or
//     for a record committed before this projector started, find() answers `expired`: the record
//     is committed, its outcome is no longer held here (read the org's transactions or rejects).
//   - Offsets need not be dense (Kafka may skip): a ring holds positions and is searched by offset.
//
// Extending the outcome (SPEC §11 holds will carry the granted amount, the expiry, what is
// available): add the field to RecordOutcome, fill it in Projector::Impl::record_outcome (from the
// FoldResult) and render it in api/outcome_json.cpp. Nothing between copies it field by field.
//
// THREAD SAFETY: publish() from the projector's writer thread; find() from any thread.
#pragma once

#include <cstddef>
#include <cstdint>
#include <mutex>
#include <span>
#include <string>
#include <vector>

#include "engine/money.h"
#include "engine/state.h"
#include "engine/types.h"

namespace tally {

// Outcomes held in memory in total, over every projected partition (about 80 bytes each, plus a
// detail string for the few rejects and conflicts): 256 Ki records, about 20 MiB.
inline constexpr std::size_t outcome_board_records_max = std::size_t{1} << 18;
// A partition's ring holds at least this many, however many partitions share the board.
inline constexpr std::size_t outcome_ring_records_min = 4'096;

// What the fold decided for one record.
struct RecordOutcome {
  LogPosition position;
  Outcome outcome = Outcome::applied;
  RejectReason reason = RejectReason::none;
  std::string detail;           // rejected or conflict: why; a duplicate of a rejection says of which
  Micros amount_micros;         // signed change of the org's balance (zero unless applied)
  Micros balance_after_micros;  // the org's balance after the record (zero for no org)
  // SPEC §11: the org's balance - held after the record (as it stood, for a rejected one), and
  // what a hold place or extend granted and the hold's expiry.
  Micros available_micros;
  Micros hold_granted_micros;
  int64_t hold_expires_at_ms = 0;
};

// What a waiter learns about one position.
struct OutcomeWait {
  enum class State : uint8_t {
    ready,      // `outcome` holds it
    timed_out,  // not committed within the time given
    expired,    // committed, but its outcome is no longer held (see CAVEATS) or not known here
  };
  State state = State::timed_out;
  RecordOutcome outcome;
};

class OutcomeBoard {
 public:
  // A ring for each of `partitions` (the projected ones, each < partition_count), sized as the
  // CAVEATS say. REQUIRES: records_max >= 1.
  OutcomeBoard(const std::vector<int32_t>& partitions, int32_t partition_count,
               std::size_t records_max = outcome_board_records_max);

  std::size_t ring_records() const { return ring_records_; }

  // Adds the outcomes of one committed batch. Each partition's records come in ascending offset
  // order, after every record published before. The outcomes are swapped out of `outcomes` (what
  // comes back are old slots, whose string buffers the caller may reuse). Records of unprojected
  // partitions are ignored.
  void publish(std::span<RecordOutcome> outcomes);

  enum class Found : uint8_t {
    ready,    // `out` holds it
    pending,  // not published yet (not committed, or committed and about to be)
    expired,  // older than every outcome held, or no record at that offset
  };
  // Looks `position` up; copies its outcome into `out` when found.
  Found find(LogPosition position, RecordOutcome& out) const;

 private:
  struct Ring {
    std::vector<RecordOutcome> slots;  // reserved whole at the first publish; fills, then wraps
    std::size_t head = 0;              // index of the oldest held outcome once full
    bool projected = false;
  };
  const RecordOutcome& at(const Ring& ring, std::size_t i) const;  // i-th oldest

  std::size_t ring_records_;
  mutable std::mutex mutex_;
  std::vector<Ring> rings_;  // index = partition
};

}  // namespace tally
