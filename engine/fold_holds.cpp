// The fold of holds (SPEC §11): credits reserved before the work, inside the serial fold of the
// org's partition, so admission is exact without locks. A hold is placed (admitted against the
// org's available credits and the member's), extended, captured by usage naming it, released,
// or expired by the partition clock. held_micros is always the sum of the active holds' remaining.
#include <algorithm>
#include <limits>
#include <string>
#include <tuple>
#include <utility>

#include "engine/assert.h"
#include "engine/fold.h"
#include "engine/folder.h"
#include "engine/limits.h"
#include "engine/pricing.h"

namespace tally {
namespace {

// held and remaining are >= 0 and remaining <= held: the difference fits.
Micros minus(Micros a, Micros b) { return Micros{a.value() - b.value()}; }

constexpr Micros unbounded{std::numeric_limits<int64_t>::max()};

// The history detail of a place or extend: what it granted, until when (the entry's amount is the
// balance's change, 0 for a hold).
std::string granted_detail(Micros granted, int64_t expires_at_ms) {
  return "granted_micros " + std::to_string(granted.value()) + " expires_at_ms " + std::to_string(expires_at_ms);
}

}  // namespace

int64_t Folder::clock_after() const { return std::max(partition_.clock_ms, e_.occurred_at_ms()); }

// The org's holds that the clock will release once this event is applied (advance_clock runs after
// the body): an admission must not count them as held.
Micros Folder::expiring_by_clock_after(const OrgState& org) const {
  Micros expiring;
  const int64_t now = clock_after();
  for (const auto& [expires_at_ms, org_text, hold_id] : partition_.hold_expiries) {
    if (expires_at_ms > now) break;
    if (org_text != org_id_.str()) continue;
    const auto it = org.holds.find(hold_id);
    if (it != org.holds.end()) expiring = Micros{expiring.value() + it->second.remaining_micros.value()};
  }
  return expiring;
}

// Reasons in the SPEC's order: exhausted org, exceeded member, then the fit (org, then member).
RejectReason Folder::admit(const OrgState& org, std::string_view member_id, Micros amount, bool allow_partial,
                           Micros min_micros, Micros& granted) {
  granted = Micros{};
  if (!wallet_org(org)) return RejectReason::none;  // nothing is held for an org outside the wallet
  if (org.balance_micros <= Micros{}) return RejectReason::insufficient_available;
  const int64_t now = clock_after();
  Micros member_available = unbounded;
  const MemberState* member =
      member_id.empty() ? nullptr : ledger_.find_member(org_id_, MemberIdView::trusted(member_id));
  if (member && member->has_limit) {
    const Micros used = member->month == month_of(now) ? member->used_micros : Micros{};
    if (used >= member->monthly_limit_micros) return RejectReason::member_limit;
    // Held amounts count against the member whatever the month (SPEC §11).
    __int128 held = 0;
    for (const auto& [id, hold] : org.holds) {
      if (hold.member_id == member_id && hold.expires_at_ms > now) held += hold.remaining_micros.value();
    }
    const __int128 left = static_cast<__int128>(member->monthly_limit_micros.value()) - used.value() - held;
    member_available = Micros{static_cast<int64_t>(std::max<__int128>(left, std::numeric_limits<int64_t>::min()))};
  }
  const __int128 org_left = static_cast<__int128>(org.balance_micros.value()) - org.held_micros.value() +
                            expiring_by_clock_after(org).value();
  const Micros available{static_cast<int64_t>(std::clamp<__int128>(org_left, std::numeric_limits<int64_t>::min(),
                                                                   std::numeric_limits<int64_t>::max()))};
  if (amount <= available && amount <= member_available) {
    granted = amount;
    return RejectReason::none;
  }
  const Micros need = allow_partial ? std::max(min_micros, Micros{1}) : amount;
  if (allow_partial && std::min(available, member_available) >= need) {
    granted = std::min(available, member_available);
    return RejectReason::none;
  }
  return available < need ? RejectReason::insufficient_available : RejectReason::member_limit;
}

RejectReason Folder::hold_amount(int64_t micros, const fb::HoldEstimate* estimate, Micros& amount) {
  if (estimate == nullptr) {
    amount = Micros{micros};
    return RejectReason::none;
  }
  int64_t billable = 0;
  switch (price_estimate(*estimate, partition_.rate_card, billable)) {
    case PriceStatus::unpriced: return RejectReason::unpriced;
    case PriceStatus::overflow: return RejectReason::overflow;
    case PriceStatus::ok: break;
  }
  amount = Micros{billable};
  return RejectReason::none;
}

RejectReason Folder::apply_hold_event(OrgState& org) {
  switch (e_.body_type()) {
    case fb::Body::HoldPlaced: return apply_hold_placed(org, *e_.body_as_HoldPlaced());
    case fb::Body::HoldExtended: return apply_hold_extended(org, *e_.body_as_HoldExtended());
    case fb::Body::HoldReleased: return apply_hold_released(org, *e_.body_as_HoldReleased());
    default: TALLY_ASSERT(false, "only hold events are dispatched here");
  }
  return RejectReason::none;
}

RejectReason Folder::apply_hold_placed(OrgState& org, const fb::HoldPlaced& placed) {
  Micros amount;
  if (const RejectReason r = hold_amount(placed.amount_micros(), placed.estimate(), amount); r != RejectReason::none) {
    return r;
  }
  if (org.holds.size() >= limits::holds_active_per_org_max) return RejectReason::too_many_holds;
  const std::string_view member_id = view(placed.member_id());
  Micros granted;
  const RejectReason reason =
      admit(org, member_id, amount, placed.allow_partial(), Micros{placed.min_micros()}, granted);
  if (reason != RejectReason::none) return reason;
  const std::optional<Micros> held = checked_add(org.held_micros, granted);
  if (!held) return RejectReason::overflow;
  const std::string_view hold_id = view(e_.idempotency_key());
  // ttl_ms <= 24 h and occurred_at_ms is an event time: no overflow.
  const int64_t expires_at_ms = e_.occurred_at_ms() + placed.ttl_ms();
  Hold hold{std::string(member_id), std::string(view(placed.workspace())), granted, granted, e_.occurred_at_ms(),
            expires_at_ms};
  org.holds.emplace(std::string(hold_id), std::move(hold));
  org.held_micros = *held;
  partition_.hold_expiries.emplace(expires_at_ms, std::string(org_id_.str()), std::string(hold_id));
  result_.hold_granted_micros = granted;
  result_.hold_expires_at_ms = expires_at_ms;
  result_.detail = granted_detail(granted, expires_at_ms);
  return RejectReason::none;
}

// An unknown hold was never granted (its place was rejected, or no place has that key); one whose
// key is known but that is no longer active was released, closed by a capture, or expired.
RejectReason Folder::find_active_hold(OrgState& org, std::string_view hold_id, Hold*& hold) {
  const auto it = org.holds.find(hold_id);
  if (it != org.holds.end() && it->second.expires_at_ms > clock_after()) {
    hold = &it->second;
    return RejectReason::none;
  }
  if (it != org.holds.end()) return RejectReason::hold_not_active;  // the clock reaches its expiry now
  const KeyRecord* key = ledger_.find_key(org_id_.str(), hold_id);
  return key != nullptr && key->outcome == Outcome::applied ? RejectReason::hold_not_active
                                                             : RejectReason::unknown_hold;
}

RejectReason Folder::apply_hold_extended(OrgState& org, const fb::HoldExtended& extended) {
  const std::string_view hold_id = view(extended.hold_id());
  Hold* hold = nullptr;
  if (const RejectReason r = find_active_hold(org, hold_id, hold); r != RejectReason::none) return r;
  Micros add;
  if (const RejectReason r = hold_amount(extended.add_micros(), extended.add_estimate(), add); r != RejectReason::none) {
    return r;
  }
  Micros granted;
  // All or nothing: no partial extension.
  if (const RejectReason r = admit(org, hold->member_id, add, false, Micros{}, granted); r != RejectReason::none) {
    return r;
  }
  const std::optional<Micros> held = checked_add(org.held_micros, granted);
  const std::optional<Micros> remaining = checked_add(hold->remaining_micros, granted);
  const std::optional<Micros> total = checked_add(hold->granted_micros, granted);
  if (!held || !remaining || !total) return RejectReason::overflow;
  const int64_t expires_at_ms = std::max(hold->expires_at_ms, e_.occurred_at_ms() + extended.ttl_ms());
  if (expires_at_ms != hold->expires_at_ms) {
    const auto erased = partition_.hold_expiries.erase(
        std::make_tuple(hold->expires_at_ms, std::string(org_id_.str()), std::string(hold_id)));
    TALLY_ASSERT(erased == 1, "an active hold is in the partition's expiry index");
    partition_.hold_expiries.emplace(expires_at_ms, std::string(org_id_.str()), std::string(hold_id));
    hold->expires_at_ms = expires_at_ms;
  }
  org.held_micros = *held;
  hold->remaining_micros = *remaining;
  hold->granted_micros = *total;
  result_.hold_granted_micros = granted;
  result_.hold_expires_at_ms = expires_at_ms;
  result_.detail = granted_detail(granted, expires_at_ms);
  return RejectReason::none;
}

RejectReason Folder::apply_hold_released(OrgState& org, const fb::HoldReleased& released) {
  const std::string_view hold_id = view(released.hold_id());
  Hold* hold = nullptr;
  if (const RejectReason r = find_active_hold(org, hold_id, hold); r != RejectReason::none) return r;
  result_.hold_expires_at_ms = hold->expires_at_ms;
  result_.detail = "released_micros " + std::to_string(hold->remaining_micros.value());
  close_hold(org, hold_id);
  return RejectReason::none;
}

void Folder::close_hold(OrgState& org, std::string_view hold_id) {
  const auto it = org.holds.find(hold_id);
  TALLY_ASSERT(it != org.holds.end(), "only an active hold is closed");
  org.held_micros = minus(org.held_micros, it->second.remaining_micros);
  const auto erased = partition_.hold_expiries.erase(
      std::make_tuple(it->second.expires_at_ms, std::string(org_id_.str()), std::string(hold_id)));
  TALLY_ASSERT(erased == 1, "an active hold is in the partition's expiry index");
  org.holds.erase(it);
}

// Usage is a fact: it was debited in full before this. The hold gives up what the usage debited,
// at most its remaining; hold_final (or nothing left) closes it, releasing the rest.
void Folder::capture_hold(OrgState& org, const fb::Usage& usage, Micros debit) {
  const std::string_view hold_id = view(usage.hold_id());
  if (hold_id.empty()) return;
  const auto it = org.holds.find(hold_id);
  if (it == org.holds.end() || it->second.expires_at_ms <= clock_after()) {
    result_.hold_late = true;  // unknown, closed or expired: plain usage, flagged (history detail)
    result_.detail = "hold_late";
    return;
  }
  Hold& hold = it->second;
  const Micros taken = std::min(std::max(debit, Micros{}), hold.remaining_micros);
  hold.remaining_micros = minus(hold.remaining_micros, taken);
  org.held_micros = minus(org.held_micros, taken);
  if (usage.hold_final() || hold.remaining_micros == Micros{}) close_hold(org, hold_id);
}

void Folder::expire_holds() {
  auto& expiries = partition_.hold_expiries;
  while (!expiries.empty() && std::get<0>(*expiries.begin()) <= partition_.clock_ms) {
    auto node = expiries.extract(expiries.begin());
    const auto& [expires_at_ms, org_text, hold_id] = node.value();
    OrgState* org = ledger_.find_org(OrgIdView::trusted(org_text));  // stored by the fold: valid
    TALLY_ASSERT(org != nullptr, "an org with an active hold is in the ledger");
    const auto it = org->holds.find(hold_id);
    TALLY_ASSERT(it != org->holds.end(), "the expiry index lists active holds only");
    const Micros released = it->second.remaining_micros;
    org->held_micros = minus(org->held_micros, released);
    org->holds.erase(it);
    result_.expired_holds.push_back(FoldResult::ExpiredHold{org_text, hold_id, released});
  }
}

}  // namespace tally
