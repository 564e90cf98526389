// The ingest routes through a Node's HTTP server: the LiteLLM usage callback (bearer secret, the
// fixture payload posted twice bills once) and Stripe webhooks (signature verified against the raw
// body within 300 s both ways; unknown types acknowledged and ignored).
#include <boost/test/unit_test.hpp>

#include <memory>
#include <string>

#include <boost/json.hpp>

#include "ingest/ingest_routes.h"
#include "ingest/stripe_signature.h"
#include "ingest/test_util.h"
#include "node/node.h"
#include "node/testing/node_test.h"
#include "outbound/http_client.h"
#include "relay/testing/relay_harness.h"

using namespace tally;
using namespace tally::connectors;
using namespace tally::connectors::testing;
using tally::connectors::test::read_testdata;
using tally::connectors::test::replace_once;

namespace {

constexpr const char* litellm_secret = "litellm-callback-secret-0123";
constexpr const char* stripe_secret = "whsec_test_tally_0123456789";
constexpr int64_t now_s = 1'732'300'100;  // the shell's clock, fixed for the tolerance checks

struct IngestNode {
  TempDir dir;
  std::unique_ptr<Node> node;
  HttpClient http;

  IngestNode() {
    NodeOptions options = test_node_options(dir.path());
    IngestOptions ingest;
    LitellmIngestOptions litellm;
    litellm.secret = litellm_secret;
    litellm.mapping.team_id_as_org = true;
    ingest.litellm = litellm;
    StripeIngestOptions stripe;
    stripe.webhook_secret = stripe_secret;
    ingest.stripe = stripe;
    ingest.now_s = [] { return now_s; };
    options.ingest = ingest;
    node = start_test_node(options);
  }

  HttpResponse post(std::string_view path, std::vector<HttpHeader> headers, const std::string& body) {
    auto response = http.post("http://127.0.0.1:" + std::to_string(node->port()) + std::string(path), std::move(headers), body);
    BOOST_REQUIRE_MESSAGE(response.is_ok(), response.status().to_string());
    return response.value();
  }

  HttpResponse litellm(const std::string& body, const std::string& secret) {
    std::vector<HttpHeader> headers = {{"Content-Type", "application/json"}};
    if (!secret.empty()) headers.push_back({"Authorization", "Bearer " + secret});
    return post(std::string(litellm_usage_route) + "?wait=1", std::move(headers), body);
  }

  HttpResponse stripe(const std::string& body, const std::string& signature) {
    std::vector<HttpHeader> headers = {{"Content-Type", "application/json"}};
    if (!signature.empty()) headers.push_back({"Stripe-Signature", signature});
    return post(std::string(stripe_webhook_route) + "?wait=1", std::move(headers), body);
  }
};

boost::json::object json_of(const HttpResponse& response) { return boost::json::parse(response.body).as_object(); }

std::string first_outcome(const HttpResponse& response) {
  return std::string(json_of(response).at("events").as_array().at(0).as_object().at("outcome").as_string());
}

std::string error_code(const HttpResponse& response) {
  return std::string(json_of(response).at("error").as_object().at("code").as_string());
}

}  // namespace

BOOST_AUTO_TEST_CASE(litellm_callback_delivered_twice_bills_once) {
  IngestNode ingest;
  const std::string payload = read_testdata("litellm_payload.json");
  const HttpResponse first = ingest.litellm(payload, litellm_secret);
  BOOST_TEST(first.status_code == 200, first.body);
  BOOST_TEST(first_outcome(first) == "applied");
  const HttpResponse second = ingest.litellm(payload, litellm_secret);  // LiteLLM retried the callback
  BOOST_TEST(second.status_code == 200, second.body);
  BOOST_TEST(first_outcome(second) == "duplicate");

  ViewReader& views = *ingest.node->views();
  BOOST_TEST(count_history(views, "team-acme", "usage", Outcome::applied) == 1u);
  BOOST_TEST(count_history(views, "team-acme", "usage", Outcome::duplicate) == 1u);
  const auto state = org_state(views, "team-acme");
  BOOST_REQUIRE(state.has_value());
  BOOST_TEST(state->totals.used_micros == Micros{123});  // response_cost 0.000123456 USD, 1× before a rate card
}

BOOST_AUTO_TEST_CASE(litellm_callback_without_the_secret_is_401_and_records_nothing) {
  IngestNode ingest;
  const std::string payload = read_testdata("litellm_payload.json");
  const HttpResponse wrong = ingest.litellm(payload, "not-the-secret-at-all");
  BOOST_TEST(wrong.status_code == 401);
  BOOST_TEST(error_code(wrong) == "unauthorized");
  const HttpResponse missing = ingest.litellm(payload, "");
  BOOST_TEST(missing.status_code == 401);
  const HttpResponse prefix = ingest.litellm(payload, std::string(litellm_secret).substr(0, 10));
  BOOST_TEST(prefix.status_code == 401);
  BOOST_TEST(!org_state(*ingest.node->views(), "team-acme").has_value());

  const HttpResponse bad = ingest.litellm("{\"id\":\"x\"}", litellm_secret);
  BOOST_TEST(bad.status_code == 400);
  BOOST_TEST(error_code(bad) == "invalid_payload");
}

// The scheme of "Authorization: Bearer <secret>" is case-insensitive (RFC 9110 §11.1).
BOOST_AUTO_TEST_CASE(litellm_callback_takes_the_bearer_scheme_in_any_case) {
  IngestNode ingest;
  const std::string payload = read_testdata("litellm_payload.json");
  for (const char* scheme : {"bearer ", "BEARER ", "bEaReR "}) {
    const HttpResponse response = ingest.post(std::string(litellm_usage_route) + "?wait=1",
                                              {{"Content-Type", "application/json"},
                                               {"Authorization", scheme + std::string(litellm_secret)}},
                                              payload);
    BOOST_TEST(response.status_code == 200, scheme << ": " << response.body);
  }
}

BOOST_AUTO_TEST_CASE(stripe_checkout_with_a_valid_signature_is_a_purchase_once) {
  IngestNode ingest;
  const std::string body = read_testdata("stripe_checkout_session_completed.json");
  const std::string signature = sign_stripe_payload(body, stripe_secret, now_s);
  const HttpResponse first = ingest.stripe(body, signature);
  BOOST_TEST(first.status_code == 200, first.body);
  BOOST_TEST(first_outcome(first) == "applied");
  const HttpResponse resent = ingest.stripe(body, signature);  // Stripe resends the same event
  BOOST_TEST(first_outcome(resent) == "duplicate");
  const auto state = org_state(*ingest.node->views(), "acme-corp");
  BOOST_REQUIRE(state.has_value());
  BOOST_TEST(state->balance_micros == Micros{200 * micros});
}

BOOST_AUTO_TEST_CASE(a_dashboard_refund_of_a_checkout_purchase_is_found_by_its_payment_intent) {
  IngestNode ingest;
  const std::string checkout = read_testdata("stripe_checkout_session_completed.json");
  BOOST_TEST(first_outcome(ingest.stripe(checkout, sign_stripe_payload(checkout, stripe_secret, now_s))) == "applied");
  // The refund's charge carries no metadata (Checkout keeps it on the session); its payment
  // intent is the purchase's payment_ref.
  const std::string refund = replace_once(read_testdata("stripe_charge_refunded.json"), R"("metadata": {
        "org_id": "acme-corp",
        "purchase_key": "evt_1PqR7sLkdIwHu7ixA2bC3dE4",
        "credits_micros": "200000000",
        "fee_minor": "600"
      },)", R"("metadata": {},)");
  const HttpResponse refunded = ingest.stripe(refund, sign_stripe_payload(refund, stripe_secret, now_s));
  BOOST_TEST(refunded.status_code == 200, refunded.body);
  BOOST_TEST(first_outcome(refunded) == "applied");
  const auto state = org_state(*ingest.node->views(), "acme-corp");
  BOOST_REQUIRE(state.has_value());
  BOOST_TEST(state->balance_micros == Micros{100 * micros});  // 10000 of the 20000 credit part: half of 200
  const auto payment = ingest.node->views()->purchase_by_payment("pi_3PqR7rLkdIwHu7ix1AbCdEfG");
  BOOST_REQUIRE(payment.is_ok());
  BOOST_REQUIRE(payment->has_value());
  BOOST_TEST(payment.value()->refunded_micros == Micros{100 * micros});
}

BOOST_AUTO_TEST_CASE(stripe_webhooks_with_bad_signatures_are_refused) {
  IngestNode ingest;
  const std::string body = read_testdata("stripe_checkout_session_completed.json");
  const std::string tampered = replace_once(body, "\"credits_micros\": \"200000000\"", "\"credits_micros\": \"900000000\"");

  const HttpResponse altered = ingest.stripe(tampered, sign_stripe_payload(body, stripe_secret, now_s));
  BOOST_TEST(altered.status_code == 401);
  BOOST_TEST(error_code(altered) == "invalid_signature");
  const HttpResponse stale = ingest.stripe(body, sign_stripe_payload(body, stripe_secret, now_s - 301));
  BOOST_TEST(stale.status_code == 401);
  BOOST_TEST(json_of(stale).at("error").as_object().at("message").as_string() == "timestamp outside tolerance");
  const HttpResponse future = ingest.stripe(body, sign_stripe_payload(body, stripe_secret, now_s + 301));
  BOOST_TEST(future.status_code == 401);
  const HttpResponse wrong_secret = ingest.stripe(body, sign_stripe_payload(body, "whsec_someone_else", now_s));
  BOOST_TEST(wrong_secret.status_code == 401);
  const HttpResponse missing = ingest.stripe(body, "");
  BOOST_TEST(missing.status_code == 400);
  BOOST_TEST(error_code(missing) == "missing_signature");
  const HttpResponse malformed = ingest.stripe(body, "garbage");
  BOOST_TEST(malformed.status_code == 400);
  BOOST_TEST(error_code(malformed) == "malformed_signature");
  // Within tolerance on both sides is fine.
  const HttpResponse edge = ingest.stripe(body, sign_stripe_payload(body, stripe_secret, now_s - 300));
  BOOST_TEST(edge.status_code == 200, edge.body);

  BOOST_TEST(org_state(*ingest.node->views(), "acme-corp")->balance_micros == Micros{200 * micros});  // only the valid one
}

BOOST_AUTO_TEST_CASE(stripe_event_types_tally_does_not_consume_are_acknowledged_and_ignored) {
  IngestNode ingest;
  const std::string body = replace_once(read_testdata("stripe_checkout_session_completed.json"),
                                        "\"type\": \"checkout.session.completed\"", "\"type\": \"customer.created\"");
  const HttpResponse response = ingest.stripe(body, sign_stripe_payload(body, stripe_secret, now_s));
  BOOST_TEST(response.status_code == 200, response.body);
  BOOST_TEST(json_of(response).at("ignored").as_bool());
  BOOST_TEST(!org_state(*ingest.node->views(), "acme-corp").has_value());
}
