// The OpenAPI document (api/openapi.yaml, served at GET /openapi.json) against a node with every
// route (the built-in ones, the ingest routes, checkout over the local Stripe): every route the
// server knows is described, nothing else is, and real answers of every route — successes and
// errors — validate against the documented schemas. api/openapi_check.py does the checking
// (python3-jsonschema); this test makes the answers. A route added later fails this test until it
// is described and answered here.
#include <boost/test/unit_test.hpp>

#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include <boost/json.hpp>

#include "api/testing/api_stack.h"
#include "ingest/ingest_routes.h"
#include "ingest/stripe_signature.h"
#include "node/node.h"
#include "node/testing/node_test.h"
#include "outbound/testing/stripe_fixtures.h"
#include "outbound/testing/stripe_test.h"
#include "relay/testing/relay_harness.h"
#include "tests/support/text_file.h"

using namespace tally;
using namespace tally::connectors;
using namespace tally::connectors::testing;
namespace json = boost::json;

namespace {

constexpr const char* admin = "admin-token-0000000000000001";
constexpr const char* owner = "acme-owner-token-00000000001";
constexpr const char* reader = "acme-reader-token-0000000001";
constexpr const char* litellm_secret = "litellm-callback-secret-0123";
constexpr const char* webhook_secret = "whsec_test_tally_openapi";

std::string source_dir() {
  const char* dir = std::getenv("TALLY_SOURCE_DIR");
  BOOST_REQUIRE_MESSAGE(dir != nullptr, "TALLY_SOURCE_DIR is not set (run through ctest)");
  return dir;
}

std::string read_file(const std::string& path) { return test_support::read_text_file(path); }

struct Sampler {
  std::unique_ptr<StripeFixtureServer> stripe;
  TempDir dir;
  std::unique_ptr<Node> node;
  std::unique_ptr<api::testing::HttpClient> client;
  json::array samples;

  Sampler() {
    stripe = start_local_stripe();
    NodeOptions options = test_node_options(dir.path());
    options.tokens = {node_token("admin", admin, "admin"), node_token("acme", owner, "org:acme"),
                      node_token("reader", reader, "org:acme:read")};
    CommerceSettings commerce;
    commerce.stripe = stripe->client_config();
    commerce.offer = BundleOffer{Micros{100'000'000}, 10'000, "usd", 290, 30};
    commerce.price_id = stripe->add_price("prod_credits", 10'000, "usd");
    options.commerce = commerce;
    options.billing_link_secret = "openapi-billing-link-secret-0123";
    IngestOptions ingest;
    LitellmIngestOptions litellm;
    litellm.secret = litellm_secret;
    litellm.mapping.default_org = "acme";
    ingest.litellm = litellm;
    StripeIngestOptions stripe_ingest;
    stripe_ingest.webhook_secret = webhook_secret;
    ingest.stripe = stripe_ingest;
    options.ingest = ingest;
    node = start_test_node(options);
    client = std::make_unique<api::testing::HttpClient>(node->port());
  }

  // Sends a request and keeps its answer as a sample of `route` (the pattern the server matched).
  json::value call(const std::string& method, const std::string& route, const std::string& target, const char* token,
                   const std::string& body, int expected,
                   const std::vector<std::pair<std::string, std::string>>& headers = {}) {
    const api::testing::HttpReply reply = client->send(method, target, token == nullptr ? "" : token, body, headers);
    BOOST_TEST(reply.status == expected, method << " " << target << ": " << reply.body);
    samples.push_back(json::object{{"method", method}, {"route", route}, {"status", reply.status},
                                   {"content_type", reply.header("content-type")}, {"body", reply.body}});
    return reply.header("content-type").starts_with("application/json") ? json::parse(reply.body) : json::value();
  }

  std::string event(const std::string& type, const std::string& key, const std::string& fields) {
    return R"({"type":")" + type + R"(","idempotency_key":")" + key + R"(","org_id":"acme","occurred_at_ms":)" +
           std::to_string(now_ms() - 1000) + "," + fields + "}";
  }
};

// The billing page: a link, the page, its CSV, its forms (each a 303 back), a bad link.
void sample_billing_page(Sampler& s) {
  const json::value link = s.call("POST", "/api/v1/org/{org}/billing-links", "/api/v1/org/acme/billing-links", owner,
                                  R"({"minutes":5})", 200);
  s.call("POST", "/api/v1/org/{org}/billing-links", "/api/v1/org/acme/billing-links", owner, R"({"minutes":0})", 400);
  const std::string token(link.at("link").as_string());
  const std::vector<std::pair<std::string, std::string>> form = {{"Content-Type", "application/x-www-form-urlencoded"}};
  s.call("GET", "/billing/{org}", std::string(link.at("path").as_string()), nullptr, "", 200);
  s.call("GET", "/billing/{org}", "/billing/acme?link=v1.owner.1." + std::string(64, '0'), nullptr, "", 401);
  s.call("GET", "/billing/{org}/transactions.csv", "/billing/acme/transactions.csv?link=" + token, nullptr, "", 200);
  s.call("POST", "/billing/{org}/auto-refill", "/billing/acme/auto-refill?link=" + token, nullptr,
         "enabled=on&threshold=5&refill_bundles=1&max_per_day=1&max_per_month=3", 303, form);
  s.call("POST", "/billing/{org}/member-limits", "/billing/acme/member-limits?link=" + token, nullptr,
         "member_id=bob&action=set&monthly_limit=5", 303, form);
  s.call("POST", "/billing/{org}/member-limits", "/billing/acme/member-limits?link=" + token, nullptr,
         "member_id=bob&action=set&monthly_limit=five", 400, form);
  s.call("POST", "/billing/{org}/checkout", "/billing/acme/checkout?link=" + token, nullptr, "quantity=2", 303, form);
}

// Every route once with a success, and the errors a client meets.
void sample_every_route(Sampler& s) {
  const std::string org = "/api/v1/org/{org}";
  s.call("GET", "/healthz", "/healthz", nullptr, "", 200);
  s.call("GET", "/metrics", "/metrics", nullptr, "", 200);
  s.call("GET", "/openapi.json", "/openapi.json", nullptr, "", 200);
  s.call("POST", "/api/v1/events", "/api/v1/events?wait=1", admin, s.event("signup_allocation", "signup", R"("credits_micros":50000000)"), 200);
  s.call("POST", "/api/v1/events", "/api/v1/events", admin,
         "[" + s.event("usage", "u1", R"("workspace":"w2","project":"o1","meter":"llm_tokens","reported_cost_micros":1000)") + "]", 202);
  s.call("POST", "/api/v1/events", "/api/v1/events", admin, R"({"type":"teleport"})", 400);
  s.call("POST", "/api/v1/events", "/api/v1/events", reader, s.event("usage", "u2", R"("meter":"llm_tokens","reported_cost_micros":1)"), 403);
  s.call("POST", "/api/v1/events", "/api/v1/events", nullptr, "[]", 401);
  s.call("GET", org + "/credits", "/api/v1/org/acme/credits", reader, "", 200);
  s.call("GET", org + "/credits", "/api/v1/org/nobody/credits", admin, "", 404);
  s.call("GET", org + "/credits/transactions", "/api/v1/org/acme/credits/transactions?limit=2", owner, "", 200);
  s.call("GET", org + "/credits/transactions", "/api/v1/org/acme/credits/transactions?limit=0", owner, "", 400);
  s.call("PUT", org + "/credits/auto-refill", "/api/v1/org/acme/credits/auto-refill?wait=1", owner,
         R"({"threshold_micros":1000000,"refill_bundles":1,"max_per_month":3})", 200);
  s.call("PUT", org + "/credits/auto-refill", "/api/v1/org/acme/credits/auto-refill", owner, R"({"enabled":false})", 202);
  s.call("GET", org + "/credits/auto-refill", "/api/v1/org/acme/credits/auto-refill", owner, "", 200);
  s.call("DELETE", org + "/credits/auto-refill", "/api/v1/org/acme/credits/auto-refill?wait=1", owner, "", 200);
  s.call("PUT", org + "/credits/member-limits/{user_id}", "/api/v1/org/acme/credits/member-limits/bob?wait=1", owner,
         R"({"monthly_limit_micros":5000000})", 200);
  s.call("GET", org + "/credits/member-limits", "/api/v1/org/acme/credits/member-limits", reader, "", 200);
  s.call("DELETE", org + "/credits/member-limits/{user_id}", "/api/v1/org/acme/credits/member-limits/bob?wait=1", owner, "", 200);
  s.call("PUT", org + "/credits/member-limits/{user_id}", "/api/v1/org/acme/credits/member-limits/bob", reader, "{}", 403);
  s.call("GET", org + "/usage", "/api/v1/org/acme/usage?group_by=project", owner, "", 200);
  s.call("GET", org + "/usage", "/api/v1/org/acme/usage?group_by=team", owner, "", 400);
  s.call("PUT", org + "/workspaces/{ws}/billing", "/api/v1/org/acme/workspaces/w2/billing?wait=1", owner,
         R"({"billing_path":"byok","project":"o1"})", 200);
  s.call("GET", org + "/workspaces/{ws}/billing", "/api/v1/org/acme/workspaces/w2/billing?project=o1", reader, "", 200);
  s.call("DELETE", org + "/workspaces/{ws}/billing", "/api/v1/org/acme/workspaces/w2/billing?project=o1", owner, "", 202);
  // Holds (SPEC §11): granted, refused for funds, a bad field, listed, extended, released, released again.
  s.call("POST", org + "/credits/holds", "/api/v1/org/acme/credits/holds", owner,
         R"({"idempotency_key":"h-1","member_id":"u1","amount_micros":6000000,"ttl_ms":60000})", 201);
  s.call("POST", org + "/credits/holds", "/api/v1/org/acme/credits/holds", owner,
         R"({"idempotency_key":"h-2","amount_micros":900000000000,"ttl_ms":60000})", 402);
  s.call("POST", org + "/credits/holds", "/api/v1/org/acme/credits/holds", owner, R"({"amount_micros":1,"ttl_ms":5})", 400);
  s.call("GET", org + "/credits/holds", "/api/v1/org/acme/credits/holds?status=active", reader, "", 200);
  s.call("POST", org + "/credits/holds/{hold_id}/extend", "/api/v1/org/acme/credits/holds/h-1/extend", owner,
         R"({"add_micros":1000000,"ttl_ms":60000})", 200);
  s.call("POST", org + "/credits/holds/{hold_id}/release", "/api/v1/org/acme/credits/holds/h-1/release", owner, "", 200);
  s.call("POST", org + "/credits/holds/{hold_id}/release", "/api/v1/org/acme/credits/holds/h-1/release", owner, "", 422);
  // Grants (SPEC §12): granted with an expiry, a bad field, listed, voided in part, voided again.
  const std::string expiry = std::to_string(now_ms() + 30LL * 86'400'000);
  s.call("POST", org + "/credits/grants", "/api/v1/org/acme/credits/grants?wait=1", admin,
         R"({"credits_micros":5000000,"expires_at_ms":)" + expiry + R"(,"reason":"trial","operator":"ops"})", 200,
         {{"Idempotency-Key", "g-openapi"}});
  s.call("POST", org + "/credits/grants", "/api/v1/org/acme/credits/grants", admin,
         R"({"credits_micros":5,"priority":101,"reason":"trial","operator":"ops"})", 400);
  s.call("GET", org + "/credits/grants", "/api/v1/org/acme/credits/grants", reader, "", 200);
  s.call("POST", org + "/credits/grants/{grant_id}/void", "/api/v1/org/acme/credits/grants/g-openapi/void?wait=1", admin,
         R"({"credits_micros":1000000,"reason":"typo"})", 200);
  s.call("POST", org + "/credits/grants/{grant_id}/void", "/api/v1/org/acme/credits/grants/nope/void?wait=1", admin, "",
         422);
  s.call("POST", "/api/v1/events", "/api/v1/events?wait=1", admin,
         R"({"type":"rate_card_published","idempotency_key":"rc-openapi","occurred_at_ms":)" + std::to_string(now_ms() - 500) +
             R"(,"version":1,"markup_bp":15000,"sandbox_classes":[{"class":"standard","per_hour_micros":360000}]})",
         200);
  s.call("GET", org + "/credits/runway", "/api/v1/org/acme/credits/runway?sandbox_class=standard", reader, "", 200);
  s.call("GET", org + "/credits/runway", "/api/v1/org/acme/credits/runway?sandbox_class=nope", reader, "", 422);
  s.call("GET", org + "/credits/runway", "/api/v1/org/acme/credits/runway", reader, "", 400);
  s.call("GET", org + "/credits/price", "/api/v1/org/acme/credits/price?quantity=2", reader, "", 200);
  s.call("GET", org + "/credits/payment-method", "/api/v1/org/acme/credits/payment-method", reader, "", 404);
  const json::value checkout = s.call("POST", org + "/credits/checkout", "/api/v1/org/acme/credits/checkout", owner,
                                      R"({"success_url":"https://p.example/ok","cancel_url":"https://p.example/no"})", 200);
  const int64_t now_s = now_ms() / 1000;
  const std::string completed =
      s.stripe->complete_checkout(std::string(checkout.at("session_id").as_string()), "evt_openapi_1", now_s).value();
  s.call("POST", "/api/v1/webhooks/stripe", "/api/v1/webhooks/stripe?wait=1", nullptr, completed, 200,
         {{"Stripe-Signature", sign_stripe_payload(completed, webhook_secret, now_s)}});
  s.call("POST", "/api/v1/webhooks/stripe", "/api/v1/webhooks/stripe", nullptr, completed, 400);
  s.call("GET", org + "/credits/payment-method", "/api/v1/org/acme/credits/payment-method", reader, "", 200);
  sample_billing_page(s);
  const std::string litellm = read_file(source_dir() + "/ingest/testdata/litellm_payload.json");
  s.call("POST", "/api/v1/internal/litellm/usage", "/api/v1/internal/litellm/usage?wait=1", litellm_secret, litellm, 200);
  s.call("POST", "/api/v1/internal/litellm/usage", "/api/v1/internal/litellm/usage", "wrong-secret-0000000000", litellm, 401);
  // The enterprise rule.
  s.call("POST", "/api/v1/events", "/api/v1/events?wait=1", admin,
         R"({"type":"billing_mode_changed","idempotency_key":"to-enterprise","org_id":"acme","occurred_at_ms":)" +
             std::to_string(now_ms() - 500) + R"(,"plan":"enterprise"})", 200);
  s.call("GET", org + "/credits/price", "/api/v1/org/acme/credits/price", owner, "", 409);
  s.call("GET", org + "/credits", "/api/v1/org/acme/credits", owner, "", 200);
  // Outcomes with ?wait=1: a business rejection (422) and a reused key (409); then the reads that
  // show them.
  s.call("POST", "/api/v1/events", "/api/v1/events?wait=1", admin,
         s.event("refund", "refund-nothing", R"("purchase_key":"never-bought","credits_micros":1000000)"), 422);
  s.call("POST", "/api/v1/events", "/api/v1/events?wait=1", admin, s.event("signup_allocation", "signup", R"("credits_micros":7)"),
         409);
  s.call("GET", org + "/rejects", "/api/v1/org/acme/rejects?limit=10", reader, "", 200);
  s.call("GET", org + "/rejects", "/api/v1/org/acme/rejects?cursor=bad", reader, "", 400);
  s.call("GET", "/api/v1/rejects", "/api/v1/rejects", admin, "", 200);
  s.call("GET", "/api/v1/rejects", "/api/v1/rejects", reader, "", 403);
  s.call("GET", org + "/signals", "/api/v1/org/acme/signals?limit=5", reader, "", 200);
  s.call("GET", org + "/signals", "/api/v1/org/nobody/signals", admin, "", 404);
}

}  // namespace

BOOST_AUTO_TEST_CASE(every_route_is_described_and_every_answer_fits_its_description) {
  Sampler s;
  sample_every_route(s);
  TempDir out;
  std::ofstream routes(out.sub("routes.txt"));
  for (const api::HttpServer::RouteSummary& route : s.node->server()->routes()) {
    routes << api::method_name(route.method) << " " << route.pattern << "\n";
  }
  routes.close();
  std::ofstream samples(out.sub("samples.jsonl"));
  for (const json::value& sample : s.samples) samples << json::serialize(sample) << "\n";
  samples.close();
  const std::string command = std::string(TALLY_PYTHON3) + " " + source_dir() + "/api/openapi_check.py " + source_dir() +
                              "/api/openapi.yaml " + out.sub("routes.txt") + " " + out.sub("samples.jsonl") + " > " +
                              out.sub("check.txt") + " 2>&1";
  const int status = std::system(command.c_str());
  const std::string report = read_file(out.sub("check.txt"));
  BOOST_TEST_MESSAGE(report);
  BOOST_TEST(status == 0, report);
}

BOOST_AUTO_TEST_CASE(the_served_document_is_the_yaml_as_json) {
  Sampler s;
  const json::value served = s.call("GET", "/openapi.json", "/openapi.json", nullptr, "", 200);
  BOOST_TEST(served.at("openapi").as_string() == "3.1.0");
  BOOST_TEST(served.at("paths").as_object().contains("/api/v1/org/{org}/credits/checkout"));
  BOOST_TEST(served.at("components").at("schemas").as_object().contains("WorkspaceBilling"));
}
