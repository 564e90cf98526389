// Internal to the fold (engine/fold.h): the fold of one decoded, valid, non-duplicate event.
// fold.cpp has apply() and the dispatch over bodies, fold_money.cpp the bodies that move money
// (payments, usage, refunds, adjustments, rate cards), fold_levels.cpp the partition clock and the
// level-tracked signals (SPEC §5).
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

#include "engine/calendar.h"
#include "engine/ids.h"
#include "engine/ledger.h"
#include "engine/money.h"
#include "engine/signals.h"
#include "engine/state.h"
#include "tally/events_generated.h"

namespace tally {

struct FoldResult;     // engine/fold.h (which this private half does not include)
struct RecordContext;

inline std::string_view view(const flatbuffers::String* s) { return s ? s->string_view() : std::string_view(); }

// SPEC §4: only wallet orgs (pro plan, credits mode) get signals of any kind.
inline bool wallet_org(const OrgState& org) { return org.plan == Plan::pro && org.mode == BillingMode::credits; }

// SPEC §11: balance - held, saturated (both are int64; held >= 0).
inline Micros available_of(const OrgState& org) {
  const std::optional<Micros> available = checked_sub(org.balance_micros, org.held_micros);
  return available ? *available : Micros{org.balance_micros < Micros{} ? INT64_MIN : INT64_MAX};
}

// Adds `credits` to the balance and to `total`, or changes nothing and returns false if either
// would overflow (fold_money.cpp).
bool credit(OrgState& org, Micros& total, Micros credits);

class Folder {
 public:
  // `org` is the event's org as apply() found it (nullptr if new or for global events).
  Folder(Ledger& ledger, const RecordContext& context, const fb::Envelope& e, FoldResult& result,
         PartitionState& partition, OrgState* org);

  // Checks the event against the state; on success mutates the state, emits signals and returns
  // RejectReason::none. On a business rejection changes nothing.
  RejectReason run();

 private:
  RejectReason run_org_event();
  RejectReason check_and_apply_body(OrgState& org);
  void configure_auto_refill(OrgState& org, const fb::AutoRefillConfigured& configured);
  // MemberLimitSet (set) or MemberLimitCleared.
  RejectReason apply_member_limit(bool set);
  // fold_money.cpp
  RejectReason apply_payment(OrgState& org, Micros credits, const flatbuffers::String* signal_id);
  RejectReason apply_usage(OrgState& org, const fb::Usage& usage);
  RejectReason apply_refund(OrgState& org, const fb::Refund& refund);
  RejectReason apply_adjustment(OrgState& org, const fb::AdminAdjustment& adjustment);
  void apply_rate_card(const fb::RateCardPublished& card);

  // fold_holds.cpp (SPEC §11)
  RejectReason apply_hold_event(OrgState& org);  // HoldPlaced, HoldExtended or HoldReleased
  RejectReason apply_hold_placed(OrgState& org, const fb::HoldPlaced& placed);
  RejectReason apply_hold_extended(OrgState& org, const fb::HoldExtended& extended);
  RejectReason apply_hold_released(OrgState& org, const fb::HoldReleased& released);
  // A usage event that debited `debit` takes it from the hold it names (or is flagged late).
  void capture_hold(OrgState& org, const fb::Usage& usage, Micros debit);
  // Releases every hold whose expiry the partition clock has reached (advance_clock).
  void expire_holds();
  // The admission rule (SPEC §11): none and `granted`, or why the amount is refused.
  RejectReason admit(const OrgState& org, std::string_view member_id, Micros amount, bool allow_partial,
                     Micros min_micros, Micros& granted);
  // The price of a hold's amount or estimate (unpriced, overflow), into `amount`.
  RejectReason hold_amount(int64_t micros, const fb::HoldEstimate* estimate, Micros& amount);
  RejectReason find_active_hold(OrgState& org, std::string_view hold_id, Hold*& hold);
  void close_hold(OrgState& org, std::string_view hold_id);
  // The partition clock as this event will leave it: holds expiring by then are gone for it.
  int64_t clock_after() const;
  Micros expiring_by_clock_after(const OrgState& org) const;

  // fold_levels.cpp
  void advance_clock();
  void evaluate_org(OrgIdView org_id, OrgState& org);
  void maybe_request_refill(OrgIdView org_id, OrgState& org);
  void evaluate_member(OrgIdView org_id, MemberIdView member_id, MemberState& member, const OrgState& org);
  // Re-judges the org's members that are over their limit (the org entered or left the wallet).
  void evaluate_members_over_limit(OrgIdView org_id, const OrgState& org);
  void disable_auto_refill(OrgState& org, std::string_view pause_reason);
  Signal& emit(SignalKind kind, OrgIdView org_id, const OrgState& org);
  // utc_month, remembered for the last instant asked: one event asks for the same instant (its
  // time, usually also the partition clock) several times.
  int64_t month_of(int64_t unix_ms) {
    if (!month_known_ || unix_ms != month_ms_) {
      month_known_ = true;
      month_ms_ = unix_ms;
      month_ = utc_month(unix_ms);
    }
    return month_;
  }

  Ledger& ledger_;
  LogPosition position_;
  const fb::Envelope& e_;
  FoldResult& result_;
  PartitionState& partition_;
  OrgIdView org_id_;  // validated with the envelope; empty for global events and ticks
  OrgState* existing_org_;
  bool disabled_signal_ = false;
  std::string_view disabled_reason_;
  MemberIdView member_touched_;
  MemberState* member_touched_state_ = nullptr;  // its state (ledger pointers stay valid)
  bool month_known_ = false;
  int64_t month_ms_ = 0;
  int64_t month_ = 0;
};

}  // namespace tally
