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

#include "engine/digest.h"
#include "engine/ids.h"
#include "engine/money.h"
#include "engine/state.h"
#include "engine/status.h"
#include "engine/types.h"

namespace tally {

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
};

struct HistoryQuery {
  OrgId org_id;
  uint64_t after_sequence = 0;      // return entries with sequence >= after_sequence
  std::size_t limit = 100;
  std::string type;                 // empty = all types
  int64_t from_ms = INT64_MIN;      // occurred_at_ms >= from_ms
  int64_t to_ms = INT64_MAX;        // occurred_at_ms < to_ms
};

struct HistoryPage {
  std::vector<HistoryEntry> entries;
  std::optional<uint64_t> next_sequence;  // cursor for the next page, none at the end
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

// The purchase (or auto-refill) that a payment settled, found by its payment reference.
struct PaymentPurchase {
  std::string org_id;
  std::string purchase_key;     // the purchase event's idempotency key
  Micros credits_micros;        // credits it bought (the "purchases" view)
  Micros refunded_micros;       // credits refunded so far
  int64_t paid_minor = 0;       // price of the credits, minor units (the fee not included)
  int64_t fee_minor = 0;        // platform fee paid on top
};

struct OutboxEntry {
  uint64_t sequence = 0;   // dense, in emission order
  std::string signal_id;
  std::string bytes;       // encoded Signal (schemas/signals.fbs)
};

struct PartitionView {
  PartitionId partition;
  Offset next_offset;      // the projector resumes here
  Digest128 chain;         // hash chain head over (record digest, outcome)
  uint64_t records = 0;
  int64_t clock_ms = -1;
  int64_t rate_card_version = 0;
};

// Counters for /metrics.
struct ProjectionStats {
  uint64_t batches = 0;
  std::map<std::string, uint64_t> outcomes;  // "applied", "duplicate", "conflict", "rejected"
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
  // The first `limit` rejects in log position order (partition, then offset).
  virtual Result<std::vector<RejectEntry>> rejects(std::size_t limit) = 0;
  // Outbox entries with sequence > after_sequence, in sequence order (sequences start at 1, so
  // after_sequence = 0 is the whole outbox; an emitter passes the last sequence it sent).
  virtual Result<std::vector<OutboxEntry>> outbox(uint64_t after_sequence, std::size_t limit) = 0;
  virtual Result<std::vector<PartitionView>> partitions() = 0;
  virtual Result<ProjectionStats> stats() = 0;
  // Digest of every view (name -> digest) and of all of them ("all"). Identical logs give
  // identical digests on every machine. Excludes bookkeeping that is not a fold result
  // (emitter progress, map size, stats).
  virtual Result<std::map<std::string, Digest128>> digests() = 0;
  // The applied purchase or auto-refill whose payment_ref is `payment_ref` (a Stripe payment
  // intent, charge or Checkout Session id); nullopt if none. Maps a refund whose charge carries no
  // Tally metadata to its purchase. (Added after the first API; default: unavailable.)
  virtual Result<std::optional<PaymentPurchase>> purchase_by_payment(std::string_view payment_ref) {
    (void)payment_ref;
    return Status::error(Status::Code::unavailable, "payment lookup not available");
  }
  // Entries and pages of every view (added after the first API; default: unavailable).
  virtual Result<std::vector<ViewStorage>> storage() {
    return Status::error(Status::Code::unavailable, "storage statistics not available");
  }
};

}  // namespace tally
