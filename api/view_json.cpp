#include "api/view_json.h"

#include <algorithm>

#include <boost/json/parse.hpp>

#include "api/grant_json.h"
#include "api/handler_util.h"
#include "engine/calendar.h"
#include "engine/event_json.h"
#include "engine/fold_commerce.h"

namespace tally::api {
namespace {

std::string month_text(int64_t month_index) {
  if (month_index < 0) return {};
  const YearMonth ym = year_month(month_index);
  std::string out = std::to_string(ym.year) + "-";
  if (ym.month < 10) out += "0";
  return out + std::to_string(ym.month);
}

}  // namespace

bool uses_wallet(const OrgState& state) {
  return state.plan == Plan::pro && state.mode == BillingMode::credits;
}

int64_t warning_threshold_micros(const OrgState& state) {
  if (state.low_balance_threshold_micros > Micros{}) return state.low_balance_threshold_micros.value();
  if (state.auto_refill.enabled) return state.auto_refill.threshold_micros.value();
  return 0;
}

int64_t available_micros(const OrgState& state) {
  const __int128 available = static_cast<__int128>(state.balance_micros.value()) - state.held_micros.value();
  return available > 0 ? static_cast<int64_t>(available) : 0;  // balance >= available: it fits
}

boost::json::object hold_json(std::string_view hold_id, const Hold& hold) {
  boost::json::object out;
  out["hold_id"] = hold_id;
  out["member_id"] = hold.member_id;
  out["workspace"] = hold.workspace;
  put_money(out, "granted", hold.granted_micros);
  put_money(out, "remaining", hold.remaining_micros);
  out["placed_at_ms"] = hold.placed_at_ms;
  out["expires_at_ms"] = hold.expires_at_ms;
  return out;
}

boost::json::object credits_json(const OrgView& org, const std::optional<LogPosition>& as_of) {
  const OrgState& s = org.state;
  const bool wallet = uses_wallet(s);
  const int64_t threshold = warning_threshold_micros(s);
  boost::json::object out;
  out["org_id"] = org.org_id.str();
  put_money(out, "balance", s.balance_micros);
  put_money(out, "held", s.held_micros);
  put_money(out, "available", available_micros(s));
  out["is_low_balance"] = threshold > 0 && s.balance_micros.value() < threshold;
  out["is_exhausted"] = s.balance_micros <= Micros{};
  // Paused is what enforcement did: only wallet orgs are ever paused for their balance.
  out["paused"] = wallet && s.is_exhausted;
  out["auto_refill_enabled"] = s.auto_refill.enabled;
  out["refill_pending"] = s.refill_pending;
  put_money(out, "low_balance_threshold", threshold);
  out["plan"] = plan_name(s.plan);
  // Enterprise orgs are not limited by credits (seed 004; SPEC §14).
  out["unlimited"] = s.plan == Plan::enterprise;
  out["billing_mode"] = billing_mode_name(s.mode);
  out["uses_wallet"] = wallet;
  boost::json::object totals;
  put_money(totals, "allocated", s.totals.allocated_micros);
  put_money(totals, "purchased", s.totals.purchased_micros);
  put_money(totals, "used", s.totals.used_micros);
  put_money(totals, "tracked_cost", s.totals.tracked_cost_micros);
  put_money(totals, "refunded", s.totals.refunded_micros);
  put_money(totals, "adjusted", s.totals.adjusted_micros);
  put_money(totals, "expired", s.totals.expired_micros);  // SPEC §12: breakage
  put_money(totals, "voided", s.totals.voided_micros);
  out["totals"] = std::move(totals);
  put_grant_summary(out, s);
  out["last_event_at_ms"] = s.last_occurred_at_ms;
  if (as_of) {
    out["as_of"] = as_of->to_string();
  } else {
    out["as_of"] = nullptr;
  }
  return out;
}

namespace {

// "2 of 20 auto-refills used this month" (or "2 auto-refills used this month (no monthly cap)").
std::string refills_status(int32_t used, int32_t cap) {
  const std::string count = std::to_string(used) + (cap > 0 ? " of " + std::to_string(cap) : std::string());
  return count + (used == 1 && cap == 0 ? " auto-refill" : " auto-refills") + " used this month" +
         (cap > 0 ? "" : " (no monthly cap)");
}

}  // namespace

boost::json::object auto_refill_json(const OrgState& state, int64_t now_ms) {
  const AutoRefillPolicy& p = state.auto_refill;
  boost::json::object out;
  out["enabled"] = p.enabled;
  put_money(out, "threshold", p.threshold_micros);
  put_money(out, "refill_credits", p.refill_credits_micros);
  out["refill_bundles"] = p.refill_bundles > 0 ? boost::json::value(p.refill_bundles) : boost::json::value(nullptr);
  out["max_per_day"] = p.max_per_day;
  out["max_per_month"] = p.max_per_month;
  out["payment_customer"] = p.payment_customer;
  // Who is charged: the policy's customer, else the org's (the card saved at checkout).
  const std::string& charged = refill_customer(state);
  out["charged_customer"] = charged.empty() ? boost::json::value(nullptr) : boost::json::value(charged);
  const int32_t today = state.refill_day == utc_day(now_ms) ? state.refills_in_day : 0;
  const int32_t this_month = state.refill_month == utc_month(now_ms) ? state.refills_in_month : 0;
  out["refills_used_today"] = today;
  out["refills_used_this_month"] = this_month;
  out["refills_status"] = refills_status(this_month, p.max_per_month);
  out["refill_pending"] = state.refill_pending;
  if (state.refill_pending) out["pending_signal_id"] = state.pending_signal_id;
  // Counters belong to the period they were counted in; a reader compares with today itself.
  out["refills_in_day"] = state.refills_in_day;
  out["refill_day"] = state.refill_day;
  out["refills_in_month"] = state.refills_in_month;
  out["refill_month"] = month_text(state.refill_month);
  return out;
}

boost::json::object member_json(const MemberView& member) {
  const MemberState& m = member.state;
  boost::json::object out;
  out["member_id"] = member.member_id.str();
  out["has_limit"] = m.has_limit;
  if (m.has_limit) {
    put_money(out, "monthly_limit", m.monthly_limit_micros);
  } else {
    out["monthly_limit_micros"] = nullptr;
    out["monthly_limit"] = nullptr;
  }
  out["month"] = month_text(m.month);
  put_money(out, "used", m.used_micros);
  out["exceeded"] = m.exceeded;
  return out;
}

boost::json::object history_json(const HistoryEntry& e) {
  boost::json::object out;
  if (e.early) {
    out["early"] = true;
  } else {
    out["sequence"] = e.sequence;
  }
  out["type"] = e.type;
  out["idempotency_key"] = e.idempotency_key;
  out["outcome"] = outcome_name(e.outcome);
  if (e.reason != RejectReason::none) out["reason"] = reject_reason_name(e.reason);
  if (!e.detail.empty()) out["detail"] = e.detail;
  put_money(out, "amount", e.amount_micros);
  put_money(out, "balance_after", e.balance_after_micros);
  out["occurred_at_ms"] = e.occurred_at_ms;
  out["position"] = e.position.to_string();
  if (e.type == "usage") {
    out["rate_card_version"] = e.rate_card_version;
    put_money(out, "tracked_cost", e.tracked_cost_micros);
    put_money(out, "debited", e.debited_micros);
    out["billing_path"] = e.billing_path;
    out["model"] = e.model;
    out["member_id"] = e.member_id;
    out["workspace"] = e.workspace;
  } else if (!e.member_id.empty()) {
    out["member_id"] = e.member_id;
  }
  if (!e.payment_ref.empty()) out["payment_ref"] = e.payment_ref;
  if (e.type == "purchase" || e.type == "auto_refill") {
    out["paid_minor"] = e.paid_minor;
    out["fee_minor"] = e.fee_minor;
    out["currency"] = e.currency;
  }
  if (!e.reason_text.empty()) out["reason_text"] = e.reason_text;
  if (!e.fundings.empty()) out["fundings"] = fundings_json(e.fundings);  // SPEC §12
  return out;
}

boost::json::object reject_json(const OrgReject& reject, std::string_view org_id) {
  const HistoryEntry& e = reject.entry;
  boost::json::object out;
  out["position"] = e.position.to_string();
  out["placement"] = reject_placement_name(reject.placement);
  if (!org_id.empty()) out["org_id"] = org_id;
  if (!e.type.empty()) out["type"] = e.type;
  if (!e.idempotency_key.empty()) out["idempotency_key"] = e.idempotency_key;
  out["reason"] = reject_reason_name(e.reason);
  if (!e.detail.empty()) out["detail"] = e.detail;
  if (!e.type.empty()) out["occurred_at_ms"] = e.occurred_at_ms;
  if (!e.member_id.empty()) out["member_id"] = e.member_id;
  if (!e.model.empty()) out["model"] = e.model;
  return out;
}

Result<boost::json::object> signal_json(const OutboxEntry& entry) {
  Result<std::string> text = signal_to_json(entry.bytes);
  if (!text.is_ok()) return text.status();
  boost::system::error_code ec;
  boost::json::value parsed = boost::json::parse(text.value(), ec);
  if (ec || !parsed.is_object()) return Status::error(Status::Code::corruption, "signal " + entry.signal_id);
  boost::json::object out;
  out["sequence"] = entry.sequence;
  for (auto& [key, value] : parsed.as_object()) out[key] = std::move(value);
  return out;
}

Result<LogPosition> position_from_text(std::string_view text, std::string_view field) {
  const std::size_t colon = text.find(':');
  const auto bad = [&] { return Status::invalid(std::string(field), "must be a position partition:offset, e.g. 0:12"); };
  if (colon == std::string_view::npos) return bad();
  Result<int64_t> partition = parse_int64(text.substr(0, colon), field, 0, INT32_MAX);
  Result<int64_t> offset = parse_int64(text.substr(colon + 1), field, 0, INT64_MAX);
  if (!partition.is_ok() || !offset.is_ok()) return bad();
  return LogPosition{PartitionId{static_cast<int32_t>(partition.value())}, Offset{offset.value()}};
}

Status apply_transactions_cursor(std::optional<std::string_view> cursor, HistoryQuery& query) {
  constexpr std::string_view early = "early:";
  if (!cursor) {
    query.early_from = LogPosition{};
    return Status::ok();
  }
  if (cursor->rfind(early, 0) == 0) {
    Result<LogPosition> from = position_from_text(cursor->substr(early.size()), "cursor");
    if (!from.is_ok()) return from.status();
    query.early_from = from.value();
    return Status::ok();
  }
  Result<int64_t> sequence = parse_int64(*cursor, "cursor", 0, INT64_MAX);
  if (!sequence.is_ok()) return Status::invalid("cursor", "must be a next_cursor of an earlier page");
  query.early_from.reset();
  query.after_sequence = static_cast<uint64_t>(sequence.value());
  return Status::ok();
}

std::optional<std::string> next_transactions_cursor(const HistoryPage& page) {
  if (page.next_early) return "early:" + page.next_early->to_string();
  if (page.next_sequence) return std::to_string(*page.next_sequence);
  return std::nullopt;
}

}  // namespace tally::api
