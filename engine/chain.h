// The per-partition hash chain (SPEC §10): tamper evidence over everything the log handed the fold.
//
//   head' = SHA-256(head ‖ u64 size ‖ raw record bytes ‖ u64 partition ‖ u64 offset ‖
//                   u64 appended_at_ms ‖ u8 outcome ‖ u8 reason)
//
// integers little-endian, fixed width (engine/sha256.h: update_u64), the first head all zero. The
// raw bytes are the record as the log stores it (a damaged record's stored bytes included), so
// altering, inserting, dropping or reordering any record, or changing the outcome the fold gave it,
// changes every later head; SHA-256 makes it infeasible to forge a record that keeps one.
//
// Not part of the fold's state: the fold's results do not depend on it, and hashing every record
// costs about a third of a fold, so the projector chains the batch on its writer thread
// (projections/projector_impl.h) while the next batch is folded. Whoever folds a log in memory
// (tests, engine/memory_ledger.h users) chains it with the same function and gets the same heads.
// Pure; thread-safe.
#pragma once

#include <cstdint>
#include <string_view>

#include "engine/sha256.h"
#include "engine/state.h"
#include "engine/types.h"

namespace tally {

// One record as the chain sees it.
struct ChainLink {
  std::string_view record;     // raw bytes as stored in the log
  LogPosition position;
  int64_t appended_at_ms = 0;  // LogRecord::appended_at_ms
  Outcome outcome = Outcome::applied;
  RejectReason reason = RejectReason::none;
};

// The head after `link`, given the head before it.
Digest256 chain_step(const Digest256& head, const ChainLink& link);

// The first 8 bytes of a head, little-endian: what the views keep per record (the "chain" view of
// projections/store.h) so that a replay can name the first record whose head differs. A mark only
// locates; the full head at the end of the partition is the proof.
uint64_t chain_mark(const Digest256& head);

// A partition's chain so far.
struct ChainHead {
  Digest256 head;        // all zero before the first record
  uint64_t records = 0;  // records chained (any outcome)
  void add(const ChainLink& link) {
    head = chain_step(head, link);
    ++records;
  }
  bool operator==(const ChainHead&) const = default;
};

}  // namespace tally
