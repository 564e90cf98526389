#include "api/grant_json.h"

#include <deque>
#include <map>
#include <string>

#include "api/handler_util.h"
#include "projections/records.h"

namespace tally::api {
namespace {

// One entry that took from a grant.
struct Consumption {
  LogPosition position;
  std::string type;
  std::string idempotency_key;
  int64_t occurred_at_ms = 0;
  Micros micros;
};

struct GrantUse {
  std::deque<Consumption> latest;  // at most grant_consumptions_max
  uint64_t count = 0;
};

void note(GrantUse& use, const HistoryEntry& e, Micros micros) {
  ++use.count;
  use.latest.push_back(Consumption{e.position, e.type, e.idempotency_key, e.occurred_at_ms, micros});
  if (use.latest.size() > grant_consumptions_max) use.latest.pop_front();
}

boost::json::object consumption_json(const Consumption& c) {
  boost::json::object out;
  out["position"] = c.position.to_string();
  out["type"] = c.type;
  out["idempotency_key"] = c.idempotency_key;
  out["occurred_at_ms"] = c.occurred_at_ms;
  put_money(out, "amount", c.micros);
  return out;
}

// The uses of every grant of the org, from its history.
Result<std::map<std::string, GrantUse, std::less<>>> grant_uses(ViewReader& views, OrgIdView org) {
  std::map<std::string, GrantUse, std::less<>> uses;
  Status status = views.for_each_history(org, INT64_MIN, INT64_MAX, [&](const HistoryEntry& e) {
    if (e.outcome != Outcome::applied) return true;
    if (e.type == store::body_type_name(store::grant_expired_body_type)) {
      note(uses[e.idempotency_key], e, Micros{-e.amount_micros.value()});
      return true;
    }
    for (const HistoryEntry::Funding& f : e.fundings) {
      if (!f.grant_id.empty()) note(uses[f.grant_id], e, f.micros);
    }
    return true;
  });
  if (!status.is_ok()) return status;
  return uses;
}

// {"micros": N, "credits": "N.NNNNNN"}: an amount that is the object's only money.
void put_amount(boost::json::object& out, int64_t micros) {
  out["micros"] = micros;
  out["credits"] = format_credits(micros);
}

}  // namespace

boost::json::object grant_json(const Grant& g, bool active) {
  boost::json::object out;
  out["grant_id"] = g.id;
  out["source"] = std::string(store::body_type_name(g.source));
  out["category"] = grant_category_name(g.category);
  out["priority"] = g.priority;
  out["status"] = active ? "active" : "closed";
  out["effective_at_ms"] = g.effective_at_ms;
  out["expires_at_ms"] = g.expires_at_ms == 0 ? boost::json::value(nullptr) : boost::json::value(g.expires_at_ms);
  put_money(out, "original", g.original_micros);
  put_money(out, "remaining", g.remaining_micros);
  put_money(out, "consumed", g.consumed_micros);
  put_money(out, "expired", g.expired_micros);
  put_money(out, "voided", g.voided_micros);
  put_money(out, "refunded", g.refunded_micros);
  out["expiring_signaled"] = g.expiring_signaled;
  if (g.category == GrantCategory::paid && !g.currency.empty()) {
    out["cost_basis"] = boost::json::object{{"paid_minor", g.paid_minor}, {"currency", g.currency}};
  } else {
    out["cost_basis"] = nullptr;
  }
  return out;
}

void put_grant_summary(boost::json::object& out, const OrgState& s) {
  int64_t paid = 0, promotional = 0;  // Σ remaining <= balance: fits
  int64_t next_at = 0, next_micros = 0;
  for (const Grant& g : s.grants) {
    (g.category == GrantCategory::paid ? paid : promotional) += g.remaining_micros.value();
    if (g.expires_at_ms == 0) continue;
    if (next_at == 0 || g.expires_at_ms < next_at) {
      next_at = g.expires_at_ms;
      next_micros = 0;
    }
    if (g.expires_at_ms == next_at) next_micros += g.remaining_micros.value();
  }
  boost::json::object by_category;
  boost::json::object paid_json, promotional_json;
  put_money(paid_json, "remaining", paid);
  put_money(promotional_json, "remaining", promotional);
  by_category["paid"] = std::move(paid_json);
  by_category["promotional"] = std::move(promotional_json);
  out["by_category"] = std::move(by_category);
  if (next_at == 0) {
    out["next_expiry"] = nullptr;
  } else {
    boost::json::object next;
    next["at_ms"] = next_at;
    put_amount(next, next_micros);
    out["next_expiry"] = std::move(next);
  }
  put_money(out, "overdraft", s.overdraft_micros);
  out["active_grants"] = s.grants.size();
}

boost::json::array fundings_json(const std::vector<HistoryEntry::Funding>& fundings) {
  boost::json::array out;
  for (const HistoryEntry::Funding& f : fundings) {
    boost::json::object funding;
    if (f.grant_id.empty()) {
      funding["overdraft"] = true;
    } else {
      funding["grant_id"] = f.grant_id;
    }
    put_amount(funding, f.micros.value());
    out.push_back(std::move(funding));
  }
  return out;
}

Result<boost::json::object> grants_json(ViewReader& views, const OrgView& org, bool consumptions) {
  Result<std::vector<Grant>> closed = views.closed_grants(org.org_id);
  if (!closed.is_ok()) return closed.status();
  std::map<std::string, GrantUse, std::less<>> uses;
  if (consumptions) {
    auto found = grant_uses(views, org.org_id);
    if (!found.is_ok()) return found.status();
    uses = std::move(found.value());
  }
  boost::json::array list;
  const auto add = [&](const Grant& g, bool active) {
    boost::json::object grant = grant_json(g, active);
    if (consumptions) {
      boost::json::array entries;
      const auto use = uses.find(g.id);
      if (use != uses.end()) {
        for (const Consumption& c : use->second.latest) entries.push_back(consumption_json(c));
      }
      grant["consumptions_count"] = use == uses.end() ? 0 : use->second.count;
      grant["consumptions"] = std::move(entries);
    }
    list.push_back(std::move(grant));
  };
  for (const Grant& g : org.state.grants) add(g, true);
  for (const Grant& g : closed.value()) add(g, false);
  boost::json::object out;
  out["org_id"] = org.org_id.str();
  put_money(out, "balance", org.state.balance_micros);
  put_grant_summary(out, org.state);
  out["grants"] = std::move(list);
  return out;
}

}  // namespace tally::api
