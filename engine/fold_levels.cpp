// The partition clock and the level-tracked signals (SPEC §5): each level (low, exhausted, refill
// due, member over its limit) is re-judged after every applied event that may move it, and a signal
// is emitted only when it changes. Only wallet orgs (pro plan, credits mode) get signals of any
// kind; an org that leaves the wallet is released from every pause, and judged afresh on return.
#include <algorithm>
#include <string>
#include <utility>
#include <vector>

#include "engine/assert.h"
#include "engine/fold.h"
#include "engine/fold_commerce.h"
#include "engine/folder.h"

namespace tally {
namespace {

// The warning level of balance_low: LowBalanceThresholdSet, else an enabled auto-refill's
// threshold, else none (0).
Micros warning_threshold(const OrgState& org) {
  if (org.low_balance_threshold_micros > Micros{}) return org.low_balance_threshold_micros;
  if (org.auto_refill.enabled) return org.auto_refill.threshold_micros;
  return Micros{};
}

}  // namespace

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
  expire_holds();
  // The same UTC day is the same month: months are only worked out when the day changes.
  const bool new_day = before >= 0 && utc_day(after) != utc_day(before);
  const bool new_month = new_day && utc_month(after) != utc_month(before);
  if (new_month) {
    // Members over last month's limit are not over this month's: paused ones resume (sorted set:
    // deterministic order).
    const auto over_limit = partition_.members_over_limit;
    for (const auto& [org_text, member_text] : over_limit) {
      // Ids of the partition state were valid ids when the fold stored them.
      const OrgIdView org_id = OrgIdView::trusted(org_text);
      const MemberIdView member_id = MemberIdView::trusted(member_text);
      MemberState* member = ledger_.find_member(org_id, member_id);
      OrgState* org = ledger_.find_org(org_id);
      TALLY_ASSERT(member && org, "a member over its limit and its org are in the ledger");
      evaluate_member(org_id, member_id, *member, *org);
    }
  }
  // SPEC §12: grant signals come right after the month-change restores, expired before expiring;
  // then the other orgs an expiry moved are judged (the event's own org is judged next anyway).
  std::vector<std::string> orgs_expired;
  expire_grants(orgs_expired);
  warn_expiring_grants();
  for (const std::string& org_text : orgs_expired) {
    const OrgIdView org_id = OrgIdView::trusted(org_text);
    evaluate_org(org_id, *ledger_.find_org(org_id));
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

// Outside the wallet no level holds: leaving it restores an exhausted org (balance_restored); on
// return the levels are judged from scratch, so a low or empty balance is signalled again.
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

// A member is over its limit whatever the org's plan and mode (its usage is counted the same), and
// paused only while the org is a wallet org: member limits are credit limits (SPEC §4).
void Folder::evaluate_member(OrgIdView org_id, MemberIdView member_id, MemberState& member, const OrgState& org) {
  const int64_t month = month_of(partition_.clock_ms);
  const bool over = member.has_limit && member.month == month && member.used_micros >= member.monthly_limit_micros;
  auto& over_limit = partition_.members_over_limit;
  const std::pair<std::string_view, std::string_view> entry{org_id.str(), member_id.str()};
  const auto listed = over_limit.find(entry);
  if (over && listed == over_limit.end()) {
    over_limit.emplace(org_id.str(), member_id.str());
  } else if (!over && listed != over_limit.end()) {
    over_limit.erase(listed);
  }
  const bool exceeded = over && wallet_org(org);
  if (exceeded == member.exceeded) return;
  member.exceeded = exceeded;
  Signal& s = emit(exceeded ? SignalKind::member_limit_exceeded : SignalKind::member_limit_restored, org_id, org);
  s.member_id = MemberId(member_id);
  s.monthly_limit_micros = member.monthly_limit_micros;
  s.member_used_micros = member.month == month ? member.used_micros : Micros{};
  s.pause_reason = exceeded ? "member_limit_exceeded" : "";
}

void Folder::evaluate_members_over_limit(OrgIdView org_id, const OrgState& org) {
  std::vector<std::string> members;
  const auto& over_limit = partition_.members_over_limit;
  for (auto it = over_limit.lower_bound(std::pair<std::string_view, std::string_view>{org_id.str(), {}});
       it != over_limit.end() && it->first == org_id.str(); ++it) {
    members.push_back(it->second);
  }
  for (const std::string& member_text : members) {  // sorted: deterministic order
    const MemberIdView member_id = MemberIdView::trusted(member_text);
    MemberState* member = ledger_.find_member(org_id, member_id);
    TALLY_ASSERT(member, "a member over its limit is in the ledger");
    evaluate_member(org_id, member_id, *member, org);
  }
}

void Folder::disable_auto_refill(OrgState& org, std::string_view pause_reason) {
  if (!org.auto_refill.enabled) return;
  org.auto_refill.enabled = false;
  disabled_signal_ = true;
  disabled_reason_ = pause_reason;
}

}  // namespace tally
