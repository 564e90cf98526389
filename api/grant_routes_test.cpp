// Grants over real HTTP (SPEC §12): an operator grants credit with an expiry and voids part of it;
// the org's credits show it by category and its next expiry; the grants list says where every
// credit went (with the transactions that took from each grant); transactions carry fundings;
// bad fields are 400s naming them; only admin may grant or void, and an org token reads only its
// own grants.
#include <boost/test/unit_test.hpp>

#include <string>

#include <boost/json.hpp>

#include "api/testing/http_test.h"

using namespace tally;
using namespace tally::api::testing;

namespace {

constexpr int64_t cr = 1'000'000;
constexpr int64_t day_ms = 86'400'000;

int64_t micros(const boost::json::value& v, std::string_view field) { return v.at(field).to_number<int64_t>(); }

struct GrantsFixture : StackClient {
  GrantsFixture() {
    ApiStackOptions options;
    options.tokens = {admin_caller(), owner_caller(), reader_caller(), globex_caller()};
    start(options);
  }

  HttpReply send(std::string_view token, const std::string& method, const std::string& target,
                 const std::string& body = {}, std::vector<std::pair<std::string, std::string>> headers = {}) {
    return client->send(method, target, token, body, headers);
  }

  // An admin event of acme, with ?wait=1.
  void event(const std::string& type, const std::string& key, const std::string& fields) {
    const std::string json = R"({"type":")" + type + R"(","idempotency_key":")" + key +
                             R"(","org_id":"acme","occurred_at_ms":)" + std::to_string(now_ms() - 1000) + "," +
                             fields + "}";
    HttpReply reply = send(admin_token, "POST", "/api/v1/events?wait=1", json);
    BOOST_REQUIRE_MESSAGE(reply.status == 200, reply.body);
  }
};

const boost::json::object* grant_named(const boost::json::value& list, std::string_view id) {
  for (const boost::json::value& g : list.at("grants").as_array()) {
    if (g.at("grant_id").as_string() == id) return &g.as_object();
  }
  return nullptr;
}

}  // namespace

BOOST_AUTO_TEST_CASE(a_grant_with_an_expiry_is_drawn_first_voided_in_part_and_accounted_for) {
  GrantsFixture f;
  // A paid purchase of 10 cr (cost basis 1,000 minor units of usd), then a promotional grant of
  // 5 cr expiring in 30 days: same priority, so the expiring grant is drawn first.
  f.event("purchase", "buy-1",
          R"("credits_micros":10000000,"paid_minor":1000,"currency":"usd","fee_minor":30,"bundles":1,"payment_ref":"ch_1")");
  const int64_t expires = now_ms() + 30 * day_ms;
  HttpReply granted = f.send(admin_token, "POST", "/api/v1/org/acme/credits/grants?wait=1",
                             R"({"credits_micros":5000000,"expires_at_ms":)" + std::to_string(expires) +
                                 R"(,"reason":"trial","operator":"ops"})",
                             {{"Idempotency-Key", "trial-1"}});
  BOOST_REQUIRE_MESSAGE(granted.status == 200, granted.body);
  const boost::json::value grant = granted.json().at("grant");
  BOOST_TEST(grant.at("grant_id").as_string() == "trial-1");
  BOOST_TEST(grant.at("category").as_string() == "promotional");
  BOOST_TEST(micros(grant, "expires_at_ms") == expires);
  BOOST_TEST(micros(grant, "remaining_micros") == 5 * cr);
  // 3 cr of usage: all from the promotional grant.
  f.event("usage", "use-1", R"("meter":"llm_tokens","reported_cost_micros":3000000)");
  // Void 1 cr of what the trial has left (2 cr).
  HttpReply voided = f.send(admin_token, "POST", "/api/v1/org/acme/credits/grants/trial-1/void?wait=1",
                            R"({"credits_micros":1000000,"reason":"typo"})");
  BOOST_REQUIRE_MESSAGE(voided.status == 200, voided.body);
  BOOST_TEST(micros(voided.json().at("grant"), "remaining_micros") == 1 * cr);
  // More than remains, and a grant that does not exist: the fold says why (422).
  HttpReply too_much = f.send(admin_token, "POST", "/api/v1/org/acme/credits/grants/trial-1/void?wait=1",
                              R"({"credits_micros":2000000})");
  BOOST_TEST(too_much.status == 422);
  BOOST_TEST(too_much.json().at("reason").as_string() == "void_exceeds_remaining");
  HttpReply unknown = f.send(admin_token, "POST", "/api/v1/org/acme/credits/grants/nope/void?wait=1");
  BOOST_TEST(unknown.status == 422);
  BOOST_TEST(unknown.json().at("reason").as_string() == "unknown_grant");

  // GET credits: 11 cr = 10 paid + 1 promotional, 1 cr of it expiring then; 1 cr voided.
  HttpReply credits = f.send(owner_token, "GET", "/api/v1/org/acme/credits");
  BOOST_REQUIRE_MESSAGE(credits.status == 200, credits.body);
  const boost::json::value c = credits.json();
  BOOST_TEST(micros(c, "balance_micros") == 11 * cr);
  BOOST_TEST(micros(c.at("by_category").at("paid"), "remaining_micros") == 10 * cr);
  BOOST_TEST(micros(c.at("by_category").at("promotional"), "remaining_micros") == 1 * cr);
  BOOST_TEST(micros(c.at("next_expiry"), "at_ms") == expires);
  BOOST_TEST(micros(c.at("next_expiry"), "micros") == 1 * cr);
  BOOST_TEST(micros(c.at("totals"), "voided_micros") == 1 * cr);
  BOOST_TEST(micros(c.at("totals"), "expired_micros") == 0);

  // The grants: where every credit went, with the transactions that took from each.
  HttpReply list = f.send(reader_token, "GET", "/api/v1/org/acme/credits/grants");
  BOOST_REQUIRE_MESSAGE(list.status == 200, list.body);
  const boost::json::value grants = list.json();
  const boost::json::object* trial = grant_named(grants, "trial-1");
  const boost::json::object* bought = grant_named(grants, "buy-1");
  BOOST_REQUIRE(trial != nullptr);
  BOOST_REQUIRE(bought != nullptr);
  BOOST_TEST(micros(*trial, "original_micros") == 5 * cr);
  BOOST_TEST(micros(*trial, "consumed_micros") == 3 * cr);
  BOOST_TEST(micros(*trial, "voided_micros") == 1 * cr);
  BOOST_TEST(micros(*trial, "remaining_micros") == 1 * cr);
  BOOST_TEST(trial->at("cost_basis").is_null());
  const boost::json::array& uses = trial->at("consumptions").as_array();
  BOOST_REQUIRE_MESSAGE(uses.size() == 2u, list.body);  // the usage, then the void
  BOOST_TEST(uses[0].at("idempotency_key").as_string() == "use-1");
  BOOST_TEST(micros(uses[0], "amount_micros") == 3 * cr);
  BOOST_TEST(uses[1].at("type").as_string() == "grant_voided");
  BOOST_TEST(bought->at("category").as_string() == "paid");
  BOOST_TEST(micros(bought->at("cost_basis"), "paid_minor") == 1000);  // the fee stays on the purchase
  BOOST_TEST(bought->at("cost_basis").at("currency").as_string() == "usd");
  BOOST_TEST(micros(*bought, "remaining_micros") == 10 * cr);

  // The transaction of the usage names its funding.
  HttpReply txns = f.send(owner_token, "GET", "/api/v1/org/acme/credits/transactions?type=usage");
  BOOST_REQUIRE_MESSAGE(txns.status == 200, txns.body);
  const boost::json::value page = txns.json();
  const boost::json::array& fundings = page.at("transactions").at(0).at("fundings").as_array();
  BOOST_REQUIRE_MESSAGE(fundings.size() == 1u, txns.body);
  BOOST_TEST(fundings[0].at("grant_id").as_string() == "trial-1");
  BOOST_TEST(micros(fundings[0], "micros") == 3 * cr);
}

BOOST_AUTO_TEST_CASE(bad_grant_fields_are_named_before_anything_is_appended) {
  GrantsFixture f;
  struct Row {
    std::string body;
    std::string field;
  };
  const Row rows[] = {
      {R"({"credits_micros":0,"reason":"r","operator":"o"})", "credits_micros"},
      {R"({"credits_micros":5,"priority":101,"reason":"r","operator":"o"})", "priority"},
      {R"({"credits_micros":5,"expires_at_ms":1000,"reason":"r","operator":"o"})", "expires_at_ms"},
      {R"({"credits_micros":5,"category":"gift","reason":"r","operator":"o"})", "category"},
      {R"({"credits_micros":5,"operator":"o"})", "reason"},
      {R"({"credits_micros":5,"reason":"r","operator":"o","color":"red"})", "color"},
  };
  for (const Row& row : rows) {
    HttpReply reply = f.send(admin_token, "POST", "/api/v1/org/acme/credits/grants?wait=1", row.body);
    BOOST_TEST(reply.status == 400, row.body << ": " << reply.body);
    BOOST_TEST(field_of(reply) == row.field, row.body << ": " << reply.body);
  }
  HttpReply negative = f.send(admin_token, "POST", "/api/v1/org/acme/credits/grants/g/void", R"({"credits_micros":-1})");
  BOOST_TEST(negative.status == 400);
  BOOST_TEST(field_of(negative) == "credits_micros");
}

BOOST_AUTO_TEST_CASE(only_an_operator_grants_or_voids_and_an_org_reads_only_its_own_grants) {
  GrantsFixture f;
  f.event("signup_allocation", "signup", R"("credits_micros":25000000000)");
  const std::string body = R"({"credits_micros":5,"reason":"r","operator":"o"})";
  for (std::string_view token : {owner_token, reader_token, globex_token}) {
    BOOST_TEST(f.send(token, "POST", "/api/v1/org/acme/credits/grants", body).status == 403);
    BOOST_TEST(f.send(token, "POST", "/api/v1/org/acme/credits/grants/signup/void").status == 403);
  }
  BOOST_TEST(f.send(globex_token, "GET", "/api/v1/org/acme/credits/grants").status == 403);
  BOOST_TEST(f.send("", "GET", "/api/v1/org/acme/credits/grants").status == 401);
  HttpReply own = f.send(reader_token, "GET", "/api/v1/org/acme/credits/grants?consumptions=false");
  BOOST_REQUIRE_MESSAGE(own.status == 200, own.body);
  const boost::json::value own_list = own.json();
  const boost::json::object* signup = grant_named(own_list, "signup");
  BOOST_REQUIRE_MESSAGE(signup != nullptr, own.body);
  BOOST_TEST(signup->at("source").as_string() == "signup_allocation");
  BOOST_TEST(signup->at("category").as_string() == "promotional");
  BOOST_TEST(!signup->contains("consumptions"));
  BOOST_TEST(f.send(reader_token, "GET", "/api/v1/org/acme/credits/grants?consumptions=maybe").status == 400);
  BOOST_TEST(f.send(admin_token, "GET", "/api/v1/org/nobody/credits/grants").status == 404);
  // The signup's credit is all there is: the operator voids it, and nothing is left.
  HttpReply voided = f.send(admin_token, "POST", "/api/v1/org/acme/credits/grants/signup/void?wait=1");
  BOOST_REQUIRE_MESSAGE(voided.status == 200, voided.body);
  BOOST_TEST(voided.json().at("grant").at("status").as_string() == "closed");
  HttpReply again = f.send(admin_token, "POST", "/api/v1/org/acme/credits/grants/signup/void?wait=1");
  BOOST_TEST(again.status == 422);
  BOOST_TEST(again.json().at("reason").as_string() == "nothing_to_void");
}
