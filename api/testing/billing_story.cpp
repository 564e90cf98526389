#include "api/testing/billing_story.h"

#include <chrono>
#include <regex>

#include <boost/json.hpp>

namespace tally::api::testing {
namespace {

constexpr int64_t cr = 1'000'000;
constexpr int64_t day_ms = 86'400'000;

int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

struct Teller {
  HttpClient& client;
  const BillingStoryTokens& tokens;
  const BillingStoryPayments& payments;

  Result<boost::json::value> call(std::string_view method, const std::string& target, const std::string& token,
                                  const std::string& body, int expected) {
    const HttpReply reply = client.send(method, target, token, body);
    if (reply.status != expected) {
      return Status::error(Status::Code::conflict, std::string(method) + " " + target + " answered " +
                                                       std::to_string(reply.status) + ": " + reply.body);
    }
    return reply.json();
  }
  Status event(const std::string& fields) {
    return call("POST", "/api/v1/events?wait=1", tokens.admin, R"({"org_id":"acme",)" + fields + "}", 200).status();
  }
  Status usage(const std::string& key, int64_t at_ms, const std::string& member, const std::string& model,
               int64_t cost_micros) {
    return event(R"("type":"usage","idempotency_key":")" + key + R"(","occurred_at_ms":)" + std::to_string(at_ms) +
                 R"(,"member_id":")" + member + R"(","workspace":"main","meter":"llm_tokens","model":")" + model +
                 R"(","reported_cost_micros":)" + std::to_string(cost_micros));
  }
};

// A checkout (which links the customer whose card the fake saves), then its Purchase as the
// provider's webhook would append it.
Status buy_credits(Teller& t, int64_t at_ms) {
  Result<boost::json::value> checkout =
      t.call("POST", "/api/v1/org/acme/credits/checkout", t.tokens.owner,
             R"({"quantity":1,"success_url":"https://platform.example/ok","cancel_url":"https://platform.example/no"})", 200);
  if (!checkout.is_ok()) return checkout.status();
  if (t.payments.complete_checkout) {
    return t.payments.complete_checkout(std::string(checkout->at("session_id").as_string()), at_ms);
  }
  return t.event(R"("type":"purchase","idempotency_key":"evt_checkout_1","occurred_at_ms":)" + std::to_string(at_ms) +
                 R"(,"credits_micros":100000000,"paid_minor":10000,"currency":"usd","fee_minor":320,"bundles":1,)"
                 R"("payment_ref":"pi_story_1")");
}

// The recharge connector's charge succeeded: the AutoRefill it appends for the pending request.
Status append_refill(Teller& t) {
  Result<boost::json::value> refill = t.call("GET", "/api/v1/org/acme/credits/auto-refill", t.tokens.owner, "", 200);
  if (!refill.is_ok()) return refill.status();
  const boost::json::value* signal = refill->as_object().if_contains("pending_signal_id");
  if (signal == nullptr) {
    return Status::error(Status::Code::conflict, "no recharge was requested: " + boost::json::serialize(refill.value()));
  }
  return t.event(R"("type":"auto_refill","idempotency_key":"refill-1","occurred_at_ms":)" + std::to_string(now_ms()) +
                 R"(,"credits_micros":100000000,"paid_minor":10000,"currency":"usd","fee_minor":320,"bundles":1,)"
                 R"("payment_ref":"pi_refill_1","signal_id":)" + boost::json::serialize(*signal));
}

}  // namespace

std::optional<int64_t> page_figure(const std::string& html, const std::string& id, const std::string& attribute) {
  const std::string head = "id=\"" + id + "\" " + attribute + "=\"";
  const std::size_t at = html.find(head);
  if (at == std::string::npos) return std::nullopt;
  const std::size_t from = at + head.size(), end = html.find('"', from);
  const std::string digits = html.substr(from, end - from);
  if (digits.empty() || digits.find_first_not_of("-0123456789") != std::string::npos) return std::nullopt;
  return std::stoll(digits);
}

std::optional<std::string> page_text(const std::string& html, const std::string& id) {
  const std::size_t at = html.find("id=\"" + id + "\"");
  if (at == std::string::npos) return std::nullopt;
  const std::size_t from = html.find('>', at);
  if (from == std::string::npos) return std::nullopt;
  return html.substr(from + 1, html.find('<', from) - from - 1);
}

std::vector<std::string> grant_rows_differences(const std::string& html, const boost::json::value& api) {
  std::vector<std::string> out;
  const auto number = [](const boost::json::value& v) { return v.is_int64() ? v.as_int64() : 0; };
  for (const boost::json::value& g : api.at("grants").as_array()) {
    const std::string id(g.at("grant_id").as_string());
    const std::regex row("<tr data-grant=\"" + id + "\" data-status=\"([a-z]+)\">.*?data-micros=\"(-?[0-9]+)\".*?"
                         "data-micros=\"(-?[0-9]+)\".*?data-micros=\"(-?[0-9]+)\".*?data-ms=\"([0-9]+)\"");
    std::smatch m;
    if (!std::regex_search(html, m, row)) {
      out.push_back("no row for grant " + id);
      continue;
    }
    const auto differs = [&](const std::string& what, const std::string& page, const std::string& want) {
      if (page != want) out.push_back(id + " " + what + ": page " + page + ", API " + want);
    };
    differs("status", m[1].str(), std::string(g.at("status").as_string()));
    differs("original", m[2].str(), std::to_string(number(g.at("original_micros"))));
    differs("remaining", m[3].str(), std::to_string(number(g.at("remaining_micros"))));
    differs("expired", m[4].str(), std::to_string(number(g.at("expired_micros"))));
    differs("expires_at_ms", m[5].str(), std::to_string(number(g.at("expires_at_ms"))));
  }
  const boost::json::value& next = api.at("next_expiry");
  if (next.is_object()) {
    const std::optional<int64_t> at = page_figure(html, "next-expiry");
    if (at.value_or(-1) != number(next.at("micros"))) out.push_back("next expiry amount differs");
  }
  return out;
}

CommerceOptions billing_story_commerce(const std::shared_ptr<FakePayments>& payments) {
  payments->save_card("cus_fake1", PaymentCard{"pm_story", "visa", "4242", 8, 2030});
  return fake_commerce(payments);
}

Status tell_billing_story(HttpClient& client, const BillingStoryTokens& tokens, const BillingStoryPayments& payments) {
  Teller t{client, tokens, payments};
  const int64_t now = now_ms();
  if (Status s = t.event(R"("type":"signup_allocation","idempotency_key":"signup","occurred_at_ms":)" +
                         std::to_string(now - 6 * day_ms) + R"(,"credits_micros":)" + std::to_string(25'000 * cr));
      !s.is_ok()) {
    return s;
  }
  if (Status s = buy_credits(t, now - 5 * day_ms); !s.is_ok()) return s;
  // A promotional grant of 200 credits that runs out in 4 days, drawn down before the others
  // (priority 10): the story's usage leaves 123.25 of it to expire.
  if (Status s = t.event(R"("type":"credit_granted","idempotency_key":"promo-launch","occurred_at_ms":)" +
                         std::to_string(now - 3 * day_ms) + R"(,"credits_micros":)" + std::to_string(200 * cr) +
                         R"(,"category":"promotional","priority":10,"expires_at_ms":)" + std::to_string(now + 4 * day_ms) +
                         R"(,"reason":"launch promotion","operator":"growth")");
      !s.is_ok()) {
    return s;
  }
  // Usage on earlier days, by two members and two models.
  const struct { const char* key; int64_t days_ago; const char* member; const char* model; int64_t cost; } calls[] = {
      {"call-1", 4, "bob", "claude-sonnet", 30 * cr},  {"call-2", 3, "carol", "gpt-5", 12 * cr + 500'000},
      {"call-3", 2, "carol", "claude-sonnet", 8 * cr}, {"call-4", 1, "bob", "gpt-5", 6 * cr + 250'000}};
  for (const auto& c : calls) {
    if (Status s = t.usage(c.key, now - c.days_ago * day_ms, c.member, c.model, c.cost); !s.is_ok()) return s;
  }
  // Auto-recharge just under the balance, and a limit bob is about to pass.
  if (Status s = t.call("PUT", "/api/v1/org/acme/credits/auto-refill?wait=1", tokens.owner,
                        R"({"threshold_micros":25230000000,"refill_bundles":1,"max_per_day":2,"max_per_month":5})", 200)
                     .status();
      !s.is_ok()) {
    return s;
  }
  if (Status s = t.call("PUT", "/api/v1/org/acme/credits/member-limits/bob?wait=1", tokens.owner,
                        R"({"monthly_limit_micros":10000000})", 200)
                     .status();
      !s.is_ok()) {
    return s;
  }
  // Today's call takes the balance under the threshold (a recharge is requested) and bob over his limit.
  if (Status s = t.usage("call-5", now_ms(), "bob", "claude-sonnet", 20 * cr); !s.is_ok()) return s;
  if (Status s = payments.land_refill ? payments.land_refill() : append_refill(t); !s.is_ok()) return s;
  // A call in flight: carol's agent holds 2.5 credits for an hour (SPEC §11).
  return t.call("POST", "/api/v1/org/acme/credits/holds", tokens.owner,
                R"({"idempotency_key":"hold-1","member_id":"carol","amount_micros":2500000,"ttl_ms":3600000})", 201)
      .status();
}

}  // namespace tally::api::testing
