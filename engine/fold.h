// The fold: apply(ledger, context, record) — SPEC §2 to §5.
//
// Pure and deterministic: the result depends only on the ledger's state, the record's bytes and
// what the log says about it (RecordContext: position, append time, partition count). No clock,
// no randomness, no I/O, no floating point; every container whose order reaches the output is
// ordered. Same records in the same order => same state, same results, same signals, byte for byte.
// Partitions are independent: an org lives in one partition (its home, a function of its id and
// the partition count), so any interleaving of the partitions gives the same states and results.
//
// Every record gets an outcome: applied, duplicate, conflict or rejected(reason). Rejected
// records change no balance; validation rejections (undecodable, bad field, wrong partition, clock
// skew) do not record the idempotency key, business rejections do. The hash chain over the
// records is computed beside the fold, not by it (engine/chain.h).
#pragma once

#include <cstdint>
#include <span>
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

// What the log says about a record besides its bytes: all the fold knows of the world.
struct RecordContext {
  LogPosition position;
  // LogRecord::appended_at_ms: the log's append time, the only clock the fold knows (SPEC §3). An
  // event whose occurred_at_ms runs more than limits::future_skew_max_ms ahead of it is rejected
  // (clock_skew).
  int64_t appended_at_ms = 0;
  // The events log's partition count: an org's home partition is
  // partition_for_key(org, partition_count) (engine/partitioner.h), and its events anywhere else
  // are rejected (wrong_partition).
  int32_t partition_count = 1;
};

// What folding one record did. Reused across calls (apply clears it) to avoid allocations.
struct FoldResult {
  Outcome outcome = Outcome::applied;
  RejectReason reason = RejectReason::none;
  std::string detail;                     // rejected: the field and why, human readable
  const fb::Envelope* envelope = nullptr; // null when the record did not decode
  OrgIdView org_id;                       // empty for global events and undecodable records
  Digest128 payload_digest;               // normalised fields (idempotency)
  Micros amount_micros;                   // signed change of the org balance
  Micros balance_after_micros;
  Micros debited_micros;                  // usage: what the wallet paid
  Micros tracked_cost_micros;             // usage: priced cost, debited or not
  Micros provider_cost_micros;            // usage: provider cost
  int64_t rate_card_version = 0;          // usage: card it was priced with
  // SPEC §11. Holds: what a place or extend granted (0 for a non-wallet org), the hold's expiry
  // after the event; a usage event: whether it named a hold that was not active (hold_late).
  Micros hold_granted_micros;
  int64_t hold_expires_at_ms = 0;
  bool hold_late = false;
  // The org's balance - held after the event (for a rejected one: as it stood), 0 without an org.
  Micros available_micros;
  // Holds the partition clock released while folding this record: (org, hold id, remaining).
  struct ExpiredHold {
    std::string org_id;
    std::string hold_id;
    Micros released_micros;
  };
  std::vector<ExpiredHold> expired_holds;
  // SPEC §12. Where the credit of a debit (usage, negative adjustment, refund, void) came from: the
  // grants it took from, in order, and what no grant covered (overdraft) as an entry with an empty
  // grant id; their sum is the debit. On a credit-adding event: its own grant with what that
  // repaid of the overdraft. Valid until the next apply().
  struct Funding {
    std::string grant_id;  // empty: overdraft
    Micros micros;
  };
  std::span<const Funding> fundings() const { return {funding_slots.data(), funding_count}; }
  void add_funding(std::string_view grant_id, Micros micros);
  // Grants whose remainder the partition clock expired while folding this record, in expiry order
  // ((expires_at_ms, offset) across the partition's orgs). `before_event`: a grant of the event's
  // own org, expired before the event's own effect (SPEC §12); else after it.
  struct ExpiredGrant {
    std::string org_id;
    std::string grant_id;
    Micros expired_micros;
    Micros balance_after_micros;  // the org's balance right after this expiry
    int64_t expires_at_ms = 0;
    bool before_event = false;
  };
  std::vector<ExpiredGrant> expired_grants;
  std::vector<Signal> signals;            // in emission order
  std::vector<uint64_t> aligned_record;   // copy of a record that was not 8-byte aligned
  std::string scope_buffer;
  // Storage of fundings(): slots are reused across calls, so their strings keep their capacity.
  std::vector<Funding> funding_slots;
  std::size_t funding_count = 0;
  void clear();
};

// Folds one log record. `record` is the raw bytes as read from the log; `context` says where it
// sits and when the log appended it. `record` may sit at any address (LMDB and Kafka buffers are
// not aligned): a misaligned record is copied first, and result.envelope then points into
// result.aligned_record.
// REQUIRES: records of one partition are applied in offset order, each exactly once;
//   0 <= context.position.partition < context.partition_count (asserted).
void apply(Ledger& ledger, const RecordContext& context, std::string_view record, FoldResult& result);

// Lets `ledger` prefetch what apply() of `record` at `position` will look up in its idempotency
// index, so that a caller applying a batch in order can call it a few records ahead. It reads only
// the envelope's org id and idempotency key, after checking just those two fields (apply()
// validates the whole record later); a record whose fields do not check is skipped. No effect on
// any result. `scope_buffer` is scratch.
void prefetch_key_of(Ledger& ledger, LogPosition position, std::string_view record, std::string& scope_buffer);

// Likewise for the org state apply() of `record` will look up and, for a usage event, the member
// state: PrefetchStage::slot some records ahead, PrefetchStage::entry a few records later (once
// what the first loaded is in cache). No effect on any result.
void prefetch_states_of(Ledger& ledger, std::string_view record, PrefetchStage stage);

// The scope of the idempotency keys of global events (rate cards) in a partition: "#<partition>".
std::string global_key_scope(PartitionId partition);

}  // namespace tally
