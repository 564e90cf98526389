// The role table over real HTTP (SPEC §7): every registered route × every kind of caller, and
// for POST /api/v1/events every event type of the schema, with the exact status. The routes are
// the server's own list, so a new route without a row here fails this test. Then the attacks of
// issue 14 (an org token minting credits, moving the partition clock) and the time rules of
// SPEC §2 at the HTTP edge (org tokens get the server's time; events too far ahead are refused).
#include <boost/test/unit_test.hpp>

#include <array>
#include <chrono>
#include <map>

#include <boost/json.hpp>

#include "api/http_server.h"
#include "api/testing/event_types.h"
#include "api/testing/fake_payments.h"
#include "api/testing/http_test.h"

using namespace tally;
using namespace tally::api;
using namespace tally::api::testing;

namespace {

constexpr std::string_view unknown_token = "nobody-knows-this-token-0001";

// The callers, in the column order of every expectation below.
enum Caller : std::size_t { admin, ingest, owner, reader, other_org, no_token, bad_token, callers };
using Statuses = std::array<int, callers>;
constexpr std::array<std::string_view, callers> caller_names = {"admin", "ingest", "org:acme", "org:acme:read",
                                                                "org:globex", "no token", "unknown token"};
constexpr std::array<std::string_view, callers> caller_tokens = {admin_token, ingest_token, owner_token, reader_token,
                                                                 globex_token, "", unknown_token};

// What each caller gets, by kind of route or event (the columns of the SPEC §7 table).
constexpr Statuses org_read = {200, 403, 200, 200, 403, 401, 401};
constexpr Statuses owner_command = {202, 403, 202, 403, 403, 401, 401};  // admin or the org's owner
constexpr Statuses open_to_all = {200, 200, 200, 200, 200, 200, 200};
constexpr Statuses admin_read = {200, 403, 403, 403, 403, 401, 401};
constexpr Statuses link_only = {401, 401, 401, 401, 401, 401, 401};  // a billing link, no bearer token
constexpr Statuses admin_only = {202, 403, 403, 403, 403, 401, 401};
constexpr Statuses metering = {202, 202, 403, 403, 403, 401, 401};
constexpr Statuses nobody = {403, 403, 403, 403, 403, 401, 401};
constexpr Statuses hold_command = {202, 202, 202, 403, 403, 401, 401};  // ingest too

// A valid event of `type` for org acme (or global), with `occurred_at_ms` only if `with_time`.
std::string sample_event(const std::string& type, const std::string& key, bool with_time) {
  static const std::map<std::string, std::pair<bool, std::string>> bodies = {  // type -> (has org, fields)
      {"org_opened", {true, R"("plan":"pro","billing_mode":"credits")"}},
      {"billing_mode_changed", {true, R"("plan":"enterprise","billing_mode":"credits")"}},
      {"signup_allocation", {true, R"("credits_micros":1000000)"}},
      {"purchase", {true, R"("credits_micros":1000000,"paid_minor":100,"currency":"usd","fee_minor":0,"bundles":1,"payment_ref":"ch_1")"}},
      {"auto_refill", {true, R"("credits_micros":1000000,"paid_minor":100,"currency":"usd","fee_minor":0,"bundles":1,"payment_ref":"ch_2","signal_id":"0:1:recharge_requested")"}},
      {"payment_failed", {true, R"("signal_id":"0:1:recharge_requested","code":"card_declined","message":"declined")"}},
      {"refund", {true, R"("purchase_key":"p-1","credits_micros":1)"}},
      {"admin_adjustment", {true, R"("credits_micros":5,"reason":"goodwill","operator":"ops")"}},
      {"usage", {true, R"("member_id":"bob","workspace":"w","meter":"llm_tokens","model":"m1","input_tokens":1,"output_tokens":1)"}},
      {"rate_card_published", {false, R"("version":7,"markup_bp":10000,"models":[{"model":"m1","input_per_mtok_micros":1}])"}},
      {"auto_refill_configured", {true, R"("enabled":true,"threshold_micros":1,"refill_credits_micros":1)"}},
      {"auto_refill_disabled", {true, R"("reason":"paused")"}},
      {"low_balance_threshold_set", {true, R"("threshold_micros":5)"}},
      {"member_limit_set", {true, R"("member_id":"bob","monthly_limit_micros":5)"}},
      {"member_limit_cleared", {true, R"("member_id":"bob")"}},
      {"tick", {false, ""}},
      {"payment_customer_linked", {true, R"("payment_customer":"cus_1")"}},
      {"workspace_billing_set", {true, R"("workspace":"w2","billing_path":"byok")"}},
      {"hold_placed", {true, R"("member_id":"bob","amount_micros":1,"ttl_ms":60000)"}},
      {"hold_extended", {true, R"("hold_id":"h-1","add_micros":1,"ttl_ms":60000)"}},
      {"hold_released", {true, R"("hold_id":"h-1")"}},
      {"credit_granted", {true, R"("credits_micros":5,"reason":"trial","operator":"ops")"}},
      {"grant_voided", {true, R"("grant_id":"g-1")"}},
  };
  auto it = bodies.find(type);
  BOOST_REQUIRE_MESSAGE(it != bodies.end(), "no sample event of type " << type << ": add one here");
  std::string json = R"({"type":")" + type + R"(","idempotency_key":")" + key + "\"";
  if (it->second.first) json += R"(,"org_id":"acme")";
  if (with_time) json += R"(,"occurred_at_ms":)" + std::to_string(now_ms() - 1000);
  if (!it->second.second.empty()) json += "," + it->second.second;
  return json + "}";
}

struct RolesFixture : StackClient {
  std::shared_ptr<FakePayments> payments;

  explicit RolesFixture(std::function<void(HttpServer&)> before_start = {}) {
    ApiStackOptions options;
    options.tokens = {admin_caller(), ingest_caller(), owner_caller(), reader_caller(), globex_caller()};
    options.before_start = std::move(before_start);
    // Buying credits: a fake provider, with a card saved on the customer acme's first checkout makes.
    payments = std::make_shared<FakePayments>();
    payments->save_card("cus_fake1", PaymentCard{"pm_1", "visa", "4242", 8, 2030});
    options.commerce = fake_commerce(payments);
    start(options);
    // acme exists, so that every read an allowed caller makes is a 200.
    const std::string signup = R"({"type":"signup_allocation","idempotency_key":"seed","org_id":"acme","occurred_at_ms":)" +
                               std::to_string(now_ms() - 60'000) + R"(,"credits_micros":25000000})";
    HttpReply seeded = client->send("POST", "/api/v1/events?wait=1", admin_token, signup);
    BOOST_REQUIRE_MESSAGE(seeded.status == 200, seeded.body);
  }

  HttpReply send(Caller caller, std::string_view method, const std::string& target, const std::string& body = {}) {
    return client->send(method, target, caller_tokens[caller], body);
  }

  int64_t balance_micros() {
    HttpReply reply = send(admin, "GET", "/api/v1/org/acme/credits");
    BOOST_REQUIRE_MESSAGE(reply.status == 200, reply.body);
    return reply.json().at("balance_micros").to_number<int64_t>();
  }

  boost::json::array transactions() {
    HttpReply reply = send(admin, "GET", "/api/v1/org/acme/credits/transactions?limit=500");
    BOOST_REQUIRE_MESSAGE(reply.status == 200, reply.body);
    return reply.json().at("transactions").as_array();
  }
};

}  // namespace

BOOST_AUTO_TEST_CASE(every_route_and_every_caller_get_the_role_tables_answer) {
  RolesFixture f;
  struct Row {
    std::string target;
    std::string body;
    Statuses expected;  // admin ingest owner reader other-org none unknown
  };
  const std::map<std::string, Row> rows = {
      {"GET /healthz", {"/healthz", "", open_to_all}},
      {"GET /metrics", {"/metrics", "", open_to_all}},
      {"GET /openapi.json", {"/openapi.json", "", open_to_all}},
      {"GET /api/v1/org/{org}/credits", {"/api/v1/org/acme/credits", "", org_read}},
      {"GET /api/v1/org/{org}/credits/transactions", {"/api/v1/org/acme/credits/transactions", "", org_read}},
      {"GET /api/v1/org/{org}/credits/auto-refill", {"/api/v1/org/acme/credits/auto-refill", "", org_read}},
      {"GET /api/v1/org/{org}/credits/member-limits", {"/api/v1/org/acme/credits/member-limits", "", org_read}},
      {"GET /api/v1/org/{org}/usage", {"/api/v1/org/acme/usage", "", org_read}},
      {"GET /api/v1/org/{org}/rejects", {"/api/v1/org/acme/rejects", "", org_read}},
      {"GET /api/v1/org/{org}/signals", {"/api/v1/org/acme/signals", "", org_read}},
      {"GET /api/v1/rejects", {"/api/v1/rejects", "", admin_read}},
      {"PUT /api/v1/org/{org}/credits/auto-refill", {"/api/v1/org/acme/credits/auto-refill", R"({"enabled":false})", owner_command}},
      {"DELETE /api/v1/org/{org}/credits/auto-refill", {"/api/v1/org/acme/credits/auto-refill", "", owner_command}},
      {"PUT /api/v1/org/{org}/credits/member-limits/{user_id}",
       {"/api/v1/org/acme/credits/member-limits/bob", R"({"monthly_limit_micros":5})", owner_command}},
      {"DELETE /api/v1/org/{org}/credits/member-limits/{user_id}", {"/api/v1/org/acme/credits/member-limits/bob", "", owner_command}},
      {"GET /api/v1/org/{org}/credits/price", {"/api/v1/org/acme/credits/price", "", org_read}},
      {"POST /api/v1/org/{org}/credits/checkout",
       {"/api/v1/org/acme/credits/checkout", R"({"success_url":"https://p.example/ok","cancel_url":"https://p.example/no"})",
        {200, 403, 200, 403, 403, 401, 401}}},
      {"GET /api/v1/org/{org}/credits/payment-method", {"/api/v1/org/acme/credits/payment-method", "", org_read}},
      {"GET /api/v1/org/{org}/workspaces/{ws}/billing", {"/api/v1/org/acme/workspaces/w2/billing", "", org_read}},
      {"PUT /api/v1/org/{org}/workspaces/{ws}/billing",
       {"/api/v1/org/acme/workspaces/w2/billing", R"({"billing_path":"byok"})", owner_command}},
      {"DELETE /api/v1/org/{org}/workspaces/{ws}/billing", {"/api/v1/org/acme/workspaces/w2/billing", "", owner_command}},
      // SPEC §11: ingest and the org's own token place holds; a hold nobody placed is unknown (422).
      {"POST /api/v1/org/{org}/credits/holds",
       {"/api/v1/org/acme/credits/holds", R"({"amount_micros":1,"ttl_ms":60000})", {201, 201, 201, 403, 403, 401, 401}}},
      {"GET /api/v1/org/{org}/credits/holds", {"/api/v1/org/acme/credits/holds", "", org_read}},
      {"GET /api/v1/org/{org}/credits/runway", {"/api/v1/org/acme/credits/runway?model=none", "", {422, 403, 422, 422, 403, 401, 401}}},
      {"POST /api/v1/org/{org}/credits/holds/{hold_id}/extend",
       {"/api/v1/org/acme/credits/holds/nope/extend", R"({"ttl_ms":60000})", {422, 422, 422, 403, 403, 401, 401}}},
      {"POST /api/v1/org/{org}/credits/holds/{hold_id}/release",
       {"/api/v1/org/acme/credits/holds/nope/release", "", {422, 422, 422, 403, 403, 401, 401}}},
      // SPEC §12: the org reads its grants; only an operator (admin) grants or voids credit.
      {"GET /api/v1/org/{org}/credits/grants", {"/api/v1/org/acme/credits/grants", "", org_read}},
      {"POST /api/v1/org/{org}/credits/grants",
       {"/api/v1/org/acme/credits/grants", R"({"credits_micros":5,"reason":"trial","operator":"ops"})",
        {202, 403, 403, 403, 403, 401, 401}}},
      {"POST /api/v1/org/{org}/credits/grants/{grant_id}/void",
       {"/api/v1/org/acme/credits/grants/nope/void", "", {202, 403, 403, 403, 403, 401, 401}}},
      // The billing page: a link is minted by admin or the org's owner; the page and its forms take
      // no bearer token at all, only ?link= (billing_page_test has the link rules).
      {"POST /api/v1/org/{org}/billing-links", {"/api/v1/org/acme/billing-links", R"({"minutes":5})",
                                                {200, 403, 200, 403, 403, 401, 401}}},
      {"GET /billing/{org}", {"/billing/acme", "", link_only}},
      {"GET /billing/{org}/transactions.csv", {"/billing/acme/transactions.csv", "", link_only}},
      {"POST /billing/{org}/auto-refill", {"/billing/acme/auto-refill", "enabled=on", link_only}},
      {"POST /billing/{org}/member-limits", {"/billing/acme/member-limits", "member_id=bob&monthly_limit=5", link_only}},
      {"POST /billing/{org}/checkout", {"/billing/acme/checkout", "quantity=1", link_only}},
      // Per event type: the next test case. Here the route itself, with an empty batch.
      {"POST /api/v1/events", {"/api/v1/events", "[]", {400, 400, 400, 403, 400, 401, 401}}},
  };
  std::size_t covered = 0;
  for (const HttpServer::RouteSummary& route : f.stack->server().routes()) {
    const std::string name = std::string(method_name(route.method)) + " " + route.pattern;
    auto row = rows.find(name);
    if (row == rows.end()) {
      BOOST_ERROR(name << " has no row in the role matrix: add what every caller gets");
      continue;
    }
    ++covered;
    for (std::size_t c = 0; c < callers; ++c) {
      HttpReply reply = f.send(static_cast<Caller>(c), method_name(route.method), row->second.target, row->second.body);
      BOOST_TEST(reply.status == row->second.expected[c], name << " by " << caller_names[c] << ": " << reply.body);
      if (reply.status >= 400) BOOST_TEST(code_of(reply) != "<no error body>", name << " by " << caller_names[c]);
    }
  }
  BOOST_TEST(covered == rows.size(), "a row names a route the server does not have");
}

BOOST_AUTO_TEST_CASE(every_event_type_and_every_caller_get_the_role_tables_answer) {
  RolesFixture f;
  const std::map<std::string, Statuses> expected = {
      {"org_opened", admin_only},          {"billing_mode_changed", admin_only},
      {"signup_allocation", admin_only},   {"purchase", admin_only},
      {"auto_refill", admin_only},         {"payment_failed", admin_only},
      {"refund", admin_only},              {"admin_adjustment", admin_only},
      {"usage", metering},                 {"rate_card_published", admin_only},
      {"auto_refill_configured", owner_command}, {"auto_refill_disabled", owner_command},
      {"low_balance_threshold_set", owner_command}, {"member_limit_set", owner_command},
      {"member_limit_cleared", owner_command}, {"tick", nobody},
      {"payment_customer_linked", admin_only}, {"workspace_billing_set", owner_command},
      {"hold_placed", hold_command},       {"hold_extended", hold_command},
      {"hold_released", hold_command},
      {"credit_granted", admin_only},      {"grant_voided", admin_only},
  };
  int n = 0;
  for (const std::string& type : schema_event_types()) {
    auto row = expected.find(type);
    BOOST_REQUIRE_MESSAGE(row != expected.end(), type << " has no row in the role matrix");
    for (std::size_t c = 0; c < callers; ++c) {
      // Admin and ingest report when the work happened; org tokens leave the time to the server.
      const bool with_time = c == admin || c == ingest || c >= no_token;
      const std::string event = sample_event(type, "k-" + std::to_string(++n), with_time);
      HttpReply reply = f.send(static_cast<Caller>(c), "POST", "/api/v1/events", event);
      BOOST_TEST(reply.status == row->second[c], type << " by " << caller_names[c] << ": " << reply.body);
      if (reply.status == 403 && c != reader) BOOST_TEST((field_of(reply) == "type" || field_of(reply) == "org_id"), reply.body);
    }
  }
}

// Issue 14, finding 2: an org:acme token appended purchases, signup allocations, adjustments and
// billing_mode_changed for acme (202, credits minted) and ticks with any time.
BOOST_AUTO_TEST_CASE(an_org_token_cannot_mint_credits_or_move_the_clock) {
  RolesFixture f;
  const int64_t balance = f.balance_micros();
  const std::size_t entries = f.transactions().size();
  for (const std::string type : {"purchase", "signup_allocation", "admin_adjustment", "billing_mode_changed",
                                 "auto_refill", "org_opened", "refund", "credit_granted", "grant_voided"}) {
    HttpReply reply = f.send(owner, "POST", "/api/v1/events?wait=1", sample_event(type, "mint-" + type, false));
    BOOST_TEST(reply.status == 403, type << ": " << reply.body);
    BOOST_TEST(field_of(reply) == "type");
  }
  const std::string far_tick = R"({"type":"tick","idempotency_key":"t-2286","org_id":"acme","occurred_at_ms":9999999999999})";
  BOOST_TEST(f.send(owner, "POST", "/api/v1/events", far_tick).status == 403);
  BOOST_TEST(f.send(owner, "POST", "/api/v1/events", sample_event("tick", "t-now", false)).status == 403);
  HttpReply batch = f.send(owner, "POST", "/api/v1/events",
                           "[" + sample_event("member_limit_set", "ok", false) + "," + sample_event("purchase", "p", false) + "]");
  BOOST_TEST(batch.status == 403);
  BOOST_TEST(field_of(batch) == "[1].type");
  // Nothing reached the ledger: same balance, same history, plan still pro.
  BOOST_TEST(f.balance_micros() == balance);
  BOOST_TEST(f.transactions().size() == entries);
  HttpReply credits = f.send(admin, "GET", "/api/v1/org/acme/credits");
  BOOST_TEST(credits.json().at("plan").as_string() == "pro");
}

BOOST_AUTO_TEST_CASE(org_tokens_get_the_servers_time) {
  RolesFixture f;
  const int64_t before = now_ms();
  HttpReply stamped = f.send(owner, "POST", "/api/v1/events?wait=1", sample_event("member_limit_set", "stamped", false));
  const int64_t after = now_ms();
  BOOST_REQUIRE_MESSAGE(stamped.status == 200, stamped.body);
  BOOST_TEST(stamped.json().at("outcome").as_string() == "applied");
  const boost::json::array entries = f.transactions();
  const boost::json::value& last = entries.back();
  BOOST_TEST(last.at("idempotency_key").as_string() == "stamped");
  const int64_t at = last.at("occurred_at_ms").to_number<int64_t>();
  BOOST_TEST(at >= before);
  BOOST_TEST(at <= after);
  // Setting it is refused, naming the field, whatever the time.
  HttpReply given = f.send(owner, "POST", "/api/v1/events", sample_event("member_limit_set", "given", true));
  BOOST_TEST(given.status == 400);
  BOOST_TEST(field_of(given) == "occurred_at_ms");
  BOOST_TEST(given.json().at("error").at("message").as_string().find("server") != boost::json::string::npos);
  HttpReply in_batch = f.send(owner, "POST", "/api/v1/events",
                              "[" + sample_event("member_limit_set", "b1", false) + "," + sample_event("member_limit_cleared", "b2", true) + "]");
  BOOST_TEST(in_batch.status == 400);
  BOOST_TEST(field_of(in_batch) == "[1].occurred_at_ms");
  BOOST_TEST(f.transactions().size() == entries.size());
}

// SPEC §2: an event more than future_skew_max_ms ahead of the server's clock is refused before it
// is appended, whoever sends it (admin, ingest, Tally's own connectors through submit_events).
BOOST_AUTO_TEST_CASE(events_too_far_ahead_of_the_servers_clock_are_refused) {
  RolesFixture f([](HttpServer& server) {
    BOOST_REQUIRE(server.add_route({HttpMethod::post, "/api/v1/webhooks/test", RouteAuth::none(),
                                    [&server](const ApiRequest& request) { return server.submit_events({request.body}, request); },
                                    true})
                      .is_ok());
  });
  auto usage_at = [](const std::string& key, int64_t at_ms) {
    return R"({"type":"usage","idempotency_key":")" + key + R"(","org_id":"acme","occurred_at_ms":)" + std::to_string(at_ms) +
           R"(,"member_id":"bob","meter":"llm_tokens","model":"m1","reported_cost_micros":1})";
  };
  const std::size_t entries = f.transactions().size();
  HttpReply ahead = f.send(ingest, "POST", "/api/v1/events", usage_at("ahead", now_ms() + 3'600'000));
  BOOST_TEST(ahead.status == 400);
  BOOST_TEST(code_of(ahead) == "clock_skew");
  BOOST_TEST(field_of(ahead) == "occurred_at_ms");
  HttpReply far = f.send(admin, "POST", "/api/v1/events", usage_at("far", 9'999'999'999'999));
  BOOST_TEST(code_of(far) == "clock_skew");
  HttpReply batch = f.send(admin, "POST", "/api/v1/events",
                           "[" + usage_at("near", now_ms()) + "," + usage_at("later", now_ms() + future_skew_max_ms + 60'000) + "]");
  BOOST_TEST(batch.status == 400);
  BOOST_TEST(field_of(batch) == "[1].occurred_at_ms");
  HttpReply hook = f.client->send("POST", "/api/v1/webhooks/test", {}, usage_at("hook", now_ms() + 3'600'000));
  BOOST_TEST(code_of(hook) == "clock_skew");
  // Within the skew, and in the past, is fine.
  BOOST_TEST(f.send(ingest, "POST", "/api/v1/events?wait=1", usage_at("soon", now_ms() + 60'000)).status == 200);
  BOOST_TEST(f.send(ingest, "POST", "/api/v1/events?wait=1", usage_at("late", now_ms() - 86'400'000)).status == 200);
  BOOST_TEST(f.transactions().size() == entries + 2);
}
