// Internal to the fold (engine/fold.h): the fold of one decoded, valid, non-duplicate event.
// fold.cpp has apply() and the dispatch over bodies, fold_money.cpp the bodies that move money
// (payments, usage, refunds, adjustments, rate cards), fold_levels.cpp the partition clock and the
// level-tracked signals (SPEC §5).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

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

// SPEC §4, §12: balance = allocated + purchased - used - refunded + adjusted - expired - voided.
bool totals_identity_holds(const OrgState& org);
// SPEC §12: that and balance = Σ remaining of the active grants - overdraft; the grants in draw-down
// order, each with credit left; an overdraft only while no grant is active (fold_grants.cpp). It
// reads every active grant of the org.
bool grant_identities_hold(const OrgState& org);

// SPEC §12: whether a debit leaving the balance at `balance_after` can be recorded: the overdraft
// is its negation, which the most negative balance does not have.
inline bool overdraft_fits(Micros balance_after) { return balance_after.value() != INT64_MIN; }

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

  // fold_grants.cpp (SPEC §12)
  // A credit-adding event: adds `credits` to the balance and to `total` and makes the event's grant,
  // which repays the overdraft first. overflow (nothing changed) if the balance or total would.
  RejectReason grant_credit(OrgState& org, Micros& total, Micros credits);
  // A debit of `amount` (>= 0): taken from the grant `first_id` (a refund's own purchase; empty:
  // none), then from the grants in draw-down order; what none covers is overdraft. Counted as
  // refunded on the grants (`refund`) or consumed. Records the fundings. The caller moves the
  // balance and its total. REQUIRES: overdraft_fits(the balance after).
  void draw_down(OrgState& org, Micros amount, std::string_view first_id, bool refund);
  RejectReason apply_grant_voided(OrgState& org, const fb::GrantVoided& voided);
  // Moves the org's grants with nothing left out of its active list (into closed_grants_).
  void close_spent_grants(OrgState& org);
  // Before the body: expires the event's own org's grants due by the clock this event leaves, so
  // the body is judged after them (recorded; a rejection discards them with the org's copy).
  void expire_own_grants(OrgState& org);
  // After an applied body: stores the grants it closed and indexes the expiries and warnings of
  // the grants it made.
  void finish_grants();
  // advance_clock: the partition's grants due by the clock, in (at, offset) order: expiries, then
  // warnings (grant_expiring). Orgs whose balance an expiry moved are judged afresh.
  // `orgs_expired`: the other orgs whose grants expired, to be judged afresh.
  void expire_grants(std::vector<std::string>& orgs_expired);
  void warn_expiring_grants();
  void expire_grant(OrgIdView org_id, OrgState& org, std::size_t index, bool before_event);
  // balance = Σ remaining - overdraft after the event, given it held before (balance_before,
  // overdraft_before): recounted in full when the event closed a grant, else from the changes the
  // event made to its org's grants (grants_changed_micros_), so that a debit or a purchase does not
  // read every grant of the org.
  bool grants_still_balance(const OrgState& org, Micros balance_before, Micros overdraft_before) const;

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
  // SPEC §12, kept until the event is applied: the grants of its org it closed (expired before
  // the body included), and the expiry of the grant it made (0: none, or no expiry).
  std::vector<Grant> closed_grants_;
  int64_t made_expires_at_ms_ = 0;
  bool grants_reshaped_ = false;    // the event closed a grant of its org
  __int128 grants_changed_micros_ = 0;  // Σ of the changes of its org's grants' remaining
  // The org's grants as they were before expire_own_grants changed them (given back on a rejection).
  std::optional<std::vector<Grant>> grants_before_body_;
};

}  // namespace tally
