#include "fold.h"

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <vector>

#include "assert.h"
#include "calendar.h"
#include "fold_commerce.h"
#include "payload_digest.h"
#include "pricing.h"
#include "tally/events_generated.h"
#include "validate.h"

namespace tally {
namespace {

using flatbuffers::String;

std::string_view view(const String* s) { return s ? s->string_view() : std::string_view(); }

bool wallet_org(const OrgState& org) { return org.plan == Plan::pro && org.mode == BillingMode::credits; }

// The warning level of balance_low: LowBalanceThresholdSet, else an enabled auto-refill's
// threshold, else none (0).
Micros warning_threshold(const OrgState& org) {
  if (org.low_balance_threshold_micros > Micros{}) return org.low_balance_threshold_micros;
  if (org.auto_refill.enabled) return org.auto_refill.threshold_micros;
  return Micros{};
}

// SPEC §4: balance = allocated + purchased - used - refunded + adjusted. Each total fits in 64
// bits; their sum is taken in 128 so that the check itself cannot overflow.
bool balance_identity_holds(const OrgState& org) {
  const OrgTotals& t = org.totals;
  const __int128 sum = static_cast<__int128>(t.allocated_micros.value()) + t.purchased_micros.value() -
                       t.used_micros.value() - t.refunded_micros.value() + t.adjusted_micros.value();
  return sum == org.balance_micros.value();
}

// Adds `credits` to the balance and to `total`, or changes nothing and returns false if either
// would overflow.
bool credit(OrgState& org, Micros& total, Micros credits) {
  const std::optional<Micros> balance = checked_add(org.balance_micros, credits);
  const std::optional<Micros> sum = checked_add(total, credits);
  if (!balance || !sum) return false;
  org.balance_micros = *balance;
  total = *sum;
  return true;
}

// ---- The fold of one decoded, valid, non-duplicate event.
class Folder {
 public:
  // `org` is the event's org as apply() found it (nullptr if new or for global events).
  Folder(Ledger& ledger, LogPosition position, const fb::Envelope& e, FoldResult& result, PartitionState& partition,
         OrgState* org)
      : ledger_(ledger), position_(position), e_(e), result_(result), partition_(partition),
        org_id_(OrgIdView::trusted(view(e.org_id()))), existing_org_(org) {}

  // Checks the event against the state; on success mutates the state, emits signals and returns
  // RejectReason::none. On a business rejection changes nothing.
  RejectReason run();

 private:
  RejectReason check_and_apply_body(OrgState& org);
  RejectReason apply_payment(OrgState& org, Micros credits, const String* signal_id);
  RejectReason apply_usage(OrgState& org, const fb::Usage& usage);
  RejectReason apply_refund(OrgState& org, const fb::Refund& refund);
  RejectReason apply_adjustment(OrgState& org, const fb::AdminAdjustment& adjustment);
  void apply_rate_card(const fb::RateCardPublished& card);

  void advance_clock();
  void evaluate_org(OrgIdView org_id, OrgState& org);
  void maybe_request_refill(OrgIdView org_id, OrgState& org);
  void evaluate_member(OrgIdView org_id, MemberIdView member_id, MemberState& member,
                       const OrgState& org);
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
  // Signals of the event's own org are emitted after the clock transitions; collected here first.
  std::vector<Signal> own_signals_;
  bool disabled_signal_ = false;
  std::string_view disabled_reason_;
  MemberIdView member_touched_;
  MemberState* member_touched_state_ = nullptr;  // its state (ledger pointers stay valid)
  bool month_known_ = false;
  int64_t month_ms_ = 0;
  int64_t month_ = 0;
};

Signal& Folder::emit(SignalKind kind, OrgIdView org_id, const OrgState& org) {
  Signal& s = result_.signals.emplace_back();
  s.kind = kind;
  s.org_id = OrgId(org_id);
  s.position = position_;
  s.occurred_at_ms = e_.occurred_at_ms();
  s.balance_micros = org.balance_micros;
  return s;
}

void Folder::advance_clock() {
  const int64_t before = partition_.clock_ms;
  const int64_t after = std::max(before, e_.occurred_at_ms());
  partition_.clock_ms = after;
  if (before < 0) return;
  // The same UTC day is the same month: months are only worked out when the day changes.
  const bool new_day = utc_day(after) != utc_day(before);
  const bool new_month = new_day && utc_month(after) != utc_month(before);
  if (new_month) {
    // Members paused for last month's usage resume (sorted set: deterministic order).
    const auto exceeded = partition_.exceeded_members;
    for (const auto& [org_text, member_text] : exceeded) {
      // Ids of the partition state were valid ids when the fold stored them.
      const OrgIdView org_id = OrgIdView::trusted(org_text);
      const MemberIdView member_id = MemberIdView::trusted(member_text);
      MemberState* member = ledger_.find_member(org_id, member_id);
      OrgState* org = ledger_.find_org(org_id);
      TALLY_ASSERT(member && org, "an exceeded member and its org are in the ledger");
      evaluate_member(org_id, member_id, *member, *org);
    }
  }
  if (new_day) {
    // Orgs whose refill waited on a spent day or month cap get their request now if due.
    // The event's own org is left to evaluate_org, which runs next and keeps the SPEC §5 order
    // (its balance_low before its request).
    const auto waiting = partition_.cap_waiting_orgs;
    for (const auto& org_text : waiting) {
      const OrgIdView org_id = OrgIdView::trusted(org_text);
      if (org_id == org_id_) continue;
      OrgState* org = ledger_.find_org(org_id);
      TALLY_ASSERT(org, "an org waiting on its refill cap is in the ledger");
      maybe_request_refill(org_id, *org);
    }
  }
}

void Folder::maybe_request_refill(OrgIdView org_id, OrgState& org) {
  const AutoRefillPolicy& policy = org.auto_refill;
  const bool due = wallet_org(org) && policy.enabled && org.balance_micros < policy.threshold_micros &&
                   !org.refill_pending;
  if (!due) {
    if (org.waiting_on_cap) {
      org.waiting_on_cap = false;
      partition_.cap_waiting_orgs.erase(std::string(org_id.str()));
    }
    return;
  }
  const int64_t day = utc_day(partition_.clock_ms);
  const int64_t month = month_of(partition_.clock_ms);
  if (org.refill_day != day) {
    org.refill_day = day;
    org.refills_in_day = 0;
  }
  if (org.refill_month != month) {
    org.refill_month = month;
    org.refills_in_month = 0;
  }
  const bool month_spent = policy.max_per_month > 0 && org.refills_in_month >= policy.max_per_month;
  const bool day_spent = policy.max_per_day > 0 && org.refills_in_day >= policy.max_per_day;
  if (month_spent || day_spent) {
    const bool first_in_period = month_spent ? org.cap_signaled_month != month : org.cap_signaled_day != day;
    if (first_in_period) {
      Signal& s = emit(SignalKind::auto_refill_cap_reached, org_id, org);
      s.threshold_micros = policy.threshold_micros;
      s.cap_period = month_spent ? "month" : "day";
      (month_spent ? org.cap_signaled_month : org.cap_signaled_day) = month_spent ? month : day;
    }
    if (!org.waiting_on_cap) {
      org.waiting_on_cap = true;
      partition_.cap_waiting_orgs.emplace(org_id.str());
    }
    return;
  }
  if (org.waiting_on_cap) {
    org.waiting_on_cap = false;
    partition_.cap_waiting_orgs.erase(std::string(org_id.str()));
  }
  Signal& s = emit(SignalKind::recharge_requested, org_id, org);
  s.threshold_micros = policy.threshold_micros;
  s.refill_credits_micros = policy.refill_credits_micros;
  s.payment_customer = refill_customer(org);
  org.refill_pending = true;
  org.pending_signal_id = s.id();
  ++org.refills_in_day;
  ++org.refills_in_month;
}

void Folder::evaluate_org(OrgIdView org_id, OrgState& org) {
  const bool wallet = wallet_org(org);
  const Micros threshold = warning_threshold(org);
  const bool low = wallet && threshold > Micros{} && org.balance_micros < threshold;
  if (low && !org.is_low) emit(SignalKind::balance_low, org_id, org).threshold_micros = threshold;
  org.is_low = low;
  maybe_request_refill(org_id, org);
  const bool exhausted = wallet && org.balance_micros <= Micros{};
  if (exhausted != org.is_exhausted) {
    Signal& s = emit(exhausted ? SignalKind::balance_exhausted : SignalKind::balance_restored, org_id, org);
    s.pause_reason = exhausted ? "balance_exhausted" : "";
  }
  org.is_exhausted = exhausted;
}

void Folder::evaluate_member(OrgIdView org_id, MemberIdView member_id, MemberState& member,
                             const OrgState& org) {
  const int64_t month = month_of(partition_.clock_ms);
  const bool exceeded = member.has_limit && member.month == month && member.used_micros >= member.monthly_limit_micros;
  if (exceeded == member.exceeded) return;
  member.exceeded = exceeded;
  Signal& s = emit(exceeded ? SignalKind::member_limit_exceeded : SignalKind::member_limit_restored, org_id, org);
  s.member_id = MemberId(member_id);
  s.monthly_limit_micros = member.monthly_limit_micros;
  s.member_used_micros = member.month == month ? member.used_micros : Micros{};
  s.pause_reason = exceeded ? "member_limit_exceeded" : "";
  auto entry = std::make_pair(std::string(org_id.str()), std::string(member_id.str()));
  if (exceeded) {
    partition_.exceeded_members.insert(std::move(entry));
  } else {
    partition_.exceeded_members.erase(entry);
  }
}

void Folder::disable_auto_refill(OrgState& org, std::string_view pause_reason) {
  if (!org.auto_refill.enabled) return;
  org.auto_refill.enabled = false;
  disabled_signal_ = true;
  disabled_reason_ = pause_reason;
}

RejectReason Folder::apply_payment(OrgState& org, Micros credits, const String* signal_id) {
  if (!credit(org, org.totals.purchased_micros, credits)) return RejectReason::overflow;
  result_.amount_micros = credits;
  ledger_.put_purchase(org_id_, view(e_.idempotency_key()), PurchaseRecord{credits, Micros{}});
  if (signal_id && org.refill_pending && org.pending_signal_id == view(signal_id)) {
    org.refill_pending = false;
    org.pending_signal_id.clear();
  }
  return RejectReason::none;
}

RejectReason Folder::apply_usage(OrgState& org, const fb::Usage& usage) {
  UsagePrice price;
  switch (price_usage(usage, partition_.rate_card, price)) {
    case PriceStatus::unpriced: return RejectReason::unpriced;
    case PriceStatus::overflow: return RejectReason::overflow;
    case PriceStatus::ok: break;
  }
  Micros debit;
  Micros tracked{price.billable_micros};
  switch (paid_by(org, requested_billing_path(org, usage))) {
    case PaidBy::invoiced: break;  // not drawn from the wallet
    case PaidBy::byok:
      debit = Micros{price.byok_fee_micros};
      tracked = Micros{price.provider_micros};
      break;
    case PaidBy::credits: debit = Micros{price.billable_micros}; break;
  }
  const MemberIdView member_id = MemberIdView::trusted(view(usage.member_id()));  // checked: empty or valid
  MemberState* member = member_id.empty() ? nullptr : ledger_.find_member(org_id_, member_id);
  const int64_t event_month = month_of(e_.occurred_at_ms());
  const std::optional<Micros> balance = checked_sub(org.balance_micros, debit);
  const std::optional<Micros> used = checked_add(org.totals.used_micros, debit);
  const std::optional<Micros> tracked_total = checked_add(org.totals.tracked_cost_micros, tracked);
  const bool member_month = member && member->month == event_month;
  const std::optional<Micros> member_used = member_month ? checked_add(member->used_micros, debit) : Micros{};
  if (!balance || !used || !tracked_total || !member_used) return RejectReason::overflow;
  org.balance_micros = *balance;
  org.totals.used_micros = *used;
  org.totals.tracked_cost_micros = *tracked_total;
  result_.amount_micros = -debit;
  result_.debited_micros = debit;
  result_.tracked_cost_micros = tracked;
  result_.provider_cost_micros = Micros{price.provider_micros};
  result_.rate_card_version = price.rate_card_version;
  if (!member_id.empty()) {
    if (!member) member = &ledger_.create_member(org_id_, member_id);
    if (event_month > member->month) {
      member->month = event_month;
      member->used_micros = Micros{};
    }
    // Late usage of an earlier month is counted in its own month (the roll-up view), not here.
    // Counted from zero, or checked above: it fits.
    if (event_month == member->month) member->used_micros = member_month ? *member_used : debit;
    member_touched_ = member_id;
    member_touched_state_ = member;
  }
  return RejectReason::none;
}

RejectReason Folder::apply_refund(OrgState& org, const fb::Refund& refund) {
  PurchaseRecord* purchase = ledger_.find_purchase(org_id_, view(refund.purchase_key()));
  if (!purchase) return RejectReason::unknown_purchase;
  const Micros credits{refund.credits_micros()};
  // refunded <= credits, both >= 0: the difference fits.
  if (credits > Micros{purchase->credits_micros.value() - purchase->refunded_micros.value()}) {
    return RejectReason::refund_exceeds_purchase;
  }
  const std::optional<Micros> balance = checked_sub(org.balance_micros, credits);
  const std::optional<Micros> refunded = checked_add(org.totals.refunded_micros, credits);
  if (!balance || !refunded) return RejectReason::overflow;
  if (*balance < Micros{} && !refund.force()) return RejectReason::insufficient_balance;
  purchase->refunded_micros = Micros{purchase->refunded_micros.value() + credits.value()};  // at most its credits
  org.balance_micros = *balance;
  org.totals.refunded_micros = *refunded;
  result_.amount_micros = -credits;
  return RejectReason::none;
}

RejectReason Folder::apply_adjustment(OrgState& org, const fb::AdminAdjustment& adjustment) {
  const Micros credits{adjustment.credits_micros()};
  const std::optional<Micros> balance = checked_add(org.balance_micros, credits);
  if (!balance || !checked_add(org.totals.adjusted_micros, credits)) return RejectReason::overflow;
  if (credits < Micros{} && *balance < Micros{} && !adjustment.force()) return RejectReason::insufficient_balance;
  const bool credited = credit(org, org.totals.adjusted_micros, credits);
  TALLY_ASSERT(credited, "checked above");
  result_.amount_micros = credits;
  return RejectReason::none;
}

void Folder::apply_rate_card(const fb::RateCardPublished& card) {
  RateCard next;
  next.version = card.version();
  next.markup_bp = card.markup_bp();
  next.byok_fee_bp = card.byok_fee_bp();
  if (card.models()) {
    for (const auto* m : *card.models()) {
      next.models[std::string(view(m->model()))] =
          ModelPrice{m->input_per_mtok_micros(), m->output_per_mtok_micros(), m->cache_read_per_mtok_micros(),
                     m->cache_write_per_mtok_micros()};
    }
  }
  if (card.sandbox_classes()) {
    for (const auto* c : *card.sandbox_classes()) {
      next.sandbox_per_hour_micros[std::string(view(c->sandbox_class()))] = c->per_hour_micros();
    }
  }
  partition_.rate_card = std::move(next);
}

Plan to_plan(fb::Plan p, Plan current) {
  switch (p) {
    case fb::Plan::pro: return Plan::pro;
    case fb::Plan::enterprise: return Plan::enterprise;
    default: return current;
  }
}
BillingMode to_mode(fb::BillingMode m, BillingMode current) {
  switch (m) {
    case fb::BillingMode::credits: return BillingMode::credits;
    case fb::BillingMode::byok: return BillingMode::byok;
    case fb::BillingMode::deferred: return BillingMode::deferred;
    default: return current;
  }
}

RejectReason Folder::check_and_apply_body(OrgState& org) {
  switch (e_.body_type()) {
    case fb::Body::OrgOpened: {
      if (org.opened) return RejectReason::org_exists;
      const auto* b = e_.body_as_OrgOpened();
      org.opened = true;
      org.plan = to_plan(b->plan(), org.plan);
      org.mode = to_mode(b->billing_mode(), org.mode);
      return RejectReason::none;
    }
    case fb::Body::BillingModeChanged: {
      const auto* b = e_.body_as_BillingModeChanged();
      org.plan = to_plan(b->plan(), org.plan);
      org.mode = to_mode(b->billing_mode(), org.mode);
      return RejectReason::none;
    }
    case fb::Body::SignupAllocation: {
      const Micros credits{e_.body_as_SignupAllocation()->credits_micros()};
      if (!credit(org, org.totals.allocated_micros, credits)) return RejectReason::overflow;
      result_.amount_micros = credits;
      return RejectReason::none;
    }
    case fb::Body::Purchase:
      return apply_payment(org, Micros{e_.body_as_Purchase()->credits_micros()}, nullptr);
    case fb::Body::AutoRefill: {
      const auto* b = e_.body_as_AutoRefill();
      return apply_payment(org, Micros{b->credits_micros()}, b->signal_id());
    }
    case fb::Body::PaymentFailed: {
      const auto* b = e_.body_as_PaymentFailed();
      if (org.refill_pending && org.pending_signal_id == view(b->signal_id())) {
        org.refill_pending = false;
        org.pending_signal_id.clear();
      }
      disable_auto_refill(org, "payment_failed");
      return RejectReason::none;
    }
    case fb::Body::Refund:
      return apply_refund(org, *e_.body_as_Refund());
    case fb::Body::AdminAdjustment:
      return apply_adjustment(org, *e_.body_as_AdminAdjustment());
    case fb::Body::Usage:
      return apply_usage(org, *e_.body_as_Usage());
    case fb::Body::AutoRefillConfigured: {
      const auto* b = e_.body_as_AutoRefillConfigured();
      if (!b->enabled()) disable_auto_refill(org, "disabled");
      AutoRefillPolicy& policy = org.auto_refill;
      policy.enabled = b->enabled();
      policy.threshold_micros = Micros{b->threshold_micros()};
      policy.refill_credits_micros = Micros{b->refill_credits_micros()};
      policy.max_per_day = b->max_per_day();
      policy.max_per_month = b->max_per_month();
      policy.payment_customer.assign(view(b->payment_customer()));
      policy.refill_bundles = b->refill_bundles();
      return RejectReason::none;
    }
    case fb::Body::AutoRefillDisabled:
      disable_auto_refill(org, "disabled");
      return RejectReason::none;
    case fb::Body::LowBalanceThresholdSet:
      org.low_balance_threshold_micros = Micros{e_.body_as_LowBalanceThresholdSet()->threshold_micros()};
      return RejectReason::none;
    case fb::Body::MemberLimitSet: {
      const auto* b = e_.body_as_MemberLimitSet();
      const MemberIdView member_id = MemberIdView::trusted(view(b->member_id()));  // checked: valid
      MemberState* member = ledger_.find_member(org_id_, member_id);
      if (!member) member = &ledger_.create_member(org_id_, member_id);
      member->has_limit = true;
      member->monthly_limit_micros = Micros{b->monthly_limit_micros()};
      member_touched_ = member_id;
      member_touched_state_ = member;
      return RejectReason::none;
    }
    case fb::Body::MemberLimitCleared: {
      const auto* b = e_.body_as_MemberLimitCleared();
      const MemberIdView member_id = MemberIdView::trusted(view(b->member_id()));  // checked: valid
      if (MemberState* member = ledger_.find_member(org_id_, member_id)) {
        member->has_limit = false;
        member->monthly_limit_micros = Micros{};
        member_touched_ = member_id;
        member_touched_state_ = member;
      }
      return RejectReason::none;
    }
    case fb::Body::PaymentCustomerLinked:
      return apply_payment_customer_linked(org, *e_.body_as_PaymentCustomerLinked());
    case fb::Body::WorkspaceBillingSet:
      return apply_workspace_billing_set(org, *e_.body_as_WorkspaceBillingSet());
    case fb::Body::Tick:
    case fb::Body::RateCardPublished:
    case fb::Body::NONE:
      return RejectReason::none;
  }
  return RejectReason::none;
}

RejectReason Folder::run() {
  if (e_.body_type() == fb::Body::RateCardPublished) {
    const auto* card = e_.body_as_RateCardPublished();
    if (card->version() <= partition_.rate_card.version) return RejectReason::stale_rate_card;
    advance_clock();
    apply_rate_card(*card);
    return RejectReason::none;
  }
  if (org_id_.empty()) {  // a partition-wide Tick
    advance_clock();
    return RejectReason::none;
  }
  OrgState* existing = existing_org_;
  // Work on a copy so a business rejection leaves the org untouched (and uncreated).
  OrgState org = existing ? *existing : OrgState{};
  if (!existing) {
    org.home_partition = position_.partition;
  }
  const std::size_t signals_before = result_.signals.size();
  const RejectReason reason = check_and_apply_body(org);
  if (reason != RejectReason::none) {
    result_.amount_micros = Micros{};
    result_.signals.resize(signals_before);
    return reason;
  }
  TALLY_ASSERT(balance_identity_holds(org), "balance = allocated + purchased - used - refunded + adjusted (SPEC 4)");
  if (!existing) {
    // A new org starts exhausted (balance 0) without a signal if it is a wallet org, and with no
    // level at all otherwise; its first credit then emits balance_restored.
    org.is_exhausted = wallet_org(org);
    existing = &ledger_.create_org(org_id_);
  }
  org.last_occurred_at_ms = std::max(org.last_occurred_at_ms, e_.occurred_at_ms());
  *existing = std::move(org);
  advance_clock();  // month-change restores and cap re-evaluation come first
  OrgState& state = *existing;
  evaluate_org(org_id_, state);
  if (member_touched_state_) evaluate_member(org_id_, member_touched_, *member_touched_state_, state);
  if (disabled_signal_) {
    emit(SignalKind::auto_refill_disabled, org_id_, state).pause_reason = disabled_reason_;
  }
  result_.balance_after_micros = state.balance_micros;
  return RejectReason::none;
}

void update_chain(PartitionState& partition, FoldResult& result) {
  FieldDigest chain;
  chain.add_digest(partition.chain).add_digest(result.record_digest).add_int(static_cast<int64_t>(result.outcome));
  chain.add_int(static_cast<int64_t>(result.reason));
  partition.chain = chain.finish();
  ++partition.records;
}

}  // namespace

void FoldResult::clear() {
  outcome = Outcome::applied;
  reason = RejectReason::none;
  detail.clear();
  envelope = nullptr;
  org_id = {};
  payload_digest = {};
  record_digest = {};
  amount_micros = Micros{};
  balance_after_micros = Micros{};
  debited_micros = Micros{};
  tracked_cost_micros = Micros{};
  provider_cost_micros = Micros{};
  rate_card_version = 0;
  signals.clear();
}

std::string global_key_scope(PartitionId partition) { return "#" + std::to_string(partition.value); }

void prefetch_key_of(Ledger& ledger, LogPosition position, std::string_view record, std::string& scope_buffer) {
  const auto* bytes = reinterpret_cast<const uint8_t*>(record.data());
  if (record.size() < sizeof(flatbuffers::uoffset_t) ||
      reinterpret_cast<std::uintptr_t>(bytes) % alignof(uint64_t) != 0) {
    return;  // apply() copies misaligned records; not worth it for a hint
  }
  // The two fields, checked as Envelope::Verify checks them (and nothing else).
  flatbuffers::Verifier verifier(bytes, record.size());
  const flatbuffers::uoffset_t root = verifier.VerifyOffset(0);
  if (root == 0) return;
  const auto* table = reinterpret_cast<const flatbuffers::Table*>(bytes + root);
  if (!table->VerifyTableStart(verifier)) return;
  const auto string_field = [&](flatbuffers::voffset_t field) -> const String* {
    if (!table->VerifyOffset(verifier, field)) return nullptr;
    const auto* s = table->GetPointer<const String*>(field);
    return s != nullptr && verifier.VerifyString(s) ? s : nullptr;
  };
  const String* key = string_field(fb::Envelope::VT_IDEMPOTENCY_KEY);
  if (key == nullptr) return;
  const String* org = string_field(fb::Envelope::VT_ORG_ID);
  std::string_view scope = view(org);
  if (scope.empty()) {
    scope_buffer = global_key_scope(position.partition);
    scope = scope_buffer;
  }
  ledger.prefetch_key(scope, key->string_view());
}

void apply(Ledger& ledger, LogPosition position, std::string_view record, FoldResult& result) {
  result.clear();
  {
    FieldDigest d;
    d.add_int(position.partition.value).add_int(position.offset.value).add(record);
    result.record_digest = d.finish();
  }
  PartitionState& partition = ledger.partition(position.partition);
  if (reinterpret_cast<std::uintptr_t>(record.data()) % alignof(uint64_t) != 0) {
    // FlatBuffers reads scalars in place; a misaligned read is undefined behaviour.
    result.aligned_record.resize((record.size() + 7) / 8);
    std::memcpy(result.aligned_record.data(), record.data(), record.size());
    record = std::string_view(reinterpret_cast<const char*>(result.aligned_record.data()), record.size());
  }
  const fb::Envelope* envelope = nullptr;
  const Status status = validate_event(record, &envelope);
  if (!status.is_ok()) {
    result.outcome = Outcome::rejected;
    result.reason = status.code() == Status::Code::invalid_argument ? RejectReason::invalid_field
                                                                     : RejectReason::invalid_record;
    result.detail = status.to_string();
    if (status.code() == Status::Code::invalid_argument) {
      result.envelope = envelope;
      if (envelope->org_id() && is_valid_id(envelope->org_id()->string_view())) {
        result.org_id = OrgIdView::trusted(envelope->org_id()->string_view());
      }
    }
    update_chain(partition, result);
    return;
  }
  result.envelope = envelope;
  result.org_id = OrgIdView::trusted(view(envelope->org_id()));  // validated: empty or an id
  const std::string_view key = view(envelope->idempotency_key());
  OrgState* org = result.org_id.empty() ? nullptr : ledger.find_org(result.org_id);
  if (org) result.balance_after_micros = org->balance_micros;
  if (org && org->home_partition != position.partition) {
    result.outcome = Outcome::rejected;
    result.reason = RejectReason::wrong_partition;
    result.detail = "org " + std::string(result.org_id.str()) + " lives in partition " +
                    std::to_string(org->home_partition.value) + ", not " + std::to_string(position.partition.value);
    update_chain(partition, result);
    return;
  }
  {
    FieldDigest d;
    d.add(result.org_id).add(key);
    digest_body(d, *envelope);
    result.payload_digest = d.finish();
  }
  // An org's keys are scoped by its id (a view into the record, valid for this call).
  if (result.org_id.empty()) result.scope_buffer = global_key_scope(position.partition);
  const std::string_view scope = result.org_id.empty() ? std::string_view(result.scope_buffer) : result.org_id.str();
  if (const KeyRecord* seen = ledger.find_key(scope, key)) {
    result.outcome = seen->payload_digest == result.payload_digest ? Outcome::duplicate : Outcome::conflict;
    if (result.outcome == Outcome::conflict) {
      result.detail = "idempotency key reused with a different payload";
    } else if (seen->outcome == Outcome::rejected) {
      result.detail = std::string("duplicate of a rejected event (") + reject_reason_name(seen->reason) + ")";
    }
    update_chain(partition, result);
    return;
  }
  Folder folder(ledger, position, *envelope, result, partition, org);
  const RejectReason reason = folder.run();
  if (reason != RejectReason::none) {
    result.outcome = Outcome::rejected;
    result.reason = reason;
    result.detail = reject_reason_name(reason);
    ledger.put_key(scope, key, KeyRecord{result.payload_digest, Outcome::rejected, reason});
  } else {
    result.outcome = Outcome::applied;
    ledger.put_key(scope, key, KeyRecord{result.payload_digest, Outcome::applied, RejectReason::none});
  }
  update_chain(partition, result);
}

}  // namespace tally
