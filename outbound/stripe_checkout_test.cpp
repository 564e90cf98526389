// The Stripe calls for buying credits (SPEC §14) against a local server answering with Stripe's
// published example objects, which checks method, path, every form parameter against Stripe's
// documented ones, the Idempotency-Key and the key (outbound/testing/stripe_fixtures.h). Prices
// are also checked against the emulator, which has them.
#include <boost/test/unit_test.hpp>

#include <map>
#include <memory>
#include <ostream>
#include <string>

#include "outbound/stripe_client.h"
#include "outbound/testing/stripe_emulator.h"
#include "outbound/testing/stripe_fixtures.h"
#include "outbound/testing/stripe_test.h"

using namespace tally;
using namespace tally::connectors;
using tally::connectors::testing::StripeCall;
using tally::connectors::testing::StripeEmulator;
using tally::connectors::testing::StripeFixtureServer;
using tally::connectors::testing::start_local_stripe;

namespace {

struct Fixture {
  std::unique_ptr<StripeFixtureServer> stripe;
  std::unique_ptr<StripeClient> client;

  Fixture() {
    stripe = start_local_stripe();
    StripeConfig config = stripe->client_config();
    config.retry.attempts_max = 2;
    client = std::make_unique<StripeClient>(config, [](int64_t) {});
  }
  ~Fixture() {
    // Whatever a test did, Tally never sent a request Stripe would refuse for its form.
    for (const std::string& violation : stripe->violations()) BOOST_ERROR("request refused: " << violation);
  }

  std::string customer(const std::string& org) {
    Result<std::string> id = client->create_org_customer(org, "tally-customer:" + org);
    BOOST_REQUIRE_MESSAGE(id.is_ok(), id.status().to_string());
    return id.value();
  }

  CheckoutRequest checkout(const std::string& customer, const std::string& price) {
    CheckoutRequest r;
    r.customer = customer;
    r.client_reference_id = "acme";
    r.line_items = {{price, "", 0, "", 3}, {"", "Platform fee", 900, "usd", 1}};
    r.success_url = "https://platform.example/billing?paid=1";
    r.cancel_url = "https://platform.example/billing";
    r.metadata = {{"org_id", "acme"}, {"bundles", "3"}, {"credits_micros", "300000000"}};
    r.idempotency_key = "tally-checkout:acme:1";
    return r;
  }
};

std::map<std::string, std::string> params_of(const StripeCall& call) {
  return std::map<std::string, std::string>(call.params.begin(), call.params.end());
}

}  // namespace

BOOST_AUTO_TEST_CASE(a_customer_is_created_once_per_key_with_the_org_in_its_metadata) {
  Fixture f;
  const std::string first = f.customer("acme");
  const std::string again = f.customer("acme");
  BOOST_TEST(first == again);  // replayed under the same Idempotency-Key
  BOOST_TEST(first.starts_with("cus_"));
  const auto posts = f.stripe->calls_to("POST", "/v1/customers");
  BOOST_REQUIRE_EQUAL(posts.size(), 2u);
  BOOST_TEST(posts[0].idempotency_key == "tally-customer:acme");
  BOOST_TEST(posts[0].param("metadata[org_id]") == "acme");
  BOOST_TEST(posts[0].param("description") == "Tally org acme");
}

BOOST_AUTO_TEST_CASE(a_checkout_session_sends_exactly_the_documented_parameters) {
  Fixture f;
  const std::string price = f.stripe->add_price("prod_credits", 10'000, "usd");
  const std::string customer = f.customer("acme");
  Result<CheckoutSession> session = f.client->create_checkout_session(f.checkout(customer, price));
  BOOST_REQUIRE_MESSAGE(session.is_ok(), session.status().to_string());
  BOOST_TEST(session->id.starts_with("cs_test_"));
  BOOST_TEST(session->url == "https://checkout.stripe.com/c/pay/" + session->id);

  const auto posts = f.stripe->calls_to("POST", "/v1/checkout/sessions");
  BOOST_REQUIRE_EQUAL(posts.size(), 1u);
  BOOST_TEST(posts[0].idempotency_key == "tally-checkout:acme:1");
  const std::map<std::string, std::string> expected = {
      {"mode", "payment"},
      {"customer", customer},
      {"client_reference_id", "acme"},
      {"line_items[0][price]", price},
      {"line_items[0][quantity]", "3"},
      {"line_items[1][price_data][currency]", "usd"},
      {"line_items[1][price_data][unit_amount]", "900"},
      {"line_items[1][price_data][product_data][name]", "Platform fee"},
      {"line_items[1][quantity]", "1"},
      {"success_url", "https://platform.example/billing?paid=1"},
      {"cancel_url", "https://platform.example/billing"},
      {"payment_intent_data[setup_future_usage]", "off_session"},
      {"metadata[org_id]", "acme"},
      {"metadata[bundles]", "3"},
      {"metadata[credits_micros]", "300000000"},
  };
  BOOST_TEST(params_of(posts[0]) == expected);
}

BOOST_AUTO_TEST_CASE(the_saved_card_appears_once_the_customer_paid) {
  Fixture f;
  const std::string price = f.stripe->add_price("prod_credits", 10'000, "usd");
  const std::string customer = f.customer("acme");
  Result<std::optional<SavedCard>> before = f.client->saved_card(customer);
  BOOST_REQUIRE_MESSAGE(before.is_ok(), before.status().to_string());
  BOOST_TEST(!before->has_value());

  Result<CheckoutSession> session = f.client->create_checkout_session(f.checkout(customer, price));
  BOOST_REQUIRE(session.is_ok());
  BOOST_REQUIRE(f.stripe->complete_checkout(session->id, "evt_1", 1'700'000'000).is_ok());
  Result<std::optional<SavedCard>> card = f.client->saved_card(customer);
  BOOST_REQUIRE_MESSAGE(card.is_ok(), card.status().to_string());
  BOOST_REQUIRE(card->has_value());
  // The fixture's card: visa 4242, 8/2030.
  const SavedCard& saved = card->value();
  BOOST_TEST(saved.brand == "visa");
  BOOST_TEST(saved.last4 == "4242");
  BOOST_TEST(saved.exp_month == 8);
  BOOST_TEST(saved.exp_year == 2030);
  BOOST_TEST(saved.payment_method.starts_with("pm_"));
  // An unknown customer has no card (Stripe says 404), which is not an error.
  Result<std::optional<SavedCard>> nobody = f.client->saved_card("cus_nobody");
  BOOST_REQUIRE(nobody.is_ok());
  BOOST_TEST(!nobody->has_value());
  const auto lists = f.stripe->calls_to("GET", "/v1/payment_methods");
  BOOST_REQUIRE(!lists.empty());
  BOOST_TEST(lists.back().param("type") == "card");
  BOOST_TEST(lists.back().param("customer") == customer);
}

BOOST_AUTO_TEST_CASE(a_saved_card_is_paid_off_session_once_per_key) {
  Fixture f;
  const std::string price = f.stripe->add_price("prod_credits", 10'000, "usd");
  const std::string customer = f.customer("acme");
  Result<CheckoutSession> session = f.client->create_checkout_session(f.checkout(customer, price));
  BOOST_REQUIRE(session.is_ok() && f.stripe->complete_checkout(session->id, "evt_1", 1'700'000'000).is_ok());
  const SavedCard card = f.client->saved_card(customer).value().value();

  PaymentIntentRequest pay{customer, card.payment_method, 20'300, "usd", "tally-0123:0:5:recharge_requested:acme",
                           {{"org_id", "acme"}, {"purchase_key", "refill:0:5:recharge_requested:acme"}}, "Tally auto-refill"};
  Result<ChargeOutcome> paid = f.client->create_payment_intent(pay);
  BOOST_REQUIRE_MESSAGE(paid.is_ok(), paid.status().to_string());
  BOOST_TEST(paid->kind == ChargeOutcome::Kind::succeeded);
  BOOST_TEST(paid->payment_intent.starts_with("pi_"));
  BOOST_TEST(paid->charge_id.starts_with("ch_"));
  BOOST_TEST(paid->amount_minor == 20'300);
  Result<ChargeOutcome> again = f.client->create_payment_intent(pay);
  BOOST_REQUIRE(again.is_ok());
  BOOST_TEST(again->payment_intent == paid->payment_intent);
  BOOST_TEST(again->replayed);
  const auto posts = f.stripe->calls_to("POST", "/v1/payment_intents");
  BOOST_REQUIRE_EQUAL(posts.size(), 2u);
  BOOST_TEST(posts[0].param("off_session") == "true");
  BOOST_TEST(posts[0].param("confirm") == "true");
  BOOST_TEST(posts[0].param("payment_method") == card.payment_method);
  BOOST_TEST(posts[0].param("metadata[purchase_key]") == "refill:0:5:recharge_requested:acme");

  f.stripe->decline_next_payment("insufficient_funds");
  pay.idempotency_key = "tally-0123:0:9:recharge_requested:acme";
  Result<ChargeOutcome> declined = f.client->create_payment_intent(pay);
  BOOST_REQUIRE(declined.is_ok());
  BOOST_TEST(declined->kind == ChargeOutcome::Kind::declined);
  BOOST_TEST(declined->failure_code() == "insufficient_funds");
}

BOOST_AUTO_TEST_CASE(a_bundle_price_is_found_or_created_once) {
  Fixture f;
  Result<PriceInfo> created = f.client->find_or_create_price("prod_credits", 10'000, "usd", "tally-price:prod_credits:10000:usd");
  BOOST_REQUIRE_MESSAGE(created.is_ok(), created.status().to_string());
  Result<PriceInfo> found = f.client->find_or_create_price("prod_credits", 10'000, "usd", "tally-price:prod_credits:10000:usd");
  BOOST_REQUIRE(found.is_ok());
  BOOST_TEST(found->id == created->id);
  BOOST_TEST(f.stripe->calls_to("POST", "/v1/prices").size() == 1u);
  Result<PriceInfo> read = f.client->retrieve_price(created->id);
  BOOST_REQUIRE(read.is_ok());
  BOOST_TEST(read->unit_amount_minor == 10'000);
  BOOST_TEST(read->currency == "usd");
  BOOST_TEST(read->one_time);
  BOOST_TEST(!f.client->retrieve_price("price_unknown").is_ok());
}

BOOST_AUTO_TEST_CASE(the_emulator_agrees_on_prices) {
  auto emulator = StripeEmulator::start();
  BOOST_REQUIRE_MESSAGE(emulator.is_ok(), emulator.status().to_string());
  StripeConfig config;
  config.base_url = emulator.value()->base_url();
  config.api_key = StripeEmulator::api_key;
  StripeClient client(config, [](int64_t) {});
  Result<PriceInfo> created = client.find_or_create_price("prod_emulated", 2'500, "eur", "tally-price:emulated");
  BOOST_REQUIRE_MESSAGE(created.is_ok(), created.status().to_string());
  Result<PriceInfo> found = client.find_or_create_price("prod_emulated", 2'500, "eur", "tally-price:emulated-2");
  BOOST_REQUIRE(found.is_ok());
  BOOST_TEST(found->id == created->id);
  BOOST_TEST(client.retrieve_price(created->id).value().unit_amount_minor == 2'500);
}

BOOST_AUTO_TEST_CASE(bad_requests_are_refused_before_sending) {
  Fixture f;
  CheckoutRequest r = f.checkout("cus_x", "price_x");
  r.success_url.clear();
  BOOST_TEST(f.client->create_checkout_session(r).status().field() == "success_url");
  r = f.checkout("cus_x", "price_x");
  r.line_items[0].quantity = 0;
  BOOST_TEST(f.client->create_checkout_session(r).status().field() == "line_items[0][quantity]");
  r = f.checkout("cus_x", "price_x");
  r.metadata.push_back({"bad[key]", "x"});
  BOOST_TEST(f.client->create_checkout_session(r).status().field() == "metadata");
  BOOST_TEST(f.client->create_org_customer("acme", "").status().field() == "idempotency_key");
  BOOST_TEST(f.stripe->calls().empty());
}

BOOST_AUTO_TEST_CASE(stripe_refusals_are_errors_that_say_what_stripe_said) {
  Fixture f;
  const std::string customer = f.customer("acme");
  Result<CheckoutSession> unknown_price = f.client->create_checkout_session(f.checkout(customer, "price_missing"));
  BOOST_REQUIRE(!unknown_price.is_ok());
  BOOST_TEST(unknown_price.status().field() == "stripe");
  BOOST_TEST(unknown_price.status().message().find("No such price") != std::string::npos);
  StripeConfig config = f.stripe->client_config();
  config.api_key = "sk_test_wrong";
  StripeClient wrong_key(config, [](int64_t) {});
  BOOST_TEST(wrong_key.create_org_customer("acme", "k").status().message().find("Invalid API Key") != std::string::npos);
  f.stripe.reset();  // nothing to check: the wrong key was refused on purpose
  f.stripe = start_local_stripe();
}

// The checks of the local Stripe itself: what Stripe would refuse, it refuses (and records).
BOOST_AUTO_TEST_CASE(the_local_stripe_refuses_what_stripe_would) {
  const std::unique_ptr<StripeFixtureServer> server = start_local_stripe();
  StripeFixtureServer& stripe = *server;
  HttpClient http;
  const auto post = [&](const std::string& body, const std::string& key, const std::string& secret) {
    std::vector<HttpHeader> headers = {{"Authorization", "Bearer " + secret},
                                       {"Content-Type", "application/x-www-form-urlencoded"}};
    if (!key.empty()) headers.push_back({"Idempotency-Key", key});
    return http.post(stripe.base_url() + "/v1/checkout/sessions", headers, body).value();
  };
  const std::string good = "mode=payment&success_url=https%3A%2F%2Fx&line_items%5B0%5D%5Bquantity%5D=1";
  HttpResponse unknown = post(good + "&line_items%5B0%5D%5Bprize%5D=p", "k1", StripeFixtureServer::api_key);
  BOOST_TEST(unknown.status_code == 400);
  BOOST_TEST(unknown.body.find("Received unknown parameter: line_items[0][prize]") != std::string::npos);
  BOOST_TEST(post("mode=rent&success_url=x", "k2", StripeFixtureServer::api_key).status_code == 400);
  BOOST_TEST(post("success_url=x", "k3", StripeFixtureServer::api_key).status_code == 400);  // mode is required
  BOOST_TEST(post(good, "", StripeFixtureServer::api_key).status_code == 400);               // no Idempotency-Key
  BOOST_TEST(post(good, "k4", "sk_test_other").status_code == 401);
  BOOST_TEST(post(good + "&line_items%5B0%5D%5Bquantity%5D=0", "k5", StripeFixtureServer::api_key).status_code == 400);
  BOOST_TEST(stripe.violations().size() == 6u);
  // A good request goes through, and its key replays it.
  HttpResponse created = post(good, "k6", StripeFixtureServer::api_key);
  BOOST_TEST(created.status_code == 200);
  HttpResponse replayed = post(good, "k6", StripeFixtureServer::api_key);
  BOOST_TEST(replayed.body == created.body);
  BOOST_TEST(post(good + "&metadata%5Ba%5D=b", "k6", StripeFixtureServer::api_key).status_code == 400);
}
