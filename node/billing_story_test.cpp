// Seed 002's billing page, end to end through a Node (journal, projector, emitter, recharge, the
// HTTP API with the Stripe webhook route and checkout) against a local Stripe answering with
// Stripe's published example objects (outbound/testing/stripe_fixtures.h), which checks every
// request Tally sends:
//   price → checkout (quantity 1) → signed checkout.session.completed → 100 credits, fee recorded
//   → the saved card (brand, last 4, expiry) → auto-refill in bundles charges that card off-session
//   when usage takes the balance under the threshold.
#include <boost/test/unit_test.hpp>

#include <map>
#include <memory>
#include <string>

#include <boost/json.hpp>

#include "api/testing/api_stack.h"
#include "ingest/ingest_routes.h"
#include "ingest/stripe_signature.h"
#include "node/node.h"
#include "node/testing/node_test.h"
#include "outbound/http_client.h"
#include "outbound/testing/stripe_fixtures.h"
#include "outbound/testing/stripe_test.h"
#include "relay/testing/relay_harness.h"

using namespace tally;
using namespace tally::connectors;
using namespace tally::connectors::testing;
namespace json = boost::json;

namespace {

constexpr const char* admin_token = "admin-token-0000000000000001";
constexpr const char* owner_token = "agentceo-owner-token-0000001";
constexpr const char* webhook_secret = "whsec_test_tally_billing_story";
constexpr int64_t cr = 1'000'000;

struct BillingNode {
  std::unique_ptr<StripeFixtureServer> stripe;
  TempDir dir;
  std::unique_ptr<Node> node;
  HttpClient http;  // the webhook, as Stripe sends it
  std::unique_ptr<api::testing::HttpClient> api_client;

  BillingNode() {
    stripe = start_local_stripe();
    StripeConfig config = stripe->client_config();
    config.retry.backoff_ms_initial = 10;

    NodeOptions options = test_node_options(dir.path());
    options.tokens.push_back(node_token("admin", admin_token, "admin"));
    options.tokens.push_back(node_token("owner", owner_token, "org:agentceo"));
    // "Buy $100 credits": 100 credits a bundle, 10000 cents; the fee on top, 2.9% + 30 cents.
    CommerceSettings commerce;
    commerce.stripe = config;
    commerce.offer = BundleOffer{Micros{100 * cr}, 10'000, "usd", 290, 30};
    commerce.product_id = "prod_agentceo_credits";  // the price is made at start
    options.commerce = commerce;
    RechargeOptions recharge;
    recharge.stripe = config;
    recharge.credits_per_bundle_micros = 100 * cr;
    recharge.bundle_amount_minor = 10'000;
    recharge.platform_fee_bp = 290;
    recharge.platform_fee_minor = 30;
    options.recharge = recharge;
    IngestOptions ingest;
    StripeIngestOptions stripe_ingest;
    stripe_ingest.webhook_secret = webhook_secret;
    stripe_ingest.mapping.credits_per_bundle_micros = 100 * cr;
    ingest.stripe = stripe_ingest;
    options.ingest = ingest;
    node = start_test_node(options);
  }

  ~BillingNode() {
    api_client.reset();
    node.reset();
    for (const std::string& violation : stripe->violations()) BOOST_ERROR("Stripe would refuse: " << violation);
  }

  json::value call(const std::string& method, const std::string& target, const std::string& token,
                   const std::string& body = {}, int expected = 200) {
    if (!api_client) api_client = std::make_unique<api::testing::HttpClient>(node->port());
    const api::testing::HttpReply reply = api_client->send(method, target, token, body);
    BOOST_REQUIRE_MESSAGE(reply.status == expected, method << " " << target << ": " << reply.body);
    return json::parse(reply.body);
  }

  int64_t balance() { return call("GET", "/api/v1/org/agentceo/credits", owner_token).at("balance_micros").as_int64(); }
};

}  // namespace

BOOST_AUTO_TEST_CASE(seed_002_buy_100_credits_then_auto_refill_charges_the_saved_card) {
  BillingNode b;
  b.call("POST", "/api/v1/events?wait=1", admin_token,
         R"({"type":"org_opened","idempotency_key":"open","org_id":"agentceo","occurred_at_ms":)" +
             std::to_string(now_ms() - 1000) + R"(,"plan":"pro","billing_mode":"credits"})");

  // The billing page: the price of a bundle.
  const json::value price = b.call("GET", "/api/v1/org/agentceo/credits/price", owner_token);
  BOOST_TEST(price.at("bundle").at("credits_micros").as_int64() == 100 * cr);
  BOOST_TEST(price.at("quote").at("total_minor").as_int64() == 10'320);
  const std::string price_id(price.at("price_id").as_string());
  BOOST_TEST(b.stripe->calls_to("POST", "/v1/prices").size() == 1u);  // made at start from the product

  // "Buy $100 credits (redirects to Stripe checkout)".
  const json::value checkout = b.call(
      "POST", "/api/v1/org/agentceo/credits/checkout", owner_token,
      R"({"quantity":1,"success_url":"https://agent.ceo/billing?paid=1","cancel_url":"https://agent.ceo/billing"})");
  const std::string session_id(checkout.at("session_id").as_string());
  BOOST_TEST(checkout.at("checkout_url").as_string().starts_with("https://checkout.stripe.com/"));
  const auto sessions = b.stripe->calls_to("POST", "/v1/checkout/sessions");
  BOOST_REQUIRE_EQUAL(sessions.size(), 1u);
  const StripeCall& session = sessions[0];
  BOOST_TEST(session.param("mode") == "payment");
  BOOST_TEST(session.param("customer") == std::string(checkout.at("payment_customer").as_string()));
  BOOST_TEST(session.param("line_items[0][price]") == price_id);
  BOOST_TEST(session.param("line_items[0][quantity]") == "1");
  BOOST_TEST(session.param("line_items[1][price_data][unit_amount]") == "320");  // the fee, its own line
  BOOST_TEST(session.param("payment_intent_data[setup_future_usage]") == "off_session");
  BOOST_TEST(session.param("metadata[org_id]") == "agentceo");
  BOOST_TEST(session.param("metadata[bundles]") == "1");
  BOOST_TEST(session.param("metadata[credits_micros]") == "100000000");
  BOOST_TEST(!session.idempotency_key.empty());

  // The customer pays; Stripe sends the signed completion webhook.
  const int64_t now_s = now_ms() / 1000;
  const std::string event = b.stripe->complete_checkout(session_id, "evt_agentceo_checkout_1", now_s).value();
  HttpRequest webhook;
  webhook.url = "http://127.0.0.1:" + std::to_string(b.node->port()) + std::string(stripe_webhook_route) + "?wait=1";
  webhook.headers = {{"Content-Type", "application/json"},
                     {"Stripe-Signature", sign_stripe_payload(event, webhook_secret, now_s)}};
  webhook.body = event;
  auto delivered = b.http.send(webhook);
  BOOST_REQUIRE(delivered.is_ok());
  BOOST_REQUIRE_MESSAGE(delivered->status_code == 200, delivered->body);
  BOOST_TEST(b.balance() == 100 * cr);
  const json::value purchases = b.call("GET", "/api/v1/org/agentceo/credits/transactions?type=purchase", owner_token);
  const json::value& purchase = purchases.at("transactions").at(0);
  BOOST_TEST(purchase.at("paid_minor").as_int64() == 10'000);
  BOOST_TEST(purchase.at("fee_minor").as_int64() == 320);
  BOOST_TEST(purchase.at("idempotency_key").as_string() == "evt_agentceo_checkout_1");

  // "The saved payment method (brand, last 4 digits, and expiry)".
  const json::value card = b.call("GET", "/api/v1/org/agentceo/credits/payment-method", owner_token);
  BOOST_TEST(card.at("brand").as_string() == "visa");
  BOOST_TEST(card.at("last4").as_string() == "4242");
  BOOST_TEST(card.at("exp_month").as_int64() == 8);
  BOOST_TEST(card.at("exp_year").as_int64() == 2030);

  // Auto-refill in bundles: below 20 credits, one bundle.
  b.call("PUT", "/api/v1/org/agentceo/credits/auto-refill?wait=1", owner_token,
         R"({"threshold_micros":20000000,"refill_bundles":1,"max_per_month":5})");
  b.call("POST", "/api/v1/events?wait=1", admin_token,
         R"({"type":"usage","idempotency_key":"call-1","org_id":"agentceo","occurred_at_ms":)" + std::to_string(now_ms() - 500) +
             R"(,"member_id":"u1","meter":"llm_tokens","model":"claude","reported_cost_micros":85000000})");
  BOOST_REQUIRE_MESSAGE(wait_until([&] { return b.balance() == 115 * cr; }), "balance " << b.balance());

  const auto intents = b.stripe->calls_to("POST", "/v1/payment_intents");
  BOOST_REQUIRE_EQUAL(intents.size(), 1u);
  BOOST_TEST(intents[0].param("customer") == card.at("payment_customer").as_string());
  BOOST_TEST(intents[0].param("payment_method") == card.at("payment_method").as_string());
  BOOST_TEST(intents[0].param("amount") == "10320");
  BOOST_TEST(intents[0].param("off_session") == "true");
  BOOST_TEST(intents[0].param("confirm") == "true");
  BOOST_TEST(intents[0].idempotency_key.find(":recharge_requested:agentceo") != std::string::npos);
  const json::value refills = b.call("GET", "/api/v1/org/agentceo/credits/transactions?type=auto_refill", owner_token);
  const json::value& refill = refills.at("transactions").at(0);
  BOOST_TEST(refill.at("payment_ref").as_string().starts_with("pi_"));
  BOOST_TEST(refill.at("paid_minor").as_int64() == 10'000);
  BOOST_TEST(refill.at("fee_minor").as_int64() == 320);
  const json::value policy = b.call("GET", "/api/v1/org/agentceo/credits/auto-refill", owner_token);
  BOOST_TEST(policy.at("refills_used_this_month").as_int64() == 1);
  BOOST_TEST(policy.at("refills_status").as_string() == "1 of 5 auto-refills used this month");
  BOOST_TEST(b.stripe->calls_to("POST", "/v1/charges").empty());  // the saved card, not a source
}

BOOST_AUTO_TEST_CASE(a_declined_saved_card_pauses_refills_and_says_why) {
  BillingNode b;
  const std::string checkout = R"({"success_url":"https://agent.ceo/ok","cancel_url":"https://agent.ceo/no"})";
  const json::value started = b.call("POST", "/api/v1/org/agentceo/credits/checkout", owner_token, checkout);
  const int64_t now_s = now_ms() / 1000;
  const std::string event =
      b.stripe->complete_checkout(std::string(started.at("session_id").as_string()), "evt_decline_story", now_s).value();
  HttpRequest webhook;
  webhook.url = "http://127.0.0.1:" + std::to_string(b.node->port()) + std::string(stripe_webhook_route) + "?wait=1";
  webhook.headers = {{"Content-Type", "application/json"},
                     {"Stripe-Signature", sign_stripe_payload(event, webhook_secret, now_s)}};
  webhook.body = event;
  BOOST_REQUIRE(b.http.send(webhook)->status_code == 200);
  b.stripe->decline_next_payment("expired_card");
  b.call("PUT", "/api/v1/org/agentceo/credits/auto-refill?wait=1", owner_token,
         R"({"threshold_micros":200000000,"refill_bundles":1})");  // 100 < 200: a refill at once
  BOOST_REQUIRE(wait_until([&] {
    return !b.call("GET", "/api/v1/org/agentceo/credits/auto-refill", owner_token).at("enabled").as_bool();
  }));
  const json::value failed = b.call("GET", "/api/v1/org/agentceo/credits/transactions?type=payment_failed", owner_token);
  BOOST_TEST(failed.at("transactions").at(0).at("reason_text").as_string() == "expired_card");
  BOOST_TEST(b.balance() == 100 * cr);
}
