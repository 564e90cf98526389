// The fold's state: what the ledger knows about each org, member, key, purchase and partition.
// Plain values. The projector stores them in LMDB (engine/state_codec.h gives their bytes);
// tests and benches keep them in memory (engine/memory_ledger.h).
#pragma once

#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <string_view>
#include <tuple>
#include <utility>
#include <vector>

#include "engine/digest.h"
#include "engine/money.h"
#include "engine/types.h"
#include "engine/workspace_billing.h"

namespace tally {

enum class Plan : uint8_t { pro = 1, enterprise = 2 };
enum class BillingMode : uint8_t { credits = 1, byok = 2, deferred = 3 };

const char* plan_name(Plan plan);
const char* billing_mode_name(BillingMode mode);

// Cumulative totals of an org. balance == allocated + purchased - used - refunded + adjusted
// - expired - voided (SPEC §4, §12; the fold asserts it after every applied event).
struct OrgTotals {
  Micros allocated_micros;     // signup allocations and credit grants
  Micros purchased_micros;     // purchases and auto-refills
  Micros used_micros;          // debited by usage
  Micros tracked_cost_micros;  // all usage, priced, debited or not
  Micros refunded_micros;
  Micros adjusted_micros;      // signed
  Micros expired_micros;       // SPEC §12: grant remainders the partition clock expired (breakage)
  Micros voided_micros;        // SPEC §12: removed by GrantVoided
  bool operator==(const OrgTotals&) const = default;
};

// SPEC §12: what a grant's credit is. Promotional credit is drawn before paid credit of the same
// priority and expiry.
enum class GrantCategory : uint8_t { paid = 0, promotional = 1 };
const char* grant_category_name(GrantCategory category);

// SPEC §12: the credit one applied credit-adding event made (signup allocation, purchase,
// auto-refill, positive adjustment, credit grant), and where it went. Always
// original = remaining + consumed + expired + voided + refunded.
struct Grant {
  std::string id;                 // the idempotency key of the event that made it
  uint8_t source = 0;             // that event's body type (fb::Body)
  GrantCategory category = GrantCategory::promotional;
  int32_t priority = 50;          // 0..100: drawn down lowest first
  int64_t expires_at_ms = 0;      // 0 = never
  int64_t effective_at_ms = 0;    // the event's occurred_at_ms
  int64_t offset = 0;             // the event's offset in the org's partition (the last tie-break)
  Micros original_micros;
  Micros remaining_micros;
  Micros consumed_micros;         // debits (usage, hold captures, negative adjustments) and the
                                  // overdraft it repaid when it was made
  Micros expired_micros;
  Micros voided_micros;
  Micros refunded_micros;         // taken by refunds (its own purchase's, or another's in order)
  bool expiring_signaled = false; // grant_expiring was emitted (once per grant)
  int64_t paid_minor = 0;         // cost basis of a paid purchase or auto-refill: what the credits
  std::string currency;           // cost (the platform fee not included), in minor units of currency
  bool operator==(const Grant&) const = default;
};

// The draw-down order (SPEC §12): priority ascending, then expiry ascending (never last), then
// promotional before paid, then log position. Total: offsets are unique within a partition.
bool draws_before(const Grant& a, const Grant& b);

struct AutoRefillPolicy {
  bool enabled = false;
  Micros threshold_micros;
  Micros refill_credits_micros;
  int32_t max_per_day = 0;    // 0 = no cap
  int32_t max_per_month = 0;  // 0 = no cap
  std::string payment_customer;  // empty: the org's linked customer (OrgState::payment_customer)
  int32_t refill_bundles = 0;    // the refill in bundles as configured (0: given in credits)
  bool operator==(const AutoRefillPolicy&) const = default;
};

// An active hold (SPEC §11): credits reserved before the work. Closed, released and expired holds
// leave the org's state (their events stay in the history).
struct Hold {
  std::string member_id;         // empty: the hold counts against no member
  std::string workspace;
  Micros granted_micros;         // placed plus extended
  Micros remaining_micros;       // granted minus what captures took; counted in OrgState::held_micros
  int64_t placed_at_ms = 0;      // the HoldPlaced's occurred_at_ms
  int64_t expires_at_ms = 0;     // released when the partition clock reaches it
  bool operator==(const Hold&) const = default;
};

struct OrgState {
  PartitionId home_partition{-1};  // -1 until the org's first event
  Plan plan = Plan::pro;
  BillingMode mode = BillingMode::credits;
  bool opened = false;  // an OrgOpened was applied (a second one is org_exists)
  Micros balance_micros;
  OrgTotals totals;
  Micros low_balance_threshold_micros;  // 0 = none set
  AutoRefillPolicy auto_refill;
  // Refill state: at most one request in flight; counters per UTC day and month of the partition clock.
  bool refill_pending = false;
  std::string pending_signal_id;
  int64_t refill_day = -1;
  int32_t refills_in_day = 0;
  int64_t refill_month = -1;
  int32_t refills_in_month = 0;
  int64_t cap_signaled_day = -1;    // auto_refill_cap_reached sent for this day (once per period)
  int64_t cap_signaled_month = -1;
  bool waiting_on_cap = false;      // listed in PartitionState::cap_waiting_orgs
  // Level-tracked signal state (only meaningful for wallet orgs: pro plan, credits mode).
  bool is_low = false;
  bool is_exhausted = true;
  uint64_t history_entries = 0;  // entries of this org in the history view (next sequence number)
  int64_t last_occurred_at_ms = 0;
  // SPEC §14: the org's customer at the payment provider (PaymentCustomerLinked; empty: none yet)
  // and who pays per workspace (WorkspaceBillingSet).
  std::string payment_customer;
  WorkspaceBilling workspace_billing;
  // SPEC §11: the org's active holds by hold id (the HoldPlaced's idempotency key), and
  // held_micros = Σ their remaining (asserted after every event). available = balance - held.
  std::map<std::string, Hold, std::less<>> holds;
  Micros held_micros;
  // SPEC §12: the active grants (remaining > 0) in draw-down order, and what no grant covered
  // (> 0 only while no grant is active; the next grant repays it first).
  // balance = Σ remaining of the grants - overdraft (asserted after every event).
  std::vector<Grant> grants;
  Micros overdraft_micros;
  bool operator==(const OrgState&) const = default;
};

struct MemberState {
  bool has_limit = false;
  Micros monthly_limit_micros;
  int64_t month = -1;        // UTC month index that used_micros counts
  Micros used_micros;        // debited in `month`
  // Paused by member_limit_exceeded: over the limit (listed in PartitionState::members_over_limit)
  // and the org is a wallet org. Never true for a member of a byok, deferred or enterprise org.
  bool exceeded = false;
  bool operator==(const MemberState&) const = default;
};

enum class Outcome : uint8_t { applied = 0, duplicate = 1, conflict = 2, rejected = 3 };
const char* outcome_name(Outcome outcome);

// Why an event was rejected. Validation reasons do not record the idempotency key; business
// reasons do (so a retry is a duplicate of the rejection).
enum class RejectReason : uint8_t {
  none = 0,
  // validation
  invalid_record = 1,    // undecodable bytes, wrong file identifier, truncated
  invalid_field = 2,     // missing or out-of-range field (detail names it)
  wrong_partition = 3,   // the org lives in another partition
  damaged_record = 4,    // the log could not read the record (a damaged journal frame; detail says how)
  clock_skew = 5,        // occurred_at_ms runs more than future_skew_max_ms ahead of the log's append time
  // business
  unknown_purchase = 10,
  refund_exceeds_purchase = 11,
  insufficient_balance = 12,
  overflow = 13,
  unpriced = 14,
  stale_rate_card = 15,
  org_exists = 16,
  workspace_billing_full = 30,  // the org has workspace_billing_settings_max settings already
  // SPEC §11: holds
  insufficient_available = 31,  // the org is exhausted, or the amount does not fit its available credits
  member_limit = 32,            // the member is over its limit, or the amount does not fit what it has left
  unknown_hold = 33,            // extend or release of a hold never granted
  hold_not_active = 34,         // extend or release of a hold released, closed by a capture, or expired
  too_many_holds = 35,          // the org has holds_active_per_org_max active holds already
  // SPEC §12: grant voids
  unknown_grant = 36,           // no grant of the org has that id
  nothing_to_void = 37,         // the grant has nothing left (consumed, expired, voided or refunded)
  void_exceeds_remaining = 38,  // more than the grant has left
};
const char* reject_reason_name(RejectReason reason);
bool is_business_reason(RejectReason reason);

// What the idempotency index remembers of a key.
struct KeyRecord {
  Digest128 payload_digest;
  Outcome outcome = Outcome::applied;  // applied or rejected
  RejectReason reason = RejectReason::none;
  bool operator==(const KeyRecord&) const = default;
};

// A purchase or auto-refill, for refunds.
struct PurchaseRecord {
  Micros credits_micros;
  Micros refunded_micros;
  bool operator==(const PurchaseRecord&) const = default;
};

struct ModelPrice {
  int64_t input_per_mtok_micros = 0;
  int64_t output_per_mtok_micros = 0;
  int64_t cache_read_per_mtok_micros = 0;
  int64_t cache_write_per_mtok_micros = 0;
  bool operator==(const ModelPrice&) const = default;
};

struct RateCard {
  int64_t version = 0;       // 0 = none published yet
  int32_t markup_bp = 10000;
  int32_t byok_fee_bp = 0;
  std::map<std::string, ModelPrice, std::less<>> models;
  std::map<std::string, int64_t, std::less<>> sandbox_per_hour_micros;
  bool operator==(const RateCard&) const = default;
};

// Orders (org, member) pairs by org, then member, and finds them by a pair of views without
// building strings (the fold looks members up on every usage event).
struct MemberPairLess {
  using is_transparent = void;
  template <typename A, typename B>
  bool operator()(const A& a, const B& b) const {
    const std::string_view a_first(a.first), b_first(b.first);
    if (a_first != b_first) return a_first < b_first;
    return std::string_view(a.second) < std::string_view(b.second);
  }
};

// A grant due at a time (expiry or warning): (at_ms, offset of its event, org id, grant id).
using GrantDue = std::tuple<int64_t, int64_t, std::string, std::string>;

// Per partition: the clock, the current rate card, and the sets re-evaluated when the clock enters
// a new UTC day or month or an org enters or leaves the wallet. Ordered containers: their order
// reaches the signals. (The hash chain over the partition's records is not fold state: engine/chain.h.)
struct PartitionState {
  int64_t clock_ms = -1;  // highest occurred_at_ms of an applied event; -1 before any
  RateCard rate_card;
  // (org, member): the member's usage of the clock's month is at or over its limit, whatever the
  // org's plan and mode. Paused (MemberState::exceeded) only while the org is a wallet org.
  std::set<std::pair<std::string, std::string>, MemberPairLess> members_over_limit;
  std::set<std::string, std::less<>> cap_waiting_orgs;
  // Active holds by expiry: (expires_at_ms, org, hold id). The clock releases them in this order.
  std::set<std::tuple<int64_t, std::string, std::string>, std::less<>> hold_expiries;
  // SPEC §12: active grants that expire, by (expires_at_ms, offset, org, grant id), and those to be
  // warned by (expires_at_ms - grant_warning_ms, offset, org, grant id): the clock handles them
  // in this order, across the partition's orgs.
  std::set<GrantDue, std::less<>> grant_expiries;
  std::set<GrantDue, std::less<>> grant_warnings;
  bool operator==(const PartitionState&) const = default;
};

}  // namespace tally
