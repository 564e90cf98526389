// Outcomes over HTTP (SPEC §7): every outcome with ?wait=1 and its status code (200 applied or
// duplicate, 409 conflict, 422 each business rejection with its reason), batches with mixed
// outcomes (200, one outcome each), refusals before anything is appended; the rejects and
// signals routes: a brand-new org's rejection visible in its rejects and transactions, poison
// records written straight into the journal (admin rejects), pagination, kind filter, scopes; and
// one FlatBuffers verification per event between HTTP and the fold.
#include <boost/test/unit_test.hpp>

#include <boost/json.hpp>
#include <climits>

#include "api/testing/http_test.h"
#include "engine/event_factory.h"
#include "engine/validate.h"
#include "log/journal_testing.h"

namespace tally::api::testing {
namespace {

namespace json = boost::json;

constexpr int64_t t0_ms = 1'763'856'000'000;  // 2025-11-23T00:00:00Z
constexpr int32_t partitions = 4;

std::string event(const std::string& type, const std::string& key, const std::string& org, const std::string& fields) {
  std::string out = R"({"type":")" + type + R"(","idempotency_key":")" + key + "\"";
  if (!org.empty()) out += R"(,"org_id":")" + org + "\"";
  return out + R"(,"occurred_at_ms":)" + std::to_string(t0_ms) + (fields.empty() ? "" : "," + fields) + "}";
}

std::string rate_card(const std::string& key, int64_t version) {
  return event("rate_card_published", key, "",
               R"("version":)" + std::to_string(version) +
                   R"(,"markup_bp":10000,"models":[{"model":"m1","input_per_mtok_micros":1000000}])");
}

std::string usage(const std::string& key, const std::string& org, const std::string& model, int64_t tokens) {
  return event("usage", key, org,
               R"("member_id":"bob","meter":"llm_tokens","model":")" + model + R"(","input_tokens":)" +
                   std::to_string(tokens));
}

std::string adjustment(const std::string& key, const std::string& org, int64_t micros) {
  return event("admin_adjustment", key, org,
               R"("credits_micros":)" + std::to_string(micros) + R"(,"reason":"test","operator":"ops")");
}

std::string signup(const std::string& key, const std::string& org, int64_t micros) {
  return event("signup_allocation", key, org, R"("credits_micros":)" + std::to_string(micros));
}

std::string text(const json::value& v, std::string_view key) {
  const json::object& o = v.as_object();
  return o.contains(key) && o.at(key).is_string() ? std::string(o.at(key).as_string()) : std::string("<none>");
}

// Follows next_cursor from `first` (a target without cursor, with a query) and collects `field` of
// every item of `list` on every page.
std::vector<std::string> walk_pages(HttpClient& client, const std::string& first, const std::string& list,
                                    const std::string& field, std::string_view token = admin_token) {
  std::vector<std::string> out;
  std::string target = first;
  for (int pages = 0; pages < 100; ++pages) {
    const HttpReply reply = client.send("GET", target, token);
    BOOST_REQUIRE_MESSAGE(reply.status == 200, reply.body);
    const json::value body = reply.json();
    for (const json::value& item : body.at(list).as_array()) {
      out.push_back(item.at(field).is_string() ? std::string(item.at(field).as_string())
                                               : json::serialize(item.at(field)));
    }
    if (body.at("next_cursor").is_null()) break;
    target = first + "&cursor=" + std::string(body.at("next_cursor").as_string());
  }
  return out;
}

struct Fixture : StackClient {
  explicit Fixture(ApiStackOptions options = {}) {
    options.partitions = partitions;
    options.tokens = {admin_caller(), owner_caller()};
    start(options);
  }

  HttpReply post(const std::string& body, bool wait = true) {
    return client->send("POST", wait ? "/api/v1/events?wait=1" : "/api/v1/events", admin_token, body);
  }
  HttpReply get(const std::string& target, std::string_view token = admin_token) {
    return client->send("GET", target, token);
  }
  // A rate card and acme's 1,000 credits.
  void seed() {
    BOOST_REQUIRE_EQUAL(post(rate_card("rc-1", 1)).status, 200);
    BOOST_REQUIRE_EQUAL(post(signup("signup", "acme", 1'000'000'000)).status, 200);
  }
  // The "rejects" of a 200 answer to GET `target`.
  json::array rejects(const std::string& target) {
    HttpReply reply = get(target);
    BOOST_REQUIRE_MESSAGE(reply.status == 200, reply.body);
    return reply.json().at("rejects").as_array();
  }
  std::size_t transactions(const std::string& org) {
    HttpReply reply = get("/api/v1/org/" + org + "/credits/transactions?limit=500");
    BOOST_REQUIRE_MESSAGE(reply.status == 200, reply.body);
    return reply.json().at("transactions").as_array().size();
  }
};

}  // namespace

BOOST_AUTO_TEST_CASE(every_outcome_gets_its_status_code_with_wait) {
  Fixture f;
  f.seed();
  HttpReply applied = f.post(usage("u-1", "acme", "m1", 1000));
  BOOST_REQUIRE_MESSAGE(applied.status == 200, applied.body);
  BOOST_TEST(text(applied.json(), "outcome") == "applied");
  BOOST_TEST(applied.json().at("applied").as_bool());
  BOOST_TEST(applied.json().at("amount_micros").to_number<int64_t>() == -1000);
  BOOST_TEST(applied.json().at("balance_after_micros").to_number<int64_t>() == 1'000'000'000 - 1000);

  HttpReply duplicate = f.post(usage("u-1", "acme", "m1", 1000));
  BOOST_TEST(duplicate.status == 200);
  BOOST_TEST(text(duplicate.json(), "outcome") == "duplicate");

  HttpReply conflict = f.post(usage("u-1", "acme", "m1", 2000));
  BOOST_TEST(conflict.status == 409);
  BOOST_TEST(text(conflict.json(), "outcome") == "conflict");
  BOOST_TEST(code_of(conflict) == "idempotency_conflict");

  // Each business rejection: 422 with its reason, and the key recorded (a retry is a duplicate).
  BOOST_REQUIRE_EQUAL(f.post(event("purchase", "p-1", "acme",
                                   R"("credits_micros":1000000,"paid_minor":100,"currency":"usd","fee_minor":0,)"
                                   R"("bundles":1,"payment_ref":"ch_1")")).status,
                      200);
  BOOST_REQUIRE_EQUAL(f.post(event("org_opened", "open-1", "acme", R"("plan":"pro","billing_mode":"credits")")).status, 200);
  const std::vector<std::pair<std::string, std::string>> rejections = {
      {"unpriced", usage("u-2", "acme", "no-such-model", 10)},
      {"insufficient_balance", adjustment("take-all", "acme", -2'000'000'000)},
      {"unknown_purchase", event("refund", "r-1", "acme", R"("purchase_key":"no-such-purchase","credits_micros":1)")},
      {"refund_exceeds_purchase", event("refund", "r-2", "acme", R"("purchase_key":"p-1","credits_micros":2000000)")},
      {"overflow", signup("too-much", "acme", INT64_MAX)},
      {"stale_rate_card", rate_card("rc-again", 1)},
      {"org_exists", event("org_opened", "open-2", "acme", R"("plan":"pro","billing_mode":"credits")")},
  };
  for (const auto& [reason, body] : rejections) {
    HttpReply rejected = f.post(body);
    BOOST_TEST(rejected.status == 422, reason << ": " << rejected.body);
    BOOST_TEST(text(rejected.json(), "outcome") == "rejected", reason);
    BOOST_TEST(text(rejected.json(), "reason") == reason, rejected.body);
    BOOST_TEST(code_of(rejected) == "rejected", reason);
    BOOST_TEST(rejected.json().at("error").at("message").as_string().find(reason) != json::string::npos);
  }
  // A rate card has a position (and an outcome) per partition.
  HttpReply stale = f.post(rate_card("rc-again", 1));
  BOOST_TEST(stale.json().at("outcomes").as_array().size() == static_cast<std::size_t>(partitions));
  // The retry of a rejected event is a duplicate of the rejection: 200, and it says so.
  HttpReply retried = f.post(usage("u-2", "acme", "no-such-model", 10));
  BOOST_TEST(retried.status == 200);
  BOOST_TEST(text(retried.json(), "outcome") == "duplicate");
  BOOST_TEST(text(retried.json(), "detail").find("unpriced") != std::string::npos, retried.body);
}

BOOST_AUTO_TEST_CASE(a_batch_answers_200_with_one_outcome_per_event) {
  Fixture f;
  f.seed();
  BOOST_REQUIRE_EQUAL(f.post(usage("b-0", "acme", "m1", 10)).status, 200);
  HttpReply batch = f.post("[" + usage("b-1", "acme", "m1", 10) + "," + usage("b-0", "acme", "m1", 10) + "," +
                           usage("b-0", "acme", "m1", 11) + "," + usage("b-2", "acme", "no-such-model", 10) + "," +
                           adjustment("b-3", "newco", -5) + "]");
  BOOST_REQUIRE_MESSAGE(batch.status == 200, batch.body);
  const json::array events = batch.json().at("events").as_array();
  BOOST_REQUIRE_EQUAL(events.size(), 5u);
  const std::vector<std::string> outcomes = {"applied", "duplicate", "conflict", "rejected", "rejected"};
  for (std::size_t i = 0; i < events.size(); ++i) {
    BOOST_TEST(events[i].at("index").to_number<std::size_t>() == i);
    BOOST_TEST(text(events[i], "outcome") == outcomes[i], i << ": " << batch.body);
  }
  BOOST_TEST(text(events[3], "reason") == "unpriced");
  BOOST_TEST(text(events[4], "reason") == "insufficient_balance");
  // Without wait: 202 and the positions, no outcome.
  HttpReply accepted = f.post("[" + usage("b-4", "acme", "m1", 1) + "]", false);
  BOOST_TEST(accepted.status == 202);
  BOOST_TEST(!accepted.json().at("applied").as_bool());
  BOOST_TEST(!accepted.json().at("events").at(0).as_object().contains("outcome"));
}

// Regression: a JSON array whose element repeats a key was accepted (the last value won) while
// the same object outside an array was refused.
BOOST_AUTO_TEST_CASE(batch_element_with_duplicate_key_is_refused) {
  Fixture f;
  f.seed();
  const std::size_t before = f.transactions("acme");
  const std::string repeated = R"({"type":"usage","idempotency_key":"d-2","org_id":"acme","occurred_at_ms":)" +
                               std::to_string(t0_ms) +
                               R"(,"meter":"llm_tokens","model":"m1","input_tokens":1,"input_tokens":1000000})";
  HttpReply refused = f.post("[" + usage("d-1", "acme", "m1", 1) + "," + repeated + "]");
  BOOST_TEST(refused.status == 400);
  BOOST_TEST(code_of(refused) == "invalid_event");
  BOOST_TEST(refused.json().at("error").at("field").as_string() == "[1].input_tokens", refused.body);
  BOOST_TEST(f.post(repeated).status == 400);  // the same outside an array
  BOOST_TEST(f.transactions("acme") == before);  // nothing of either was appended
}

BOOST_AUTO_TEST_CASE(a_rejection_of_a_brand_new_org_is_in_its_rejects_and_transactions) {
  Fixture f;
  f.seed();
  HttpReply rejected = f.post(adjustment("take-1", "newco", -5'000'000));
  BOOST_REQUIRE_EQUAL(rejected.status, 422);
  BOOST_TEST(text(rejected.json(), "reason") == "insufficient_balance");
  BOOST_TEST(f.get("/api/v1/org/newco/credits").status == 404);  // the ledger has no such org

  const json::array list = f.rejects("/api/v1/org/newco/rejects");
  BOOST_REQUIRE_EQUAL(list.size(), 1u);
  BOOST_TEST(text(list[0], "placement") == "before_org");
  BOOST_TEST(text(list[0], "reason") == "insufficient_balance");
  BOOST_TEST(text(list[0], "idempotency_key") == "take-1");
  BOOST_TEST(text(list[0], "type") == "admin_adjustment");

  HttpReply transactions = f.get("/api/v1/org/newco/credits/transactions");
  BOOST_REQUIRE_MESSAGE(transactions.status == 200, transactions.body);
  json::array entries = transactions.json().at("transactions").as_array();
  BOOST_REQUIRE_EQUAL(entries.size(), 1u);
  BOOST_TEST(entries[0].at("early").as_bool());
  BOOST_TEST(text(entries[0], "outcome") == "rejected");
  // Once newco exists its history follows the early reject; pages of one walk both.
  BOOST_REQUIRE_EQUAL(f.post(signup("grant-1", "newco", 10)).status, 200);
  const std::vector<std::string> keys =
      walk_pages(*f.client, "/api/v1/org/newco/credits/transactions?limit=1", "transactions", "idempotency_key");
  BOOST_TEST(keys == (std::vector<std::string>{"take-1", "grant-1"}), boost::test_tools::per_element());
  BOOST_TEST(f.get("/api/v1/org/nobody/credits/transactions").status == 404);
  BOOST_TEST(f.get("/api/v1/org/newco/credits/transactions?cursor=early:x").status == 400);
}

BOOST_AUTO_TEST_CASE(rejects_page_with_a_cursor_and_an_org_token_sees_only_its_org) {
  Fixture f;
  f.seed();
  for (int i = 0; i < 5; ++i) BOOST_REQUIRE_EQUAL(f.post(usage("x-" + std::to_string(i), "acme", "nope", 1)).status, 422);
  BOOST_REQUIRE_EQUAL(f.post(adjustment("g-1", "globex", -1)).status, 422);
  const std::vector<std::string> keys =
      walk_pages(*f.client, "/api/v1/org/acme/rejects?limit=2", "rejects", "idempotency_key", owner_token);
  BOOST_TEST(keys == (std::vector<std::string>{"x-0", "x-1", "x-2", "x-3", "x-4"}), boost::test_tools::per_element());
  BOOST_TEST(f.get("/api/v1/org/globex/rejects", owner_token).status == 403);
  BOOST_TEST(f.get("/api/v1/org/globex/signals", owner_token).status == 403);
  BOOST_TEST(f.get("/api/v1/rejects", owner_token).status == 403);
  BOOST_TEST(f.get("/api/v1/org/globex/rejects").json().at("rejects").as_array().size() == 1u);
  BOOST_TEST(f.get("/api/v1/org/acme/rejects?cursor=nope").status == 400);
  BOOST_TEST(f.get("/api/v1/org/acme/rejects?limit=0").status == 400);
  BOOST_TEST(f.get("/api/v1/rejects").json().at("rejects").as_array().empty());  // every reject has its org
}

BOOST_AUTO_TEST_CASE(poison_records_written_into_the_journal_are_the_admins_rejects) {
  ApiStackOptions options;
  options.before_projector = [](const std::string& journal_dir, LogWriter& events) {
    const int64_t at = t0_ms;
    std::vector<AppendRequest> records = {
        {"acme", "not a flatbuffer, not anything", false},
        {"acme", make_signup_allocation({"grant-1", "acme", at}, 5), false},
        {"acme", make_signup_allocation({"grant-2", "acme", at}, 7), false},
    };
    const std::vector<LogPosition> positions = events.append(records).value();
    BOOST_REQUIRE(journal_damage_key_length_for_test(journal_dir, "events", positions[2].partition, positions[2].offset).is_ok());
  };
  Fixture f(options);
  BOOST_REQUIRE_EQUAL(f.post(signup("marker", "acme", 1)).status, 200);  // everything before it is folded
  const json::array list = f.rejects("/api/v1/rejects");
  BOOST_REQUIRE_EQUAL(list.size(), 2u);
  BOOST_TEST(text(list[0], "reason") == "invalid_record");
  BOOST_TEST(text(list[1], "reason") == "damaged_record");
  BOOST_TEST(text(list[1], "detail").find("damaged journal frame") != std::string::npos, text(list[1], "detail"));
  for (const json::value& r : list) BOOST_TEST(text(r, "placement") == "no_org");
  BOOST_TEST(f.rejects("/api/v1/org/acme/rejects").empty());
  BOOST_TEST(f.get("/api/v1/org/acme/credits").json().at("balance_micros").to_number<int64_t>() == 6);
}

BOOST_AUTO_TEST_CASE(signals_page_by_org_and_kind) {
  Fixture f;
  BOOST_REQUIRE_EQUAL(f.post(signup("grant", "acme", 10'000'000)).status, 200);
  BOOST_REQUIRE_EQUAL(f.post(event("low_balance_threshold_set", "low", "acme", R"("threshold_micros":5000000)")).status, 200);
  int n = 0;
  for (int64_t change : {-7'000'000, 10'000'000, -11'000'000}) {
    BOOST_REQUIRE_EQUAL(f.post(adjustment("adj-" + std::to_string(++n), "acme", change)).status, 200);
  }
  HttpReply low = f.get("/api/v1/org/acme/signals?kind=balance_low");
  BOOST_REQUIRE_MESSAGE(low.status == 200, low.body);
  const json::array signals = low.json().at("signals").as_array();
  BOOST_REQUIRE_EQUAL(signals.size(), 2u);
  for (const json::value& s : signals) {
    BOOST_TEST(text(s, "kind") == "balance_low");
    BOOST_TEST(text(s, "org_id") == "acme");
  }
  BOOST_TEST(signals[0].at("balance_micros").to_number<int64_t>() == 3'000'000);
  // Pages of one give the same signals as one page.
  const std::size_t all = f.get("/api/v1/org/acme/signals").json().at("signals").as_array().size();
  const std::size_t walked = walk_pages(*f.client, "/api/v1/org/acme/signals?limit=1", "signals", "sequence", owner_token).size();
  BOOST_TEST(walked == all);
  HttpReply unknown = f.get("/api/v1/org/acme/signals?kind=sunshine");
  BOOST_TEST(unknown.status == 400);
  BOOST_TEST(unknown.json().at("error").at("field").as_string() == "kind");
  BOOST_TEST(f.get("/api/v1/org/nobody/signals").status == 404);
}

// The fold verifies every record once; nothing between the HTTP body and the fold verifies it.
BOOST_AUTO_TEST_CASE(each_event_is_verified_once_between_http_and_the_fold) {
  Fixture f;
  f.seed();
  std::string batch = "[";
  for (int i = 0; i < 200; ++i) batch += (i ? "," : "") + usage("v-" + std::to_string(i), "acme", "m1", 1);
  batch += "]";
  const uint64_t before = envelope_verifications();
  HttpReply reply = f.post(batch);
  BOOST_REQUIRE_EQUAL(reply.status, 200);
  BOOST_TEST(envelope_verifications() - before == 200u);
  // A command too.
  const uint64_t before_command = envelope_verifications();
  BOOST_REQUIRE_EQUAL(f.client->send("PUT", "/api/v1/org/acme/credits/member-limits/bob?wait=1", admin_token,
                                     R"({"monthly_limit_micros":5})").status,
                      200);
  BOOST_TEST(envelope_verifications() - before_command == 1u);
}

}  // namespace tally::api::testing
