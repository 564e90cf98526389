// The fold: apply(ledger, position, record) — SPEC §4 and §5.
//
// Pure and deterministic: the result depends only on the ledger's state and the record's bytes
// and position. No clock, no randomness, no I/O, no floating point; every container whose order
// reaches the output is ordered. Same records in the same order => same state, same results,
// same signals, byte for byte.
//
// Every record gets an outcome: applied, duplicate, conflict or rejected(reason). Rejected
// records change no balance; validation rejections (undecodable, bad field, wrong partition) do
// not record the idempotency key, business rejections do.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "engine/digest.h"
#include "engine/ids.h"
#include "engine/ledger.h"
#include "engine/money.h"
#include "engine/signals.h"
#include "engine/state.h"
#include "engine/types.h"

namespace tally {
namespace fb { struct Envelope; }

// What folding one record did. Reused across calls (apply clears it) to avoid allocations.
struct FoldResult {
  Outcome outcome = Outcome::applied;
  RejectReason reason = RejectReason::none;
  std::string detail;                     // rejected: the field and why, human readable
  const fb::Envelope* envelope = nullptr; // null when the record did not decode
  OrgIdView org_id;                       // empty for global events and undecodable records
  Digest128 payload_digest;               // normalised fields (idempotency)
  Digest128 record_digest;                // raw bytes + position (hash chain)
  Micros amount_micros;                   // signed change of the org balance
  Micros balance_after_micros;
  Micros debited_micros;                  // usage: what the wallet paid
  Micros tracked_cost_micros;             // usage: priced cost, debited or not
  Micros provider_cost_micros;            // usage: provider cost
  int64_t rate_card_version = 0;          // usage: card it was priced with
  std::vector<Signal> signals;            // in emission order
  std::vector<uint64_t> aligned_record;   // copy of a record that was not 8-byte aligned
  std::string scope_buffer;
  void clear();
};

// Folds one log record. `record` is the raw bytes as read from the log; `position` is where it
// sits. `record` may sit at any address (LMDB and Kafka buffers are not aligned): a misaligned
// record is copied first, and result.envelope then points into result.aligned_record.
// REQUIRES: records of one partition are applied in offset order, each exactly once.
void apply(Ledger& ledger, LogPosition position, std::string_view record, FoldResult& result);

// Lets `ledger` prefetch what apply() of `record` at `position` will look up in its idempotency
// index, so that a caller applying a batch in order can call it a few records ahead. It reads only
// the envelope's org id and idempotency key, after checking just those two fields (apply()
// validates the whole record later); a record whose fields do not check is skipped. No effect on
// any result. `scope_buffer` is scratch.
void prefetch_key_of(Ledger& ledger, LogPosition position, std::string_view record, std::string& scope_buffer);

// The scope of the idempotency keys of global events (rate cards) in a partition: "#<partition>".
std::string global_key_scope(PartitionId partition);

}  // namespace tally
