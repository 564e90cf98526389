// The read API of the LMDB views (SPEC §6), used by the CLI, the HTTP API, replay and audit.
//
// Caveats first:
//  - A ViewReader opens the projector's environment read-only (MDB_RDONLY) and never blocks the
//    writer. Each call runs in its own read transaction: two calls may see different batches.
//    Use snapshot() for several reads of one consistent batch.
//  - Thread-safe: one ViewReader may be shared by many threads (LMDB read txns are per thread;
//    the environment is opened with MDB_NOTLS so a thread pool is fine).
//  - Opening fails with Status::Code::not_found if no projector has created the environment yet,
//    and with corruption if its format version is not the one this build reads.
//  - A partitioned views directory (projections/partitioned_layout.h: one store per events
//    partition) is read as one store folding the same log: every call answers the same, digests
//    included, except the outbox sequences (OutboxEntry). Opening it opens every partition's store
//    (not_found if one is not created yet; corruption if the layout file is not one this build
//    reads). Each call reads each store in a read transaction of its own.
//  - In a process that also runs the Projector of the same data dir, open the Projector first:
//    both then share one LMDB environment (LMDB forbids opening it twice in one process), and a
//    ViewReader opened first (read-only) makes Projector::open fail with unavailable.
//  - The projector grows the map while readers read; a reader in another process adopts the new
//    size on its next call. In this process growth waits for running calls, so a
//    for_each_history visitor must not call back into the ViewReader.
//  - Layout and key order of each view: projections/store.h.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "engine/assert.h"
#include "engine/digest.h"
#include "engine/sha256.h"
#include "engine/ids.h"
#include "engine/money.h"
#include "engine/signals.h"
#include "engine/state.h"
#include "engine/status.h"
#include "engine/types.h"

namespace tally {

inline constexpr std::size_t org_rejects_page_max = 1'000;   // rejects in one page
inline constexpr std::size_t rejects_page_entries_max = 100'000;  // ViewReader::rejects: rejects in one page
inline constexpr std::size_t outbox_page_entries_max = 100'000;   // ViewReader::outbox: entries in one page
inline constexpr std::size_t org_signals_page_max = 1'000;   // signals in one page
// Index entries one page of signals reads at most: with a kind filter, a page may end before it is
// full (next_after says where to go on) rather than read an org's whole outbox.
inline constexpr std::size_t org_signals_scan_max = 10'000;

struct OrgView {
  OrgId org_id;
  OrgState state;
};

struct MemberView {
  MemberId member_id;
  MemberState state;
};

// One entry of an org's history: every event of the org with its outcome, in log order.
struct HistoryEntry {
  uint64_t sequence = 0;            // 0-based, dense per org; cursors are sequences
  std::string type;                 // canonical JSON type: "usage", "purchase", …
  std::string idempotency_key;
  Outcome outcome = Outcome::applied;
  RejectReason reason = RejectReason::none;
  std::string detail;               // rejection/conflict detail
  Micros amount_micros;             // signed change of the balance (0 unless applied)
  Micros balance_after_micros;
  int64_t occurred_at_ms = 0;
  LogPosition position;
  int64_t rate_card_version = 0;    // usage only
  Micros tracked_cost_micros;       // usage only
  Micros debited_micros;            // usage only
  std::string billing_path;         // usage only: "credits" or "byok" (resolved), "invoiced" for deferred/enterprise
  std::string model;                // usage: model or sandbox class
  std::string member_id;
  std::string workspace;
  std::string payment_ref;          // purchase/auto_refill; refund: the purchase key
  int64_t paid_minor = 0;           // purchase/auto_refill
  int64_t fee_minor = 0;
  std::string currency;
  std::string reason_text;          // admin_adjustment/refund reason
  // SPEC §12: where the credit of a debit came from (grants in draw-down order; an empty grant id
  // is the overdraft), or, on a credit-adding entry, what its grant repaid of the overdraft.
  struct Funding {
    std::string grant_id;
    Micros micros;
    bool operator==(const Funding&) const = default;
  };
  std::vector<Funding> fundings;
  // An early reject: the event was rejected before its org existed (the org's very first events,
  // e.g. usage of an org that never bought anything). It has no history sequence (`sequence` is
  // 0) and balance_after 0; transactions and statements list early rejects first, in log order.
  bool early = false;
};

struct HistoryQuery {
  OrgId org_id;
  uint64_t after_sequence = 0;      // return entries with sequence >= after_sequence
  std::size_t limit = 100;
  std::string type = {};            // empty = all types
  int64_t from_ms = INT64_MIN;      // occurred_at_ms >= from_ms
  int64_t to_ms = INT64_MAX;        // occurred_at_ms < to_ms
  // Set: start with the org's early rejects (HistoryEntry::early) at this position or later, then
  // go on with the history from sequence 0 (after_sequence is not used). A first page of
  // transactions sets {0:0}. An org that exists gets no more early rejects, so a reader paging on
  // into the history misses none.
  std::optional<LogPosition> early_from = std::nullopt;
};

struct HistoryPage {
  std::vector<HistoryEntry> entries;
  std::optional<uint64_t> next_sequence;   // cursor for the next page, none at the end
  std::optional<LogPosition> next_early = std::nullopt;  // the next page starts in the early rejects, here
};

// Usage per org × UTC day × model × member × workspace × project × agent × provider × billing
// path: the attribution dimensions of SPEC §14 (seed 003's "by team, feature").
struct UsageRollup {
  int64_t day = 0;  // days since 1970-01-01 UTC
  std::string model;
  std::string member_id;
  std::string workspace;
  std::string project;       // the project or office
  std::string agent_id;
  std::string provider;
  std::string billing_path;  // as the history shows it: "credits", "byok" or "invoiced"
  int64_t events = 0;
  Micros debited_micros;
  Micros tracked_cost_micros;
  int64_t input_tokens = 0;
  int64_t output_tokens = 0;
  int64_t cache_read_tokens = 0;
  int64_t cache_write_tokens = 0;
  int64_t seconds = 0;
};

struct RejectEntry {
  LogPosition position;
  std::string org_id;           // empty if the record did not decode
  std::string idempotency_key;  // empty if the record did not decode
  RejectReason reason = RejectReason::none;
  std::string detail;
};

// Where a rejected event stands in its org's views (the "org_rejects" index, projections/store.h).
enum class RejectPlacement : uint8_t {
  in_history = 0,       // the org's history has it too (transactions, statements)
  before_org = 1,       // folded before the org existed: an early reject (HistoryEntry::early)
  other_partition = 2,  // wrong_partition: the org lives in another partition; rejects only
  no_org = 3,           // no readable org (undecodable, damaged, a bad org id): GET /api/v1/rejects
};
inline const char* reject_placement_name(RejectPlacement placement) {
  switch (placement) {
    case RejectPlacement::in_history: return "in_history";
    case RejectPlacement::before_org: return "before_org";
    case RejectPlacement::other_partition: return "other_partition";
    case RejectPlacement::no_org: return "no_org";
  }
  return "unknown";
}

// A rejected record with what could be read of it, as a history entry (type, key, fields; for a
// record that did not decode, only position, reason and detail).
struct OrgReject {
  RejectPlacement placement = RejectPlacement::in_history;
  HistoryEntry entry;
};

struct RejectQuery {
  std::string org_id;        // empty: the records with no readable org
  LogPosition from;          // return rejects at this position or later (partition, then offset)
  std::size_t limit = 100;
};

struct RejectPage {
  std::vector<OrgReject> rejects;   // in position order
  std::optional<LogPosition> next;  // cursor for the next page, none at the end
};

// The outbox sequence of an entry. One store numbers its outbox densely from 1 in emission order.
// A partitioned views directory (projections/partitioned_layout.h) of N partitions numbers the
// entry of local sequence s in partition p's store s × N + p (partitioned_outbox_sequence): unique,
// strictly increasing in emission order within a partition, but NOT dense, and not in emission
// order across partitions (entries interleave by local sequence). A cursor is the last sequence
// seen, never a count.
struct OutboxEntry {
  uint64_t sequence = 0;   // see above: dense from 1 in one store
  std::string signal_id;
  std::string bytes;       // encoded Signal (schemas/signals.fbs)
};

// The sequence a partitioned directory of `partition_count` partitions gives the entry of
// sequence `local_sequence` in `partition`'s store. REQUIRES: 0 <= partition < partition_count,
// and the result fits in 64 bits (local sequences count entries: far below 2^54).
inline uint64_t partitioned_outbox_sequence(uint64_t local_sequence, PartitionId partition, int32_t partition_count) {
  TALLY_ASSERT(partition.value >= 0 && partition.value < partition_count, "a partition of the directory");
  const auto count = static_cast<uint64_t>(partition_count);
  const auto p = static_cast<uint64_t>(partition.value);
  TALLY_ASSERT(local_sequence <= (UINT64_MAX - p) / count, "an outbox sequence beyond 64 bits");
  return local_sequence * count + p;
}

// The local sequence of `partition`'s store after which its entries have partitioned sequences
// greater than `after_sequence` (the inverse of partitioned_outbox_sequence, for cursors).
inline uint64_t partitioned_outbox_local_after(uint64_t after_sequence, PartitionId partition, int32_t partition_count) {
  TALLY_ASSERT(partition.value >= 0 && partition.value < partition_count, "a partition of the directory");
  const auto p = static_cast<uint64_t>(partition.value);
  return after_sequence < p ? 0 : (after_sequence - p) / static_cast<uint64_t>(partition_count);
}

// The signals of one org, from the outbox (the signals as the projector emitted them, before the
// emitter sends them to the signals log), through the "org_signals" index.
struct SignalQuery {
  OrgId org_id;
  uint64_t after_sequence = 0;            // outbox sequences > after_sequence
  std::size_t limit = 100;
  std::optional<SignalKind> kind = std::nullopt;  // only this kind
};

struct SignalPage {
  std::vector<OutboxEntry> signals;       // in emission order
  std::optional<uint64_t> next_after;     // cursor for the next page (an after_sequence), none at the end
};

// The purchase (or auto-refill) that a payment settled, found by its payment reference.
struct PaymentPurchase {
  std::string org_id;
  std::string purchase_key;     // the purchase event's idempotency key
  Micros credits_micros;        // credits it bought (the "purchases" view)
  Micros refunded_micros;       // credits refunded so far
  int64_t paid_minor = 0;       // price of the credits, minor units (the fee not included)
  int64_t fee_minor = 0;        // platform fee paid on top
};

struct PartitionView {
  PartitionId partition;
  Offset next_offset;      // the projector resumes here
  Digest256 chain;         // SHA-256 hash-chain head over the records folded (engine/chain.h)
  uint64_t records = 0;    // records chained
  int64_t clock_ms = -1;
  int64_t rate_card_version = 0;
  bool holds_active = false;  // SPEC §11: some hold in this partition waits for the clock to expire it
  RateCard rate_card;         // the partition's current prices (runway, SPEC §11)
};

// The chain mark of one record: engine/chain.h chain_mark of the partition's head after it.
struct ChainMark {
  Offset offset;
  uint64_t mark = 0;
};

// Counters for /metrics.
struct ProjectionStats {
  uint64_t batches = 0;
  std::map<std::string, uint64_t> outcomes;  // "applied", "duplicate", "conflict", "rejected"
  uint64_t hold_late = 0;                     // applied captures naming a hold no longer active (SPEC §11)
  uint64_t outbox_sent = 0;                   // outbox entries the emitter has recorded as sent
};

// Disk use of one view (one LMDB database), for operators and the bench.
struct ViewStorage {
  std::string name;
  uint64_t entries = 0;
  uint64_t pages = 0;        // branch + leaf + overflow pages
  uint64_t page_bytes = 0;   // page size
};

class ViewReader {
 public:
  virtual ~ViewReader() = default;
  static Result<std::unique_ptr<ViewReader>> open(const std::string& data_dir);

  virtual Result<std::optional<OrgView>> org(OrgIdView org_id) = 0;
  virtual Result<std::vector<OrgId>> org_ids() = 0;
  virtual Result<std::vector<MemberView>> members(OrgIdView org_id) = 0;
  virtual Result<HistoryPage> history(const HistoryQuery& query) = 0;
  // Streams every history entry of an org in [from_ms, to_ms) in order, in one read txn; stops
  // early when `visit` returns false.
  virtual Status for_each_history(OrgIdView org_id, int64_t from_ms, int64_t to_ms,
                                  const std::function<bool(const HistoryEntry&)>& visit) = 0;
  virtual Result<std::vector<UsageRollup>> usage(OrgIdView org_id, int64_t from_ms, int64_t to_ms) = 0;
  // Rejects in log position order (partition, then offset): at most `limit` of them (and at most
  // a page, 100,000), those after `after` if given. Page on with the last one's position.
  virtual Result<std::vector<RejectEntry>> rejects(std::size_t limit, std::optional<LogPosition> after = {}) = 0;
  // Outbox entries with sequence > after_sequence, in sequence order (sequences start at 1, so
  // after_sequence = 0 is the whole outbox; an emitter passes the last sequence it sent). At most
  // `limit` and outbox_page_entries_max of them. Sequences are dense in one store only: in a
  // partitioned directory they are strictly increasing, in emission order within a partition, with
  // gaps (OutboxEntry), so page on with the last one's sequence and never expect after + 1.
  virtual Result<std::vector<OutboxEntry>> outbox(uint64_t after_sequence, std::size_t limit) = 0;
  virtual Result<std::vector<PartitionView>> partitions() = 0;
  virtual Result<ProjectionStats> stats() = 0;
  // Digest of every view (name -> digest) and of all of them ("all"). Identical logs give
  // identical digests on every machine. Excludes bookkeeping that is not a fold result
  // (emitter progress, map size, stats).
  virtual Result<std::map<std::string, Digest128>> digests() = 0;
  // The applied purchase or auto-refill whose payment_ref is `payment_ref` (a Stripe payment
  // intent, charge or Checkout Session id); nullopt if none. Maps a refund whose charge carries no
  // Tally metadata to its purchase. A ref used by purchases of several orgs keeps the first one
  // folded; in a partitioned directory, the first one of the lowest partition that has it. (Added
  // after the first API; default: unavailable.)
  virtual Result<std::optional<PaymentPurchase>> purchase_by_payment(std::string_view payment_ref) {
    (void)payment_ref;
    return Status::error(Status::Code::unavailable, "payment lookup not available");
  }
  // The chain marks of `partition`'s records from offset `from` on, at most `limit`, in offset
  // order (audit: the first record whose chain differs). (Added after the first API; default:
  // unavailable.)
  virtual Result<std::vector<ChainMark>> chain_marks(PartitionId partition, Offset from, std::size_t limit) {
    (void)partition, (void)from, (void)limit;
    return Status::error(Status::Code::unavailable, "chain marks not available");
  }
  // The early rejects of an org (HistoryEntry::early) in [from_ms, to_ms), in log order, in one
  // read txn; stops early when `visit` returns false. (Default: unavailable.)
  virtual Status for_each_early_reject(OrgIdView org_id, int64_t from_ms, int64_t to_ms,
                                       const std::function<bool(const HistoryEntry&)>& visit) {
    (void)org_id, (void)from_ms, (void)to_ms, (void)visit;
    return Status::error(Status::Code::unavailable, "early rejects not available");
  }
  // The rejects of an org (every placement but no_org), or with an empty org_id those of records
  // with no readable org. At most org_rejects_page_max per page. In a partitioned directory an
  // org's other_partition rejects come from the stores of the partitions they were appended to,
  // in position order as in one store. (Default: unavailable.)
  virtual Result<RejectPage> org_rejects(const RejectQuery& query) {
    (void)query;
    return Status::error(Status::Code::unavailable, "rejects by org not available");
  }
  // The signals of an org, optionally of one kind; a page reads at most org_signals_scan_max index
  // entries, so a rare kind may give an empty page with a next cursor. Sequences and cursors are
  // outbox sequences (OutboxEntry: partitioned ones in a partitioned directory). (Default:
  // unavailable.)
  virtual Result<SignalPage> org_signals(const SignalQuery& query) {
    (void)query;
    return Status::error(Status::Code::unavailable, "signals by org not available");
  }
  // SPEC §12: the org's closed grants (nothing left; its active ones are in its state, OrgState::
  // grants), in the order they were made (log position). (Default: unavailable.)
  virtual Result<std::vector<Grant>> closed_grants(OrgIdView org_id) {
    (void)org_id;
    return Status::error(Status::Code::unavailable, "grants not available");
  }
  // Entries and pages of every view (added after the first API; default: unavailable). In a
  // partitioned directory, the sums over the partition stores.
  virtual Result<std::vector<ViewStorage>> storage() {
    return Status::error(Status::Code::unavailable, "storage statistics not available");
  }
};

}  // namespace tally
