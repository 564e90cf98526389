#include "state.h"

namespace tally {

const char* plan_name(Plan plan) { return plan == Plan::enterprise ? "enterprise" : "pro"; }

const char* billing_mode_name(BillingMode mode) {
  switch (mode) {
    case BillingMode::byok: return "byok";
    case BillingMode::deferred: return "deferred";
    default: return "credits";
  }
}

const char* outcome_name(Outcome outcome) {
  switch (outcome) {
    case Outcome::applied: return "applied";
    case Outcome::duplicate: return "duplicate";
    case Outcome::conflict: return "conflict";
    case Outcome::rejected: return "rejected";
  }
  return "unknown";
}

const char* reject_reason_name(RejectReason reason) {
  switch (reason) {
    case RejectReason::none: return "none";
    case RejectReason::invalid_record: return "invalid_record";
    case RejectReason::invalid_field: return "invalid_field";
    case RejectReason::wrong_partition: return "wrong_partition";
    case RejectReason::damaged_record: return "damaged_record";
    case RejectReason::clock_skew: return "clock_skew";
    case RejectReason::unknown_purchase: return "unknown_purchase";
    case RejectReason::refund_exceeds_purchase: return "refund_exceeds_purchase";
    case RejectReason::insufficient_balance: return "insufficient_balance";
    case RejectReason::overflow: return "overflow";
    case RejectReason::unpriced: return "unpriced";
    case RejectReason::stale_rate_card: return "stale_rate_card";
    case RejectReason::org_exists: return "org_exists";
    case RejectReason::workspace_billing_full: return "workspace_billing_full";
    case RejectReason::insufficient_available: return "insufficient_available";
    case RejectReason::member_limit: return "member_limit";
    case RejectReason::unknown_hold: return "unknown_hold";
    case RejectReason::hold_not_active: return "hold_not_active";
    case RejectReason::too_many_holds: return "too_many_holds";
    case RejectReason::unknown_grant: return "unknown_grant";
    case RejectReason::nothing_to_void: return "nothing_to_void";
    case RejectReason::void_exceeds_remaining: return "void_exceeds_remaining";
  }
  return "unknown";
}

const char* grant_category_name(GrantCategory category) {
  return category == GrantCategory::paid ? "paid" : "promotional";
}

bool draws_before(const Grant& a, const Grant& b) {
  if (a.priority != b.priority) return a.priority < b.priority;
  // Never (0) is last: as unsigned, 0 - 1 is the largest.
  const auto expiry = [](const Grant& g) { return static_cast<uint64_t>(g.expires_at_ms) - 1; };
  if (expiry(a) != expiry(b)) return expiry(a) < expiry(b);
  if (a.category != b.category) return a.category == GrantCategory::promotional;
  return a.offset < b.offset;
}

bool is_business_reason(RejectReason reason) { return static_cast<int>(reason) >= 10; }

}  // namespace tally
