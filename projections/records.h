// Byte encodings of the projector's own records (the values of the "history", "usage", "rejects",
// "outbox", "partitions" and "chain" databases; layout in projections/store.h). Deterministic: the same
// record always gives the same bytes, so view digests compare across machines.
//
// History entries are the bulk of the store (one per event), so they use a compact encoding:
// a leading format byte, then LEB128 varints (signed values zigzag-encoded) and varint-length
// prefixed strings, in the order of the fields of HistoryEntry (sequence and org are in the key).
// Usage roll-ups (about one per usage event when cardinality is high) are varints too. The other
// records use engine/state_codec.h's ByteWriter (fixed 8-byte integers).
//
// decode_* return false on malformed bytes: callers report corruption.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "engine/chain.h"
#include "engine/fold.h"
#include "engine/state.h"
#include "projections/views.h"

namespace tally::store {

inline constexpr uint8_t record_format_version = 1;

// The body type byte of a `hold_expired` history entry: the partition clock released a hold's
// remainder while folding the record at its position (no event of its own; SPEC §11). Its
// idempotency_key is the hold id, its detail "released_micros N", its amount 0 (the balance is
// unchanged: only available_micros grows).
inline constexpr uint8_t hold_expired_body_type = 255;

// The body type byte of a `grant_expired` history entry: the partition clock expired what was left
// of a grant while folding the record at its position (SPEC §12). Its idempotency_key is the grant
// id, its amount minus what expired, its detail "expires_at_ms N".
inline constexpr uint8_t grant_expired_body_type = 254;

// The canonical JSON type name of an event body type ("usage", "purchase", …; "" for none;
// "hold_expired" and "grant_expired" for their body types).
std::string_view body_type_name(uint8_t body_type);
uint8_t body_type_from_name(std::string_view name);  // 0 if unknown

// Billing path of a history entry, stored as a byte.
enum class BillingPathCode : uint8_t { none = 0, credits = 1, byok = 2, invoiced = 3 };
std::string_view billing_path_name(BillingPathCode code);

// The fields of one history entry as views (the projector fills it without copying strings).
struct HistoryFields {
  uint8_t body_type = 0;  // fb::Body
  std::string_view idempotency_key;
  Outcome outcome = Outcome::applied;
  RejectReason reason = RejectReason::none;
  std::string_view detail;
  Micros amount_micros;
  Micros balance_after_micros;
  int64_t occurred_at_ms = 0;
  LogPosition position;
  int64_t rate_card_version = 0;
  Micros tracked_cost_micros;
  Micros debited_micros;
  BillingPathCode billing_path = BillingPathCode::none;
  std::string_view model;
  std::string_view member_id;
  std::string_view workspace;
  std::string_view payment_ref;
  int64_t paid_minor = 0;
  int64_t fee_minor = 0;
  std::string_view currency;
  std::string_view reason_text;
  std::string_view fundings;  // encode_fundings bytes; empty: none
};
// Views into `entry`; the fundings are encoded into `fundings_scratch`.
HistoryFields history_fields(const HistoryEntry& entry, std::string& fundings_scratch);

// SPEC §12: the fundings of an entry as history entries store them: count, then each grant id
// (empty: overdraft) and amount. Appended to `out`.
void encode_fundings(std::string& out, const std::vector<HistoryEntry::Funding>& fundings);
void encode_fundings(std::string& out, std::span<const FoldResult::Funding> fundings);

// Appends the encoding of one entry to `out` (sequence and org are in the key).
void append_history(std::string& out, const HistoryFields& fields);
bool decode_history(std::string_view bytes, uint64_t sequence, HistoryEntry& entry);
// Cheap peek at the fields history queries filter on, without decoding the rest.
bool peek_history(std::string_view bytes, uint8_t& body_type, int64_t& occurred_at_ms);

// Chunks: a "history" or "keys" value (format 3) holds several records, each framed by its
// LEB128 varint length, so one LMDB put stores a batch's run of them.
void append_framed(std::string& out, std::string_view record);
// Reads the framed records of one chunk, front to back.
class FramedReader {
 public:
  explicit FramedReader(std::string_view chunk) : rest_(chunk) {}
  // Sets `record` to the next record; false at the end of the chunk or on a malformed frame
  // (then malformed() is true).
  bool next(std::string_view& record);
  bool malformed() const { return malformed_; }

 private:
  std::string_view rest_;
  bool malformed_ = false;
};

// The names that key a usage roll-up cell (besides org and day), as views.
struct UsageCellNames {
  std::string_view model, member_id, workspace, project, agent_id, provider, billing_path;
};
UsageCellNames names_of(const UsageRollup& rollup);

// Usage cells have their own format byte: 2 added project, agent, provider and billing path.
inline constexpr uint8_t usage_record_format_version = 2;

// Counters of one usage roll-up cell plus its names (the key only has their digest).
void encode_usage(std::string& out, const UsageRollup& rollup);
// The same with the counters of `counters` and the names given (its own are ignored).
void encode_usage(std::string& out, const UsageRollup& counters, const UsageCellNames& names);
bool decode_usage(std::string_view bytes, UsageRollup& rollup);  // `day` is left alone (in the key)
// rollup += delta, counters only, saturating at INT64_MAX (a roll-up is a statistic of facts that
// were already applied; it must never fail the batch). Returns false if a counter saturated.
bool add_usage(UsageRollup& rollup, const UsageRollup& delta);

void encode_reject(std::string& out, std::string_view org_id, std::string_view idempotency_key, RejectReason reason,
                   std::string_view detail);
bool decode_reject(std::string_view bytes, RejectEntry& reject);  // `position` is left alone

// "org_rejects" values: the placement, then the rejected event as a history entry (append_history;
// its sequence is 0).
void encode_org_reject(std::string& out, RejectPlacement placement, const HistoryFields& fields);
bool decode_org_reject(std::string_view bytes, RejectPlacement& placement, HistoryEntry& entry);

// "payments" values: the purchase a payment settled.
void encode_payment(std::string& out, std::string_view org_id, std::string_view purchase_key, int64_t paid_minor,
                    int64_t fee_minor);
bool decode_payment(std::string_view bytes, PaymentPurchase& payment);  // credits and refunded are left alone

void encode_outbox(std::string& out, std::string_view signal_id, std::string_view signal_bytes);
bool decode_outbox(std::string_view bytes, std::string_view& signal_id, std::string_view& signal_bytes);

// "partitions" values: i64 next offset, the chain head (32 bytes) and its record count (u64),
// then encode(PartitionState). The fold thread encodes the state, the writer adds the chain.
void encode_partition(std::string& out, Offset next_offset, const ChainHead& chain, std::string_view encoded_state);
bool decode_partition(std::string_view bytes, Offset& next_offset, ChainHead& chain, PartitionState& state);

// "chain" chunks (store.h): one record per folded record, its offset as the gap to `expected`
// (the chunk key's offset for the first record, then the previous record's offset + 1) and its
// chain mark. `expected` is advanced past `offset`. REQUIRES: offset >= expected.
void append_chain_mark(std::string& chunk, Offset& expected, Offset offset, uint64_t mark);
// Reads the marks of one chunk whose key holds offset `first`, front to back.
class ChainChunkReader {
 public:
  ChainChunkReader(std::string_view chunk, Offset first) : rest_(chunk), expected_(first) {}
  // The next record's offset and mark; false at the end or on malformed bytes (then malformed()).
  bool next(Offset& offset, uint64_t& mark);
  bool malformed() const { return malformed_; }

 private:
  std::string_view rest_;
  Offset expected_;
  bool malformed_ = false;
};

// meta "stats": batches, then outcome counts indexed by Outcome, then captures that named a hold
// no longer active (SPEC §11 hold_late; absent in stores written before it was counted: 0).
struct StoredStats {
  uint64_t batches = 0;
  uint64_t outcomes[4] = {0, 0, 0, 0};
  uint64_t hold_late = 0;
};
void encode_stats(std::string& out, const StoredStats& stats);
bool decode_stats(std::string_view bytes, StoredStats& stats);

}  // namespace tally::store
