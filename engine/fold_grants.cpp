// The fold of credit grants (SPEC §12): every applied credit-adding event makes one grant, with a
// priority, an expiry and a category; every debit draws the active grants down in one total,
// deterministic order and records where its credit came from (fundings); what no grant covers is
// overdraft, repaid first by the next grant. The partition clock expires what is left of a grant,
// before the effect of the event whose time reaches it, and warns a week ahead.
//
// Where a grant lives: in its org's state while it has credit left (OrgState::grants, in
// draw-down order), then in the ledger's closed grants, never to change again. The partition's
// expiry and warning indexes list the active grants that have an expiry.
#include <algorithm>
#include <cstdint>
#include <string>
#include <utility>

#include "engine/assert.h"
#include "engine/fold.h"
#include "engine/folder.h"
#include "engine/limits.h"

namespace tally {
namespace {

// Within one grant (and one org's balance) the amounts are bounded by what was credited, which
// fits: these never overflow (see grant_credit).
Micros plus(Micros a, Micros b) { return Micros{a.value() + b.value()}; }
Micros minus(Micros a, Micros b) { return Micros{a.value() - b.value()}; }

constexpr std::size_t not_found = static_cast<std::size_t>(-1);

std::size_t find_grant(const OrgState& org, std::string_view grant_id) {
  for (std::size_t i = 0; i < org.grants.size(); ++i) {
    if (org.grants[i].id == grant_id) return i;
  }
  return not_found;
}

GrantCategory category_of(fb::GrantCategory category) {
  return category == fb::GrantCategory::paid ? GrantCategory::paid : GrantCategory::promotional;
}

// The terms of the grant an event makes, and the cost basis of a paid purchase (SPEC §12).
template <class Body>
void set_terms(const Body& body, Grant& g) {
  g.priority = body.priority();
  g.expires_at_ms = body.expires_at_ms();
  g.category = category_of(body.category());
}

template <class Body>
void set_cost_basis(const Body& body, Grant& g) {
  if (g.category != GrantCategory::paid) return;
  g.paid_minor = body.paid_minor();
  g.currency.assign(view(body.currency()));
}

void set_terms_of(const fb::Envelope& e, Grant& g) {
  switch (e.body_type()) {
    case fb::Body::SignupAllocation: set_terms(*e.body_as_SignupAllocation(), g); return;
    case fb::Body::Purchase:
      set_terms(*e.body_as_Purchase(), g);
      set_cost_basis(*e.body_as_Purchase(), g);
      return;
    case fb::Body::AutoRefill:
      set_terms(*e.body_as_AutoRefill(), g);
      set_cost_basis(*e.body_as_AutoRefill(), g);
      return;
    case fb::Body::AdminAdjustment: set_terms(*e.body_as_AdminAdjustment(), g); return;
    case fb::Body::CreditGranted: set_terms(*e.body_as_CreditGranted(), g); return;
    default: TALLY_ASSERT(false, "only credit-adding events make grants");
  }
}

GrantDue warning_of(const Grant& g, std::string_view org_id) {
  return GrantDue{g.expires_at_ms - limits::grant_warning_ms, g.offset, std::string(org_id), g.id};
}
GrantDue expiry_of(const Grant& g, std::string_view org_id) {
  return GrantDue{g.expires_at_ms, g.offset, std::string(org_id), g.id};
}

}  // namespace

bool totals_identity_holds(const OrgState& org) {
  const OrgTotals& t = org.totals;
  const __int128 by_totals = static_cast<__int128>(t.allocated_micros.value()) + t.purchased_micros.value() -
                             t.used_micros.value() - t.refunded_micros.value() + t.adjusted_micros.value() -
                             t.expired_micros.value() - t.voided_micros.value();
  return by_totals == org.balance_micros.value();
}

bool grant_identities_hold(const OrgState& org) {
  // The order of the grants is kept by grant_credit, the only place that adds one (and checked by
  // the property test): here only their sum, on every event.
  __int128 remaining = 0;
  bool each_has_credit = true;
  for (const Grant& g : org.grants) {
    each_has_credit &= g.remaining_micros > Micros{};
    remaining += g.remaining_micros.value();
  }
  if (!each_has_credit) return false;
  const Micros overdraft = org.overdraft_micros;
  if (overdraft < Micros{} || (overdraft > Micros{} && !org.grants.empty())) return false;
  return totals_identity_holds(org) && remaining - overdraft.value() == org.balance_micros.value();
}

// A grant made is counted in grants_changed_micros_; one closed (nothing left) changes no sum, but
// the event that closes one recounts them all, so the sums are checked in full now and then.
bool Folder::grants_still_balance(const OrgState& org, Micros balance_before, Micros overdraft_before) const {
  if (grants_reshaped_) return grant_identities_hold(org);
  const Micros overdraft = org.overdraft_micros;
  if (overdraft < Micros{} || (overdraft > Micros{} && !org.grants.empty())) return false;
  // Δbalance = ΔΣ remaining - Δoverdraft.
  return static_cast<__int128>(org.balance_micros.value()) - balance_before.value() ==
         grants_changed_micros_ - (static_cast<__int128>(overdraft.value()) - overdraft_before.value());
}

RejectReason Folder::grant_credit(OrgState& org, Micros& total, Micros credits) {
  // Expiries and voids only move a grant's remainder into their totals, so bounding expired +
  // voided + Σ remaining (= the balance, when positive) here keeps those totals from overflowing.
  const std::optional<Micros> balance = checked_add(org.balance_micros, credits);
  if (!balance) return RejectReason::overflow;
  const __int128 bound = static_cast<__int128>(org.totals.expired_micros.value()) +
                         org.totals.voided_micros.value() + std::max<int64_t>(balance->value(), 0);
  if (bound > INT64_MAX || !credit(org, total, credits)) return RejectReason::overflow;
  result_.amount_micros = credits;
  Grant g;
  g.id.assign(view(e_.idempotency_key()));
  g.source = static_cast<uint8_t>(e_.body_type());
  set_terms_of(e_, g);
  g.effective_at_ms = e_.occurred_at_ms();
  g.offset = position_.offset.value;
  g.original_micros = credits;
  const Micros repaid = std::min(credits, org.overdraft_micros);  // the overdraft is repaid first
  org.overdraft_micros = minus(org.overdraft_micros, repaid);
  g.consumed_micros = repaid;
  g.remaining_micros = minus(credits, repaid);
  if (repaid > Micros{}) result_.add_funding(g.id, repaid);
  if (g.remaining_micros == Micros{}) {
    closed_grants_.push_back(std::move(g));
    return RejectReason::none;
  }
  made_expires_at_ms_ = g.expires_at_ms;
  grants_changed_micros_ += g.remaining_micros.value();
  // In draw-down order. A grant with the usual terms goes last (made last: latest log position).
  if (org.grants.empty() || draws_before(org.grants.back(), g)) {
    org.grants.push_back(std::move(g));
  } else {
    org.grants.insert(std::upper_bound(org.grants.begin(), org.grants.end(), g, draws_before), std::move(g));
  }
  return RejectReason::none;
}

void Folder::draw_down(OrgState& org, Micros amount, std::string_view first_id, bool refund) {
  Micros left = amount;
  bool spent = false;
  const auto take = [&](Grant& g) {
    const Micros taken = std::min(left, g.remaining_micros);
    if (taken == Micros{}) return;
    g.remaining_micros = minus(g.remaining_micros, taken);
    spent = spent || g.remaining_micros == Micros{};
    Micros& counted = refund ? g.refunded_micros : g.consumed_micros;
    counted = plus(counted, taken);
    left = minus(left, taken);
    grants_changed_micros_ -= taken.value();
    result_.add_funding(g.id, taken);
  };
  if (!first_id.empty()) {
    if (const std::size_t own = find_grant(org, first_id); own != not_found) take(org.grants[own]);
  }
  for (Grant& g : org.grants) {
    if (left == Micros{}) break;
    take(g);
  }
  if (left > Micros{}) {
    // Every grant is spent: the balance after is -(overdraft + left), which the caller checked.
    org.overdraft_micros = plus(org.overdraft_micros, left);
    result_.add_funding({}, left);
  }
  if (spent) close_spent_grants(org);
}

void Folder::close_spent_grants(OrgState& org) {
  grants_reshaped_ = true;
  auto kept = org.grants.begin();
  for (auto it = org.grants.begin(); it != org.grants.end(); ++it) {
    if (it->remaining_micros == Micros{}) {
      closed_grants_.push_back(std::move(*it));
    } else {
      if (kept != it) *kept = std::move(*it);
      ++kept;
    }
  }
  org.grants.erase(kept, org.grants.end());
}

RejectReason Folder::apply_grant_voided(OrgState& org, const fb::GrantVoided& voided) {
  const std::string_view grant_id = view(voided.grant_id());
  const std::size_t index = find_grant(org, grant_id);
  if (index == not_found) {
    const bool closed_now = std::any_of(closed_grants_.begin(), closed_grants_.end(),
                                        [&](const Grant& g) { return g.id == grant_id; });
    const bool known = closed_now || ledger_.find_closed_grant(org_id_, grant_id) != nullptr;
    return known ? RejectReason::nothing_to_void : RejectReason::unknown_grant;
  }
  Grant& g = org.grants[index];
  const Micros credits = voided.credits_micros() == 0 ? g.remaining_micros : Micros{voided.credits_micros()};
  if (credits > g.remaining_micros) return RejectReason::void_exceeds_remaining;
  // No overdraft while a grant is active: the balance holds the grant's remainder (no overflow,
  // never below zero); the voided total is bounded by grant_credit.
  g.remaining_micros = minus(g.remaining_micros, credits);
  g.voided_micros = plus(g.voided_micros, credits);
  org.balance_micros = minus(org.balance_micros, credits);
  org.totals.voided_micros = plus(org.totals.voided_micros, credits);
  grants_changed_micros_ -= credits.value();
  result_.amount_micros = -credits;
  result_.add_funding(g.id, credits);
  if (g.remaining_micros == Micros{}) close_spent_grants(org);
  return RejectReason::none;
}

void Folder::expire_grant(OrgIdView org_id, OrgState& org, std::size_t index, bool before_event) {
  Grant& g = org.grants[index];
  const Micros amount = g.remaining_micros;
  g.remaining_micros = Micros{};
  g.expired_micros = plus(g.expired_micros, amount);
  org.balance_micros = minus(org.balance_micros, amount);  // no overdraft while a grant is active
  org.totals.expired_micros = plus(org.totals.expired_micros, amount);  // bounded by grant_credit
  result_.expired_grants.push_back(FoldResult::ExpiredGrant{std::string(org_id.str()), g.id, amount,
                                                            org.balance_micros, g.expires_at_ms, before_event});
  Grant closed = std::move(g);
  org.grants.erase(org.grants.begin() + static_cast<std::ptrdiff_t>(index));
  if (before_event) {
    grants_reshaped_ = true;
    closed_grants_.push_back(std::move(closed));  // stored if the event is applied (finish_grants)
    return;
  }
  partition_.grant_warnings.erase(warning_of(closed, org_id.str()));
  ledger_.put_closed_grant(org_id, closed);
  TALLY_ASSERT(grant_identities_hold(org), "an expiry keeps the grant identities (SPEC 12)");
}

// Due grants in (expires_at, offset) order: the partition's index lists them so (the grants an
// event makes enter it after the event, in finish_grants).
void Folder::expire_own_grants(OrgState& org) {
  const int64_t now = clock_after();
  const auto& expiries = partition_.grant_expiries;
  for (auto it = expiries.begin(); it != expiries.end() && std::get<0>(*it) <= now; ++it) {
    const auto& [expires_at_ms, offset, org_text, grant_id] = *it;
    if (org_text != org_id_.str()) continue;
    const std::size_t index = find_grant(org, grant_id);
    TALLY_ASSERT(index != not_found, "the expiry index lists active grants only");
    if (!grants_before_body_) grants_before_body_ = org.grants;  // a rejection gives them back
    expire_grant(org_id_, org, index, true);
  }
}

void Folder::finish_grants() {
  for (const Grant& g : closed_grants_) {
    ledger_.put_closed_grant(org_id_, g);
    if (g.expires_at_ms == 0) continue;
    partition_.grant_warnings.erase(warning_of(g, org_id_.str()));
    // An expired grant keeps its expiry entry: expire_grants signals it in the clock's order.
    if (g.expired_micros == Micros{}) partition_.grant_expiries.erase(expiry_of(g, org_id_.str()));
  }
  if (made_expires_at_ms_ == 0) return;
  Grant made;
  made.id.assign(view(e_.idempotency_key()));
  made.expires_at_ms = made_expires_at_ms_;
  made.offset = position_.offset.value;
  partition_.grant_expiries.insert(expiry_of(made, org_id_.str()));
  partition_.grant_warnings.insert(warning_of(made, org_id_.str()));
}

void Folder::expire_grants(std::vector<std::string>& orgs_expired) {
  auto& expiries = partition_.grant_expiries;
  while (!expiries.empty() && std::get<0>(*expiries.begin()) <= partition_.clock_ms) {
    auto node = expiries.extract(expiries.begin());
    const auto& [expires_at_ms, offset, org_text, grant_id] = node.value();
    const OrgIdView org_id = OrgIdView::trusted(org_text);  // stored by the fold: valid
    OrgState* org = ledger_.find_org(org_id);
    TALLY_ASSERT(org != nullptr, "an org with an active grant is in the ledger");
    const std::size_t index = find_grant(*org, grant_id);
    const FoldResult::ExpiredGrant* expired = nullptr;
    if (index != not_found) {
      expire_grant(org_id, *org, index, false);
      expired = &result_.expired_grants.back();
      const bool listed = std::find(orgs_expired.begin(), orgs_expired.end(), org_text) != orgs_expired.end();
      if (org_id != org_id_ && !listed) orgs_expired.push_back(org_text);
    } else {  // the event's own org's, expired before its body
      for (const FoldResult::ExpiredGrant& e : result_.expired_grants) {
        if (e.before_event && e.grant_id == grant_id && e.org_id == org_text) expired = &e;
      }
      TALLY_ASSERT(expired != nullptr, "the expiry index lists active grants, or those the event expired");
    }
    if (!wallet_org(*org)) continue;
    Signal& s = emit(SignalKind::grant_expired, org_id, *org);
    s.balance_micros = expired->balance_after_micros;
    s.grant_id = grant_id;
    s.grant_micros = expired->expired_micros;
    s.expires_at_ms = expires_at_ms;
  }
}

void Folder::warn_expiring_grants() {
  auto& warnings = partition_.grant_warnings;
  while (!warnings.empty() && std::get<0>(*warnings.begin()) <= partition_.clock_ms) {
    auto node = warnings.extract(warnings.begin());
    const auto& [warn_at_ms, offset, org_text, grant_id] = node.value();
    const OrgIdView org_id = OrgIdView::trusted(org_text);
    OrgState* org = ledger_.find_org(org_id);
    TALLY_ASSERT(org != nullptr, "an org with an active grant is in the ledger");
    const std::size_t index = find_grant(*org, grant_id);
    TALLY_ASSERT(index != not_found, "the warning index lists active grants only");
    if (!wallet_org(*org)) continue;  // grant signals are for wallet orgs only
    Grant& g = org->grants[index];
    g.expiring_signaled = true;
    Signal& s = emit(SignalKind::grant_expiring, org_id, *org);
    s.grant_id = grant_id;
    s.grant_micros = g.remaining_micros;
    s.expires_at_ms = g.expires_at_ms;
  }
}

}  // namespace tally
