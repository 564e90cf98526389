// Buying credits and who pays per workspace over HTTP (SPEC §14), with a fake payment provider
// (the Stripe side is node/'s billing story test): price, checkout (the org's customer made once
// and remembered by an event), payment method, auto-refill in bundles with its counters, the
// enterprise rule, and workspace billing with usage landing on the right path.
#include <boost/test/unit_test.hpp>

#include <chrono>

#include <boost/json.hpp>

#include "api/testing/fake_payments.h"
#include "api/testing/http_test.h"

using namespace tally;
using namespace tally::api;
using namespace tally::api::testing;
namespace json = boost::json;

namespace {

constexpr int64_t cr = 1'000'000;
const std::string urls = R"("success_url":"https://p.example/billing?paid=1","cancel_url":"https://p.example/billing")";

struct Fixture : StackClient {
  std::shared_ptr<FakePayments> payments = std::make_shared<FakePayments>();

  explicit Fixture(bool with_commerce = true) {
    ApiStackOptions options;
    options.tokens = {admin_caller(), owner_caller()};
    if (with_commerce) options.commerce = fake_commerce(payments);
    start(options);
  }
  HttpReply call(std::string_view method, const std::string& target, const std::string& body = {},
                 std::string_view token = owner_token) {
    return client->send(method, target, token, body);
  }
  // An admin event, waited for.
  void event(const std::string& type, const std::string& key, const std::string& org, const std::string& fields) {
    const std::string body = R"({"type":")" + type + R"(","idempotency_key":")" + key + R"(","org_id":")" + org +
                             R"(","occurred_at_ms":)" + std::to_string(now_ms() - 1000) + "," + fields + "}";
    HttpReply reply = call("POST", "/api/v1/events?wait=1", body, admin_token);
    BOOST_REQUIRE_MESSAGE(reply.status == 200, reply.body);
  }
};

}  // namespace

BOOST_AUTO_TEST_CASE(the_price_is_the_bundle_its_fee_and_a_quote) {
  Fixture f;
  HttpReply price = f.call("GET", "/api/v1/org/acme/credits/price");
  BOOST_REQUIRE_MESSAGE(price.status == 200, price.body);
  const json::value p = price.json();
  BOOST_TEST(p.at("price_id").as_string() == "price_fake_bundle");
  BOOST_TEST(p.at("currency").as_string() == "usd");
  BOOST_TEST(p.at("bundle").at("credits_micros").as_int64() == 100 * cr);
  BOOST_TEST(p.at("bundle").at("unit_amount_minor").as_int64() == 10'000);
  BOOST_TEST(p.at("quantity").at("max").as_int64() == 10);
  BOOST_TEST(p.at("platform_fee").at("percent_bp").as_int64() == 290);
  BOOST_TEST(p.at("platform_fee").at("fixed_minor").as_int64() == 30);
  BOOST_TEST(p.at("quote").at("total_minor").as_int64() == 10'320);  // 10000 + 290 + 30
  HttpReply three = f.call("GET", "/api/v1/org/acme/credits/price?quantity=3");
  BOOST_TEST(three.json().at("quote").at("credits_micros").as_int64() == 300 * cr);
  BOOST_TEST(three.json().at("quote").at("fee_minor").as_int64() == 900);
  HttpReply eleven = f.call("GET", "/api/v1/org/acme/credits/price?quantity=11");
  BOOST_TEST(eleven.status == 400);
  BOOST_TEST(field_of(eleven) == "quantity");
  Fixture bare(false);
  HttpReply none = bare.call("GET", "/api/v1/org/acme/credits/price");
  BOOST_TEST(none.status == 503);
  BOOST_TEST(code_of(none) == "payments_not_configured");
}

BOOST_AUTO_TEST_CASE(checkout_makes_the_orgs_customer_once_and_remembers_it_in_the_ledger) {
  Fixture f;
  HttpReply first = f.call("POST", "/api/v1/org/acme/credits/checkout", "{" + urls + "}");
  BOOST_REQUIRE_MESSAGE(first.status == 200, first.body);
  const json::value c = first.json();
  BOOST_TEST(c.at("checkout_url").as_string() == "https://checkout.example/cs_fake1");
  BOOST_TEST(c.at("session_id").as_string() == "cs_fake1");
  BOOST_TEST(c.at("quantity").as_int64() == 1);
  BOOST_TEST(c.at("credits_micros").as_int64() == 100 * cr);
  BOOST_TEST(c.at("total_minor").as_int64() == 10'320);
  const std::string customer(c.at("payment_customer").as_string());
  // The link is an event of the org's history.
  HttpReply linked = f.call("GET", "/api/v1/org/acme/credits/transactions?type=payment_customer_linked");
  BOOST_REQUIRE_EQUAL(linked.json().at("transactions").as_array().size(), 1u);
  BOOST_TEST(linked.json().at("transactions").at(0).at("payment_ref").as_string() == customer);

  HttpReply second = f.call("POST", "/api/v1/org/acme/credits/checkout", R"({"quantity":3,)" + urls + "}");
  BOOST_REQUIRE_MESSAGE(second.status == 200, second.body);
  BOOST_TEST(second.json().at("payment_customer").as_string() == customer);
  BOOST_TEST(f.payments->customer_orgs().size() == 1u);  // made once
  const std::vector<CheckoutOrder> orders = f.payments->checkout_orders();
  BOOST_REQUIRE_EQUAL(orders.size(), 2u);
  const CheckoutOrder& order = orders[1];
  BOOST_TEST(order.customer == customer);
  BOOST_TEST(order.price_id == "price_fake_bundle");
  BOOST_TEST(order.quote.bundles == 3);
  BOOST_TEST(order.quote.fee_minor == 900);
  BOOST_TEST(order.success_url == "https://p.example/billing?paid=1");
  const std::map<std::string, std::string> metadata(order.metadata.begin(), order.metadata.end());
  BOOST_TEST(metadata.at("org_id") == "acme");
  BOOST_TEST(metadata.at("bundles") == "3");
  BOOST_TEST(metadata.at("credits_micros") == "300000000");
  BOOST_TEST(metadata.at("fee_minor") == "900");
  BOOST_TEST(metadata.at("paid_minor") == "30000");
  BOOST_TEST(order.idempotency_key != orders[0].idempotency_key);  // two clicks, two sessions

  // A client's Idempotency-Key makes its retries one session at Stripe (the same key), however long.
  const std::string long_key(255, 'k');
  for (int retry = 0; retry < 2; ++retry) {
    HttpReply again = f.client->send("POST", "/api/v1/org/acme/credits/checkout", owner_token, "{" + urls + "}",
                                     {{"Idempotency-Key", long_key}});
    BOOST_REQUIRE_MESSAGE(again.status == 200, again.body);
  }
  const std::vector<CheckoutOrder> retried = f.payments->checkout_orders();
  BOOST_REQUIRE_EQUAL(retried.size(), 4u);
  BOOST_TEST(retried[2].idempotency_key == retried[3].idempotency_key);
  BOOST_TEST(retried[2].idempotency_key.size() <= 255u);
}

BOOST_AUTO_TEST_CASE(checkout_refuses_bad_input_and_says_what_the_provider_did) {
  Fixture f;
  const auto checkout = [&](const std::string& body) { return f.call("POST", "/api/v1/org/acme/credits/checkout", body); };
  HttpReply zero = checkout(R"({"quantity":0,)" + urls + "}");
  BOOST_TEST(zero.status == 400);
  BOOST_TEST(field_of(zero) == "quantity");
  BOOST_TEST(field_of(checkout(R"({"quantity":11,)" + urls + "}")) == "quantity");
  BOOST_TEST(field_of(checkout(R"x({"success_url":"javascript:alert(1)","cancel_url":"https://p.example"})x")) == "success_url");
  BOOST_TEST(field_of(checkout(R"({"success_url":"https://p.example"})")) == "cancel_url");
  BOOST_TEST(field_of(checkout(R"({"qty":1,)" + urls + "}")) == "qty");
  f.payments->fail_with(Status::error(Status::Code::unavailable, "timed out"));
  HttpReply down = checkout("{" + urls + "}");
  BOOST_TEST(down.status == 503);
  BOOST_TEST(code_of(down) == "payment_provider_unavailable");
  f.payments->fail_with(Status::invalid("stripe", "No such price"));
  HttpReply refused = checkout("{" + urls + "}");
  BOOST_TEST(refused.status == 502);
  BOOST_TEST(code_of(refused) == "payment_provider_error");
  BOOST_TEST(f.payments->checkout_orders().empty());
}

BOOST_AUTO_TEST_CASE(the_payment_method_is_the_saved_card_of_the_orgs_customer) {
  Fixture f;
  f.event("signup_allocation", "signup", "acme", R"("credits_micros":1000000)");
  HttpReply none = f.call("GET", "/api/v1/org/acme/credits/payment-method");
  BOOST_TEST(none.status == 404);
  BOOST_TEST(code_of(none) == "no_payment_method");
  HttpReply checkout = f.call("POST", "/api/v1/org/acme/credits/checkout", "{" + urls + "}");
  const std::string customer(checkout.json().at("payment_customer").as_string());
  BOOST_TEST(f.call("GET", "/api/v1/org/acme/credits/payment-method").status == 404);  // not paid yet
  f.payments->save_card(customer, PaymentCard{"pm_9", "mastercard", "4444", 12, 2031});
  HttpReply card = f.call("GET", "/api/v1/org/acme/credits/payment-method");
  BOOST_REQUIRE_MESSAGE(card.status == 200, card.body);
  BOOST_TEST(card.json().at("brand").as_string() == "mastercard");
  BOOST_TEST(card.json().at("last4").as_string() == "4444");
  BOOST_TEST(card.json().at("exp_month").as_int64() == 12);
  BOOST_TEST(card.json().at("exp_year").as_int64() == 2031);
}

BOOST_AUTO_TEST_CASE(auto_refill_in_bundles_shows_the_refills_used_against_the_caps) {
  Fixture f;
  f.event("signup_allocation", "signup", "acme", R"("credits_micros":10000000)");  // 10 credits
  BOOST_REQUIRE(f.call("POST", "/api/v1/org/acme/credits/checkout", "{" + urls + "}").status == 200);
  HttpReply both = f.call("PUT", "/api/v1/org/acme/credits/auto-refill",
                          R"({"threshold_micros":20000000,"refill_bundles":2,"refill_credits_micros":1})");
  BOOST_TEST(field_of(both) == "refill_bundles");
  BOOST_TEST(field_of(f.call("PUT", "/api/v1/org/acme/credits/auto-refill",
                            R"({"threshold_micros":20000000,"refill_bundles":11})")) == "refill_bundles");
  // Below the threshold at once: one refill request is made (and stays pending: no connector here).
  HttpReply put = f.call("PUT", "/api/v1/org/acme/credits/auto-refill?wait=1",
                         R"({"threshold_micros":20000000,"refill_bundles":2,"max_per_day":3,"max_per_month":20})");
  BOOST_REQUIRE_MESSAGE(put.status == 200, put.body);
  const json::value refill = f.call("GET", "/api/v1/org/acme/credits/auto-refill").json();
  BOOST_TEST(refill.at("refill_bundles").as_int64() == 2);
  BOOST_TEST(refill.at("refill_credits_micros").as_int64() == 200 * cr);
  BOOST_TEST(refill.at("charged_customer").as_string() == "cus_fake1");  // the card saved at checkout
  BOOST_TEST(refill.at("refill_pending").as_bool());
  BOOST_TEST(refill.at("refills_used_today").as_int64() == 1);
  BOOST_TEST(refill.at("refills_used_this_month").as_int64() == 1);
  BOOST_TEST(refill.at("refills_status").as_string() == "1 of 20 auto-refills used this month");
}

BOOST_AUTO_TEST_CASE(enterprise_orgs_are_unlimited_and_buy_nothing) {
  Fixture f;
  f.event("org_opened", "open", "acme", R"("plan":"enterprise","billing_mode":"credits")");
  BOOST_TEST(f.call("GET", "/api/v1/org/acme/credits").json().at("unlimited").as_bool());
  for (const auto& [method, target, body] :
       std::vector<std::tuple<std::string, std::string, std::string>>{
           {"GET", "/api/v1/org/acme/credits/price", ""},
           {"POST", "/api/v1/org/acme/credits/checkout", "{" + urls + "}"},
           {"GET", "/api/v1/org/acme/credits/auto-refill", ""},
           {"PUT", "/api/v1/org/acme/credits/auto-refill", R"({"threshold_micros":1,"refill_credits_micros":1})"},
           {"DELETE", "/api/v1/org/acme/credits/auto-refill", ""}}) {
    HttpReply reply = f.call(method, target, body);
    BOOST_TEST(reply.status == 409, method << " " << target << ": " << reply.body);
    BOOST_TEST(code_of(reply) == "credits_unavailable");
  }
  BOOST_TEST(f.payments->customer_orgs().empty());
  f.event("signup_allocation", "pro-signup", "globex", R"("credits_micros":1)");
  BOOST_TEST(!f.call("GET", "/api/v1/org/globex/credits", "", admin_token).json().at("unlimited").as_bool());
}

BOOST_AUTO_TEST_CASE(workspace_billing_decides_who_pays_for_usage_without_a_path) {
  Fixture f;
  f.event("org_opened", "open", "acme", R"("plan":"pro","billing_mode":"credits")");
  f.event("signup_allocation", "signup", "acme", R"("credits_micros":100000000)");
  BOOST_REQUIRE(f.call("PUT", "/api/v1/org/acme/workspaces/w2/billing?wait=1", R"({"billing_path":"byok"})").status == 200);
  HttpReply office = f.call("PUT", "/api/v1/org/acme/workspaces/w2/billing?wait=1", R"({"billing_path":"credits","project":"o1"})");
  BOOST_REQUIRE_MESSAGE(office.status == 200, office.body);
  BOOST_TEST(office.json().at("workspace_billing").at("effective").at("from").as_string() == "project");
  const json::value w2 = f.call("GET", "/api/v1/org/acme/workspaces/w2/billing?project=o9").json();
  BOOST_TEST(w2.at("billing_path").as_string() == "byok");
  BOOST_TEST(w2.at("projects").at(0).at("project").as_string() == "o1");
  BOOST_TEST(w2.at("effective").at("billing_path").as_string() == "byok");
  BOOST_TEST(w2.at("effective").at("from").as_string() == "workspace");
  BOOST_TEST(f.call("GET", "/api/v1/org/acme/workspaces/w1/billing").json().at("effective").at("from").as_string() == "org");

  // Usage without a path (reported costs bill at 1× before any rate card), and one with a path.
  const auto use = [&](const std::string& key, const std::string& ws, const std::string& project, const std::string& path) {
    f.event("usage", key, "acme",
            R"("workspace":")" + ws + R"(","project":")" + project + R"(","meter":"llm_tokens","reported_cost_micros":1000000)" +
                (path.empty() ? "" : R"(,"billing_path":")" + path + "\""));
  };
  use("u-w1", "w1", "", "");
  use("u-w2", "w2", "o2", "");
  use("u-o1", "w2", "o1", "");
  use("u-explicit", "w2", "o1", "byok");
  std::map<std::string, std::string> paths;
  const json::value usage = f.call("GET", "/api/v1/org/acme/credits/transactions?type=usage").json();
  for (const json::value& t : usage.at("transactions").as_array()) {
    paths[std::string(t.at("idempotency_key").as_string())] = std::string(t.at("billing_path").as_string());
  }
  const std::map<std::string, std::string> expected = {
      {"u-w1", "credits"}, {"u-w2", "byok"}, {"u-o1", "credits"}, {"u-explicit", "byok"}};
  BOOST_TEST(paths == expected);
  BOOST_TEST(f.call("GET", "/api/v1/org/acme/credits").json().at("balance_micros").as_int64() == 98 * cr);
  const json::value by_path = f.call("GET", "/api/v1/org/acme/usage?group_by=billing_path").json();
  BOOST_TEST(by_path.at("groups").as_array().size() == 2u);

  HttpReply cleared = f.call("DELETE", "/api/v1/org/acme/workspaces/w2/billing?project=o1&wait=1");
  BOOST_REQUIRE_MESSAGE(cleared.status == 200, cleared.body);
  BOOST_TEST(cleared.json().at("workspace_billing").at("projects").as_array().empty());
  BOOST_TEST(field_of(f.call("PUT", "/api/v1/org/acme/workspaces/w2/billing", R"({"billing_path":"deferred"})")) == "billing_path");
  BOOST_TEST(field_of(f.call("PUT", "/api/v1/org/acme/workspaces/w2/billing?project=a", R"({"billing_path":"byok","project":"b"})")) ==
             "project");
}
