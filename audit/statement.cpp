#include "audit/statement.h"

#include <cassert>
#include <string_view>

#include "audit/text_format.h"
#include "engine/money.h"

namespace tally::audit {
namespace {

constexpr const char* billing_paths[] = {"credits", "byok", "invoiced"};
const std::string_view grant_expired_type = store::body_type_name(store::grant_expired_body_type);

// total += value; false (and total unchanged) on overflow.
bool add_checked(int64_t& total, int64_t value) { return !__builtin_add_overflow(total, value, &total); }

class Accumulator {
 public:
  explicit Accumulator(StatementSummary& s) : s_(s) {}
  bool overflowed() const { return overflowed_; }

  void add(int64_t& total, int64_t value) { overflowed_ |= !add_checked(total, value); }

  void account(const HistoryEntry& e) {
    ++s_.entries;
    switch (e.outcome) {
      case Outcome::applied: ++s_.applied; break;
      case Outcome::duplicate: ++s_.duplicates; return;
      case Outcome::conflict: ++s_.conflicts; return;
      case Outcome::rejected: ++s_.rejected; return;
    }
    add(s_.net_change_micros, e.amount_micros.value());
    const std::string_view type = e.type;
    account_grants(type, e);
    if (type == "purchase" || type == "auto_refill") {
      PaymentTotals& t = (type == "purchase" ? s_.purchases : s_.auto_refills)[e.currency];
      ++t.count;
      add(t.credits_micros, e.amount_micros.value());
      add(t.paid_minor, e.paid_minor);
      add(t.fee_minor, e.fee_minor);
    } else if (type == "refund") {
      movement(s_.refunds, e.amount_micros.value());
    } else if (type == "signup_allocation") {
      movement(s_.signup_allocations, e.amount_micros.value());
    } else if (type == "admin_adjustment") {
      movement(s_.adjustments, e.amount_micros.value());
    } else if (type == "credit_granted") {
      movement(s_.credit_grants, e.amount_micros.value());
    } else if (type == grant_expired_type) {
      movement(s_.grant_expiries, e.amount_micros.value());
    } else if (type == "grant_voided") {
      movement(s_.grant_voids, e.amount_micros.value());
    } else if (type == "usage") {
      UsageTotals& t = s_.usage[e.billing_path.empty() ? "credits" : e.billing_path];
      ++t.count;
      add(t.debited_micros, e.debited_micros.value());
      add(t.tracked_cost_micros, e.tracked_cost_micros.value());
      // The ledger's amount is −debited; anything else would be a ledger bug, kept visible here.
      int64_t rest = e.amount_micros.value();
      add(rest, e.debited_micros.value());
      if (rest != 0) movement(s_.other_kinds, rest);
    } else if (type == "payment_failed") {
      ++s_.payment_failures;
    } else if (e.amount_micros.value() != 0) {
      movement(s_.other_kinds, e.amount_micros.value());
    }
  }

 private:
  // SPEC §12: credit granted, and consumed by usage and negative adjustments.
  void account_grants(std::string_view type, const HistoryEntry& e) {
    const int64_t amount = e.amount_micros.value();
    const bool grants = type == "signup_allocation" || type == "purchase" || type == "auto_refill" ||
                        type == "credit_granted" || (type == "admin_adjustment" && amount > 0);
    if (grants) add(s_.granted_micros, amount);
    if (type == "usage") add(s_.consumed_micros, e.debited_micros.value());
    if (type == "admin_adjustment" && amount < 0) add(s_.consumed_micros, amount == INT64_MIN ? INT64_MAX : -amount);
  }
  void movement(MovementTotals& t, int64_t amount) {
    ++t.count;
    add(t.amount_micros, amount);
  }
  StatementSummary& s_;
  bool overflowed_ = false;
};

void append_int(std::string& out, int64_t v) { out += std::to_string(v); }

// "trial-1:3000000;overdraft:1000" (SPEC §12).
std::string fundings_text(const HistoryEntry& e) {
  std::string out;
  for (const HistoryEntry::Funding& f : e.fundings) {
    if (!out.empty()) out.push_back(';');
    out += f.grant_id.empty() ? std::string("overdraft") : f.grant_id;
    out += ":" + std::to_string(f.micros.value());
  }
  return out;
}
void append_uint(std::string& out, uint64_t v) { out += std::to_string(v); }

// item,currency,count,amount_micros,amount,paid_minor,fee_minor,tracked_cost_micros
void summary_row(std::string& out, std::string_view item, std::string_view currency, const uint64_t* count,
                 const int64_t* amount, const int64_t* paid, const int64_t* fee, const int64_t* tracked) {
  append_csv_field(out, item);
  out.push_back(',');
  append_csv_field(out, currency);
  out.push_back(',');
  if (count) append_uint(out, *count);
  out.push_back(',');
  if (amount) {
    append_int(out, *amount);
    out.push_back(',');
    out += format_credits(*amount);
  } else {
    out.push_back(',');
  }
  out.push_back(',');
  if (paid) append_int(out, *paid);
  out.push_back(',');
  if (fee) append_int(out, *fee);
  out.push_back(',');
  if (tracked) append_int(out, *tracked);
  out += "\r\n";
}

__int128 sum_of_kinds(const StatementSummary& s) {
  __int128 sum = 0;
  for (const auto& [currency, t] : s.purchases) sum += t.credits_micros;
  for (const auto& [currency, t] : s.auto_refills) sum += t.credits_micros;
  sum += s.refunds.amount_micros;
  sum += s.signup_allocations.amount_micros;
  sum += s.adjustments.amount_micros;
  sum += s.credit_grants.amount_micros;
  sum += s.grant_expiries.amount_micros;
  sum += s.grant_voids.amount_micros;
  for (const auto& [path, t] : s.usage) sum -= t.debited_micros;
  sum += s.other_kinds.amount_micros;
  return sum;
}

// closing − (opening + granted − consumed − expired − voided − refunded + other), exactly (SPEC §12).
__int128 grant_difference(const StatementSummary& s) {
  return static_cast<__int128>(s.closing_balance_micros) - s.opening_balance_micros - s.granted_micros +
         s.consumed_micros - s.grant_expiries.amount_micros - s.grant_voids.amount_micros -
         s.refunds.amount_micros - s.other_kinds.amount_micros - s.other_movements_micros;
}

// closing − opening − net − other, exactly (0 when the statement reconciles).
__int128 difference(const StatementSummary& s) {
  return static_cast<__int128>(s.closing_balance_micros) - s.opening_balance_micros - s.net_change_micros -
         s.other_movements_micros;
}

void json_field(std::string& out, std::string_view name) {
  out.push_back(',');
  append_json_string(out, name);
  out.push_back(':');
}
void json_int(std::string& out, std::string_view name, int64_t v) {
  json_field(out, name);
  append_int(out, v);
}
void json_str(std::string& out, std::string_view name, std::string_view v) {
  json_field(out, name);
  append_json_string(out, v);
}
// "name_micros": n, "name": "1.000000"
void json_money(std::string& out, std::string_view name, int64_t micros) {
  json_int(out, std::string(name) + "_micros", micros);
  json_str(out, name, format_credits(micros));
}
void json_bound(std::string& out, std::string_view name, int64_t v, int64_t unbounded) {
  json_field(out, name);
  if (v == unbounded) out += "null";
  else append_int(out, v);
}

std::string payments_json(const std::map<std::string, PaymentTotals>& totals) {
  std::string out = "[";
  for (const auto& [currency, t] : totals) {
    if (out.size() > 1) out.push_back(',');
    out += "{\"currency\":";
    append_json_string(out, currency);
    out += ",\"count\":" + std::to_string(t.count) + ",\"credits_micros\":" + std::to_string(t.credits_micros) +
           ",\"credits\":\"" + format_credits(t.credits_micros) + "\",\"paid_minor\":" + std::to_string(t.paid_minor) +
           ",\"fee_minor\":" + std::to_string(t.fee_minor) + "}";
  }
  return out + "]";
}

std::string movement_json(const MovementTotals& t) {
  return "{\"count\":" + std::to_string(t.count) + ",\"amount_micros\":" + std::to_string(t.amount_micros) +
         ",\"amount\":\"" + format_credits(t.amount_micros) + "\"}";
}

}  // namespace

Result<StatementFormat> parse_statement_format(const std::string& text) {
  if (text == "csv") return StatementFormat::csv;
  if (text == "jsonl") return StatementFormat::jsonl;
  if (text == "html") return StatementFormat::html;
  return Status::invalid("format", "\"" + text + "\" is not a statement format: csv, jsonl or html");
}

bool StatementSummary::reconciles() const {
  return difference(*this) == 0 && sum_of_kinds(*this) == net_change_micros && grant_difference(*this) == 0;
}

Status scan_statement(ViewReader& views, const std::string& org_id, int64_t from_ms, int64_t to_ms,
                      const std::function<bool(const HistoryEntry&)>& row, StatementSummary& summary,
                      uint64_t sequence_end) {
  summary = StatementSummary{};
  summary.org_id = org_id;
  summary.from_ms = from_ms;
  summary.to_ms = to_ms;
  for (const char* path : billing_paths) summary.usage[path];
  Result<OrgId> id = OrgId::make(org_id);
  if (!id.is_ok()) return id.status();
  auto org = views.org(id.value());
  if (!org.is_ok()) return org.status();
  summary.org_found = org.value().has_value();

  Accumulator totals(summary);
  bool in_range_seen = false;
  int64_t balance_before_range = 0;
  int64_t last_balance = 0;
  const auto visit = [&](const HistoryEntry& e) {
    if (!e.early && e.sequence >= sequence_end) return false;
    if (e.occurred_at_ms < from_ms || e.occurred_at_ms >= to_ms) {
      if (!in_range_seen && e.occurred_at_ms < from_ms) balance_before_range = e.balance_after_micros.value();
      return true;
    }
    int64_t before = 0;
    // The ledger never records an entry whose balance before it overflows; if it did, stop loudly.
    const bool fits = !__builtin_sub_overflow(e.balance_after_micros.value(), e.amount_micros.value(), &before);
    assert(fits);
    (void)fits;
    if (!in_range_seen) {
      summary.opening_balance_micros = before;
      in_range_seen = true;
    } else if (before != last_balance) {
      int64_t moved = 0;
      if (__builtin_sub_overflow(before, last_balance, &moved)) moved = before > last_balance ? INT64_MAX : INT64_MIN;
      totals.add(summary.other_movements_micros, moved);
    }
    totals.account(e);
    last_balance = e.balance_after_micros.value();
    summary.closing_balance_micros = last_balance;
    return row(e);
  };
  // An org's early rejects (its first events, rejected before it existed) come first: they moved
  // nothing (balance 0), and the history goes on from there.
  bool go_on = true;
  Status status = views.for_each_early_reject(id.value(), INT64_MIN, INT64_MAX, [&](const HistoryEntry& e) {
    return go_on = visit(e);
  });
  if (status.is_ok() && go_on) status = views.for_each_history(id.value(), INT64_MIN, INT64_MAX, visit);
  if (!status.is_ok()) return status;
  if (!in_range_seen) summary.opening_balance_micros = summary.closing_balance_micros = balance_before_range;
  if (totals.overflowed()) {
    return Status::error(Status::Code::too_large, "the statement's totals overflow 64-bit micro-credits");
  }
  return Status::ok();
}

std::string csv_header() {
  return "occurred_at,occurred_at_ms,position,sequence,type,idempotency_key,outcome,reason,amount_micros,amount,"
         "balance_after_micros,balance_after,billing_path,model,member_id,workspace,rate_card_version,"
         "tracked_cost_micros,debited_micros,payment_ref,paid_minor,fee_minor,currency,note,detail,fundings\r\n";
}

void append_csv_row(std::string& out, const HistoryEntry& e) {
  const auto text = [&](std::string_view s) {
    append_csv_field(out, s);
    out.push_back(',');
  };
  const auto number = [&](int64_t v) {
    append_int(out, v);
    out.push_back(',');
  };
  // A decimal amount of credits ("-1.500000") is a number too: never neutralised as text.
  const auto credits = [&](int64_t micros) {
    out += format_credits(micros);
    out.push_back(',');
  };
  text(iso_utc(e.occurred_at_ms));
  number(e.occurred_at_ms);
  text(e.position.to_string());
  out += (e.early ? std::string() : std::to_string(e.sequence)) + ",";  // an early reject has no sequence
  text(e.type);
  text(e.idempotency_key);
  text(outcome_name(e.outcome));
  text(e.reason == RejectReason::none ? "" : reject_reason_name(e.reason));
  number(e.amount_micros.value());
  credits(e.amount_micros.value());
  number(e.balance_after_micros.value());
  credits(e.balance_after_micros.value());
  text(e.billing_path);
  text(e.model);
  text(e.member_id);
  text(e.workspace);
  number(e.rate_card_version);
  number(e.tracked_cost_micros.value());
  number(e.debited_micros.value());
  text(e.payment_ref);
  number(e.paid_minor);
  number(e.fee_minor);
  text(e.currency);
  text(e.reason_text);
  text(e.detail);
  append_csv_field(out, fundings_text(e));
  out += "\r\n";
}

void append_csv_summary(std::string& out, const StatementSummary& s) {
  out += "item,currency,count,amount_micros,amount,paid_minor,fee_minor,tracked_cost_micros\r\n";
  summary_row(out, "opening_balance", "", nullptr, &s.opening_balance_micros, nullptr, nullptr, nullptr);
  for (const auto* kind : {&s.purchases, &s.auto_refills}) {
    const char* item = kind == &s.purchases ? "purchases" : "auto_refills";
    if (kind->empty()) {
      const PaymentTotals none;
      summary_row(out, item, "", &none.count, &none.credits_micros, &none.paid_minor, &none.fee_minor, nullptr);
    }
    for (const auto& [currency, t] : *kind) {
      summary_row(out, item, currency, &t.count, &t.credits_micros, &t.paid_minor, &t.fee_minor, nullptr);
    }
  }
  summary_row(out, "refunds", "", &s.refunds.count, &s.refunds.amount_micros, nullptr, nullptr, nullptr);
  summary_row(out, "signup_allocations", "", &s.signup_allocations.count, &s.signup_allocations.amount_micros,
              nullptr, nullptr, nullptr);
  summary_row(out, "adjustments", "", &s.adjustments.count, &s.adjustments.amount_micros, nullptr, nullptr, nullptr);
  summary_row(out, "credit_grants", "", &s.credit_grants.count, &s.credit_grants.amount_micros, nullptr, nullptr,
              nullptr);
  summary_row(out, "grant_expiries", "", &s.grant_expiries.count, &s.grant_expiries.amount_micros, nullptr, nullptr,
              nullptr);
  summary_row(out, "grant_voids", "", &s.grant_voids.count, &s.grant_voids.amount_micros, nullptr, nullptr, nullptr);
  for (const auto& [path, t] : s.usage) {
    const int64_t amount = t.debited_micros == INT64_MIN ? INT64_MAX : -t.debited_micros;
    summary_row(out, "usage_" + path, "", &t.count, &amount, nullptr, nullptr, &t.tracked_cost_micros);
  }
  summary_row(out, "other", "", &s.other_kinds.count, &s.other_kinds.amount_micros, nullptr, nullptr, nullptr);
  summary_row(out, "other_movements", "", nullptr, &s.other_movements_micros, nullptr, nullptr, nullptr);
  summary_row(out, "closing_balance", "", nullptr, &s.closing_balance_micros, nullptr, nullptr, nullptr);
  const int64_t diff = static_cast<int64_t>(difference(s));
  summary_row(out, "difference", "", nullptr, &diff, nullptr, nullptr, nullptr);
  // SPEC §12: the same period in the terms of grants (not summed with the kinds above).
  const int64_t breakage = s.grant_expiries.amount_micros == INT64_MIN ? INT64_MAX : -s.grant_expiries.amount_micros;
  summary_row(out, "granted", "", nullptr, &s.granted_micros, nullptr, nullptr, nullptr);
  summary_row(out, "consumed", "", nullptr, &s.consumed_micros, nullptr, nullptr, nullptr);
  summary_row(out, "breakage", "", &s.grant_expiries.count, &breakage, nullptr, nullptr, nullptr);
  for (const auto& [item, count] : {std::pair{"entries", s.entries}, std::pair{"applied", s.applied},
                                    std::pair{"duplicates", s.duplicates}, std::pair{"conflicts", s.conflicts},
                                    std::pair{"rejected", s.rejected}, std::pair{"payment_failures", s.payment_failures}}) {
    summary_row(out, item, "", &count, nullptr, nullptr, nullptr, nullptr);
  }
}

void append_jsonl_row(std::string& out, const HistoryEntry& e) {
  out += "{\"type\":";
  append_json_string(out, e.type);
  json_str(out, "idempotency_key", e.idempotency_key);
  json_str(out, "outcome", outcome_name(e.outcome));
  json_str(out, "reason", e.reason == RejectReason::none ? "" : reject_reason_name(e.reason));
  json_str(out, "detail", e.detail);
  json_money(out, "amount", e.amount_micros.value());
  json_money(out, "balance_after", e.balance_after_micros.value());
  json_int(out, "occurred_at_ms", e.occurred_at_ms);
  json_str(out, "occurred_at", iso_utc(e.occurred_at_ms));
  json_str(out, "position", e.position.to_string());
  if (e.early) {
    json_field(out, "early");  // rejected before the org existed: no sequence
    out += "true";
  } else {
    json_int(out, "sequence", static_cast<int64_t>(e.sequence));
  }
  json_str(out, "billing_path", e.billing_path);
  json_str(out, "model", e.model);
  json_str(out, "member_id", e.member_id);
  json_str(out, "workspace", e.workspace);
  json_int(out, "rate_card_version", e.rate_card_version);
  json_int(out, "tracked_cost_micros", e.tracked_cost_micros.value());
  json_int(out, "debited_micros", e.debited_micros.value());
  json_str(out, "payment_ref", e.payment_ref);
  json_int(out, "paid_minor", e.paid_minor);
  json_int(out, "fee_minor", e.fee_minor);
  json_str(out, "currency", e.currency);
  json_str(out, "note", e.reason_text);
  json_field(out, "fundings");
  out.push_back('[');
  for (std::size_t i = 0; i < e.fundings.size(); ++i) {
    const HistoryEntry::Funding& f = e.fundings[i];
    out += i == 0 ? "{" : ",{";
    if (f.grant_id.empty()) {
      out += "\"overdraft\":true";
    } else {
      out += "\"grant_id\":";
      append_json_string(out, f.grant_id);
    }
    json_int(out, "micros", f.micros.value());
    out.push_back('}');
  }
  out += "]}\n";
}

void append_jsonl_summary(std::string& out, const StatementSummary& s) {
  out += "{\"type\":\"summary\"";
  json_str(out, "org_id", s.org_id);
  json_bound(out, "from_ms", s.from_ms, INT64_MIN);
  json_bound(out, "to_ms", s.to_ms, INT64_MAX);
  json_field(out, "org_found");
  out += s.org_found ? "true" : "false";
  json_int(out, "entries", static_cast<int64_t>(s.entries));
  json_int(out, "applied", static_cast<int64_t>(s.applied));
  json_int(out, "duplicates", static_cast<int64_t>(s.duplicates));
  json_int(out, "conflicts", static_cast<int64_t>(s.conflicts));
  json_int(out, "rejected", static_cast<int64_t>(s.rejected));
  json_int(out, "payment_failures", static_cast<int64_t>(s.payment_failures));
  json_money(out, "opening_balance", s.opening_balance_micros);
  json_field(out, "purchases");
  out += payments_json(s.purchases);
  json_field(out, "auto_refills");
  out += payments_json(s.auto_refills);
  json_field(out, "refunds");
  out += movement_json(s.refunds);
  json_field(out, "signup_allocations");
  out += movement_json(s.signup_allocations);
  json_field(out, "adjustments");
  out += movement_json(s.adjustments);
  json_field(out, "usage");
  out += "{";
  bool first = true;
  for (const auto& [path, t] : s.usage) {
    if (!first) out.push_back(',');
    first = false;
    append_json_string(out, path);
    out += ":{\"count\":" + std::to_string(t.count) + ",\"debited_micros\":" + std::to_string(t.debited_micros) +
           ",\"tracked_cost_micros\":" + std::to_string(t.tracked_cost_micros) + "}";
  }
  out += "}";
  for (const auto& [name, totals] : {std::pair{"credit_grants", &s.credit_grants},
                                     std::pair{"grant_expiries", &s.grant_expiries},
                                     std::pair{"grant_voids", &s.grant_voids}}) {
    json_field(out, name);
    out += movement_json(*totals);
  }
  json_money(out, "granted", s.granted_micros);
  json_money(out, "consumed", s.consumed_micros);
  json_field(out, "other");
  out += movement_json(s.other_kinds);
  json_money(out, "net_change", s.net_change_micros);
  json_money(out, "other_movements", s.other_movements_micros);
  json_money(out, "closing_balance", s.closing_balance_micros);
  json_field(out, "reconciles");
  out += s.reconciles() ? "true" : "false";
  out += "}\n";
}

}  // namespace tally::audit
