// The fold's bodies that move money: payments (purchases, auto-refills), usage, refunds, admin
// adjustments, and rate cards (the prices usage is charged at). SPEC §4.
#include <optional>

#include "engine/assert.h"
#include "engine/fold.h"
#include "engine/fold_commerce.h"
#include "engine/folder.h"
#include "engine/pricing.h"

namespace tally {

using flatbuffers::String;

bool credit(OrgState& org, Micros& total, Micros credits) {
  const std::optional<Micros> balance = checked_add(org.balance_micros, credits);
  const std::optional<Micros> sum = checked_add(total, credits);
  if (!balance || !sum) return false;
  org.balance_micros = *balance;
  total = *sum;
  return true;
}

RejectReason Folder::apply_payment(OrgState& org, Micros credits, const String* signal_id) {
  if (const RejectReason r = grant_credit(org, org.totals.purchased_micros, credits); r != RejectReason::none) {
    return r;
  }
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
  if (!balance || !used || !tracked_total || !member_used || !overdraft_fits(*balance)) return RejectReason::overflow;
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
  if (debit > Micros{}) draw_down(org, debit, {}, false);  // SPEC §12: fundings
  capture_hold(org, usage, debit);
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
  if (!overdraft_fits(*balance)) return RejectReason::overflow;
  purchase->refunded_micros = Micros{purchase->refunded_micros.value() + credits.value()};  // at most its credits
  org.balance_micros = *balance;
  org.totals.refunded_micros = *refunded;
  result_.amount_micros = -credits;
  // SPEC §12: from the purchase's own grant first, then the others in draw-down order.
  draw_down(org, credits, view(refund.purchase_key()), true);
  return RejectReason::none;
}

RejectReason Folder::apply_adjustment(OrgState& org, const fb::AdminAdjustment& adjustment) {
  const Micros credits{adjustment.credits_micros()};
  if (credits > Micros{}) return grant_credit(org, org.totals.adjusted_micros, credits);  // SPEC §12: a grant
  const std::optional<Micros> balance = checked_add(org.balance_micros, credits);
  if (!balance || !checked_add(org.totals.adjusted_micros, credits)) return RejectReason::overflow;
  if (*balance < Micros{} && !adjustment.force()) return RejectReason::insufficient_balance;
  // The draw-down needs the amount as a positive number, and the overdraft the balance's negation.
  if (credits.value() == INT64_MIN || !overdraft_fits(*balance)) return RejectReason::overflow;
  const bool credited = credit(org, org.totals.adjusted_micros, credits);
  TALLY_ASSERT(credited, "checked above");
  result_.amount_micros = credits;
  draw_down(org, -credits, {}, false);  // SPEC §12: in draw-down order
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

}  // namespace tally
