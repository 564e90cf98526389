// The HTTP API end to end: a real journal, the real projector and the server on a loopback port,
// spoken to over real HTTP/1.1 (Beast client). Every route, every error code, the three kinds of
// token, cursor pagination under concurrent writes, ?wait=1 read-your-writes, size limits and
// malformed input.
#include <boost/test/unit_test.hpp>

#include <atomic>
#include <cstdlib>
#include <random>
#include <set>
#include <thread>

#include <boost/json.hpp>

#include "api/auth.h"
#include "api/http_server.h"
#include "api/router.h"
#include "api/testing/http_test.h"
#include "engine/calendar.h"
#include "engine/partitioner.h"
#include "projections/failing_views.h"

using namespace tally;
using namespace tally::api;
using namespace tally::api::testing;
namespace json = boost::json;

namespace {

constexpr int64_t t0_ms = 1'763'856'000'000;  // 2025-11-23T00:00:00Z

std::vector<ApiToken> test_tokens() { return {admin_caller(), owner_caller(), globex_caller(), ingest_caller()}; }

std::string rate_card_json(int64_t version) {
  return R"({"type":"rate_card_published","idempotency_key":"rc-)" + std::to_string(version) +
         R"(","occurred_at_ms":)" + std::to_string(t0_ms) + R"(,"version":)" + std::to_string(version) +
         R"(,"markup_bp":10000,"models":[{"model":"m1","input_per_mtok_micros":1000000,"output_per_mtok_micros":2000000},)"
         R"({"model":"m2","input_per_mtok_micros":3000000,"output_per_mtok_micros":3000000}]})";
}

std::string signup_json(const std::string& org, const std::string& key, int64_t credits_micros, int64_t at_ms = t0_ms) {
  return R"({"type":"signup_allocation","idempotency_key":")" + key + R"(","org_id":")" + org +
         R"(","occurred_at_ms":)" + std::to_string(at_ms) + R"(,"credits_micros":)" + std::to_string(credits_micros) + "}";
}

// Cost with rate card 1: input 1 µcr/token, output 2 µcr/token (m1); 3 and 3 (m2).
std::string usage_json(const std::string& org, const std::string& key, const std::string& member,
                       const std::string& workspace, const std::string& model, int64_t input, int64_t output,
                       int64_t at_ms = t0_ms + 1000) {
  return R"({"type":"usage","idempotency_key":")" + key + R"(","org_id":")" + org + R"(","occurred_at_ms":)" +
         std::to_string(at_ms) + R"(,"member_id":")" + member + R"(","workspace":")" + workspace +
         R"(","meter":"llm_tokens","model":")" + model + R"(","input_tokens":)" + std::to_string(input) +
         R"(,"output_tokens":)" + std::to_string(output) + "}";
}

std::string array_of(const std::vector<std::string>& events) {
  std::string out = "[";
  for (std::size_t i = 0; i < events.size(); ++i) out += (i ? "," : "") + events[i];
  return out + "]";
}

struct ApiFixture : StackClient {
  explicit ApiFixture(ApiStackOptions options = {}) {
    if (options.tokens.empty()) options.tokens = test_tokens();
    start(options);
  }

  HttpReply get(std::string_view target, std::string_view token = admin_token) { return client->send("GET", target, token); }

  HttpReply post_events(const std::string& body, bool wait = true, std::string_view token = admin_token) {
    return client->send("POST", wait ? "/api/v1/events?wait=1" : "/api/v1/events", token, body);
  }

  // Rate card + signup for `org` (25,000 credits unless said), applied.
  void seed(const std::string& org, int64_t credits_micros = 25'000'000'000) {
    HttpReply rc = post_events(rate_card_json(1));
    BOOST_REQUIRE_MESSAGE(rc.status == 200, rc.body);
    HttpReply signup = post_events(signup_json(org, "signup-" + org, credits_micros));
    BOOST_REQUIRE_MESSAGE(signup.status == 200, signup.body);
  }

  json::object credits(const std::string& org) {
    HttpReply reply = get("/api/v1/org/" + org + "/credits");
    BOOST_REQUIRE_MESSAGE(reply.status == 200, reply.body);
    return reply.json().as_object();
  }
};

LogPosition parse_position(std::string_view text) {
  const std::size_t colon = text.find(':');
  return LogPosition{PartitionId{std::stoi(std::string(text.substr(0, colon)))},
                     Offset{std::stoll(std::string(text.substr(colon + 1)))}};
}

// A log that refuses every append.
class BrokenLog final : public LogWriter {
 public:
  int32_t partition_count() const override { return 4; }
  Result<std::vector<LogPosition>> append(std::span<const AppendRequest>) override {
    return Status::error(Status::Code::io_error, "disk full");
  }
};

}  // namespace

BOOST_AUTO_TEST_SUITE(units)

BOOST_AUTO_TEST_CASE(percent_decoding_and_queries) {
  BOOST_TEST(percent_decode("a%2Fb%20c", false, "p").value() == "a/b c");
  BOOST_TEST(percent_decode("a+b", true, "p").value() == "a b");
  BOOST_TEST(percent_decode("a+b", false, "p").value() == "a+b");
  for (std::string_view bad : {"%", "%4", "%zz", "a%0", "%00"}) {
    BOOST_TEST(!percent_decode(bad, false, "p").is_ok(), bad);
  }
  auto pairs = parse_query("a=1&b=x%20y&&c&d=");
  BOOST_REQUIRE(pairs.is_ok());
  BOOST_TEST(pairs->size() == 4u);
  BOOST_TEST(pairs.value()[1].second == "x y");
  BOOST_TEST(pairs.value()[2].first == "c");
  BOOST_TEST(!parse_query("a=%G0").is_ok());
  std::string many;
  for (int i = 0; i < 100; ++i) many += "x=1&";
  BOOST_TEST(!parse_query(many).is_ok());
}

BOOST_AUTO_TEST_CASE(route_table_prefers_literals_and_reports_methods) {
  RouteTable table;
  BOOST_REQUIRE(table.add(HttpMethod::get, "/a/{id}").is_ok());
  BOOST_REQUIRE(table.add(HttpMethod::get, "/a/special").is_ok());
  BOOST_REQUIRE(table.add(HttpMethod::put, "/a/{id}/x").is_ok());
  BOOST_TEST(!table.add(HttpMethod::get, "/a/{id}").is_ok());       // duplicate
  BOOST_TEST(!table.add(HttpMethod::get, "a").is_ok());             // relative
  BOOST_TEST(!table.add(HttpMethod::get, "/a//b").is_ok());         // empty segment
  BOOST_TEST(!table.add(HttpMethod::get, "/a/{Bad}").is_ok());      // parameter name
  BOOST_TEST(!table.add(HttpMethod::get, "/a/{x}/{x}").is_ok());    // repeated parameter
  auto special = table.match(HttpMethod::get, "/a/special");
  BOOST_TEST((special.kind == RouteTable::Match::Kind::found));
  BOOST_TEST(special.index == 1u);
  auto other = table.match(HttpMethod::get, "/a/b%40c");
  BOOST_TEST(other.index == 0u);
  BOOST_TEST(other.params.at("id") == "b@c");
  auto head = table.match(HttpMethod::head, "/a/z");
  BOOST_TEST((head.kind == RouteTable::Match::Kind::found));
  auto wrong = table.match(HttpMethod::get, "/a/z/x");
  BOOST_TEST((wrong.kind == RouteTable::Match::Kind::wrong_method));
  BOOST_TEST(wrong.allowed.size() == 1u);
  BOOST_TEST((table.match(HttpMethod::get, "/b").kind == RouteTable::Match::Kind::no_route));
  BOOST_TEST((table.match(HttpMethod::get, "/a/").kind == RouteTable::Match::Kind::no_route));
  BOOST_TEST((table.match(HttpMethod::get, "/a/%zz").kind == RouteTable::Match::Kind::bad_path));
}

BOOST_AUTO_TEST_CASE(tokens_compare_in_constant_time_and_parse) {
  BOOST_TEST(constant_time_equal("abc", "abc"));
  BOOST_TEST(!constant_time_equal("abc", "abd"));
  BOOST_TEST(!constant_time_equal("ab", "abc"));
  BOOST_TEST(!constant_time_equal("abcd", "abc"));
  BOOST_TEST(!constant_time_equal("", "abc"));
  BOOST_TEST(bearer_secret("Bearer xyz") == "xyz");
  BOOST_TEST(bearer_secret("bearer   xyz ") == "xyz");
  BOOST_TEST(bearer_secret("Basic xyz") == "");
  BOOST_TEST(bearer_secret("Bearer") == "");
  BOOST_TEST(bearer_secret("Bearerxyz") == "");

  Result<ApiToken> token = parse_api_token("ops:0123456789abcdef0123:org:acme,ingest");
  BOOST_REQUIRE(token.is_ok());
  BOOST_TEST(token->name == "ops");
  BOOST_TEST(token->secret == "0123456789abcdef0123");
  BOOST_TEST((token->scopes == std::vector<std::string>{"org:acme", "ingest"}));
  BOOST_TEST(!parse_api_token("ops:short:admin").is_ok());
  BOOST_TEST(!parse_api_token("ops:0123456789abcdef0123:org:bad/id").is_ok());
  BOOST_TEST(!parse_api_token("ops:0123456789abcdef0123:Admin!").is_ok());
  BOOST_TEST(!parse_api_token("nothing").is_ok());
  Result<ApiToken> reader = parse_api_token("dash:0123456789abcdef0123:org:acme:read");
  BOOST_REQUIRE(reader.is_ok());
  BOOST_TEST((reader->scopes == std::vector<std::string>{"org:acme:read"}));
  BOOST_TEST(!parse_api_token("dash:0123456789abcdef0123:org:acme:write").is_ok());
  BOOST_TEST(!parse_api_token("dash:0123456789abcdef0123:org::read").is_ok());

  Result<TokenTable> duplicate = TokenTable::make({{"a", "0123456789abcdef", {"admin"}}, {"b", "0123456789abcdef", {"ingest"}}});
  BOOST_TEST(!duplicate.is_ok());
  BOOST_TEST(duplicate.status().field() == "tokens[1].secret");
  Result<TokenTable> table = TokenTable::make(test_tokens());
  BOOST_REQUIRE(table.is_ok());
  BOOST_TEST((table->find(owner_token)->scopes == std::vector<std::string>{"org:acme"}));
  BOOST_TEST(table->find(owner_token)->token_name == "acme-owner");
  BOOST_TEST(table->find("acme-owner-token-00000000000") == nullptr);  // one character off
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(http)

BOOST_AUTO_TEST_CASE(healthz_and_metrics_answer_without_a_token) {
  ApiFixture f;
  HttpReply health = f.client->send("GET", "/healthz");
  BOOST_TEST(health.status == 200);
  BOOST_TEST(health.json().at("status").as_string() == "ok");
  BOOST_TEST(health.json().at("partitions").to_number<int64_t>() == 0);  // none projected yet
  HttpReply metrics = f.client->send("GET", "/metrics");
  BOOST_TEST(metrics.status == 200);
  BOOST_TEST(metrics.header("Content-Type").starts_with("text/plain"));
  BOOST_TEST(metrics.body.find("tally_events_total{outcome=\"applied\"}") != std::string::npos);
  BOOST_TEST(metrics.body.find("tally_consumer_lag{partition=\"0\"} 0") != std::string::npos);
  BOOST_TEST(metrics.body.find("tally_http_requests_total{route=\"GET /healthz\",status=\"200\"} 1") != std::string::npos);
  BOOST_TEST(metrics.body.find("tally_projector_batch_commit_seconds_count") != std::string::npos);
  HttpReply head = f.client->send("HEAD", "/healthz");
  BOOST_TEST(head.status == 200);
  BOOST_TEST(head.body.empty());
}

BOOST_AUTO_TEST_CASE(credits_shows_balance_in_micros_and_credits) {
  ApiFixture f;
  f.seed("acme", 100'000'000);  // 100 credits
  // 10,000 input + 5,000 output tokens of m1: 10,000 + 10,000 = 20,000 µcr, five times.
  std::vector<std::string> usage;
  for (int i = 0; i < 5; ++i) usage.push_back(usage_json("acme", "u-" + std::to_string(i), "alice", "ws1", "m1", 10'000, 5'000));
  HttpReply posted = f.post_events(array_of(usage));
  BOOST_REQUIRE_MESSAGE(posted.status == 200, posted.body);

  json::object c = f.credits("acme");
  BOOST_TEST(c.at("org_id").as_string() == "acme");
  BOOST_TEST(c.at("balance").as_string() == "99.900000");
  BOOST_TEST(c.at("balance_micros").to_number<int64_t>() == 99'900'000);
  BOOST_TEST(c.at("available").as_string() == "99.900000");
  BOOST_TEST(c.at("available_micros").to_number<int64_t>() == 99'900'000);
  BOOST_TEST(c.at("is_low_balance").as_bool() == false);
  BOOST_TEST(c.at("is_exhausted").as_bool() == false);
  BOOST_TEST(c.at("paused").as_bool() == false);
  BOOST_TEST(c.at("auto_refill_enabled").as_bool() == false);
  BOOST_TEST(c.at("plan").as_string() == "pro");
  BOOST_TEST(c.at("billing_mode").as_string() == "credits");
  BOOST_TEST(c.at("totals").at("allocated_micros").to_number<int64_t>() == 100'000'000);
  BOOST_TEST(c.at("totals").at("used").as_string() == "0.100000");
  // as_of: the org's partition and the next offset there, past every event we wrote.
  const LogPosition as_of = parse_position(c.at("as_of").as_string());
  BOOST_TEST(as_of.partition.value == partition_for_key("acme", 4));
  const json::array positions = posted.json().at("events").as_array();
  BOOST_TEST(as_of.offset.value > parse_position(positions.back().at("position").as_string()).offset.value);

  // Overdraw: usage is a fact, the balance goes negative, available stops at zero.
  HttpReply big = f.post_events(usage_json("acme", "u-big", "alice", "ws1", "m2", 20'000'000, 20'000'000));
  BOOST_REQUIRE_MESSAGE(big.status == 200, big.body);
  c = f.credits("acme");
  BOOST_TEST(c.at("balance_micros").to_number<int64_t>() == 99'900'000 - 120'000'000);
  BOOST_TEST(c.at("balance").as_string() == "-20.100000");
  BOOST_TEST(c.at("available_micros").to_number<int64_t>() == 0);
  BOOST_TEST(c.at("is_exhausted").as_bool() == true);
  BOOST_TEST(c.at("paused").as_bool() == true);
}

// Read-your-writes without ?wait=1 (SPEC §13): a read given the position a command returned
// answers with that record in the views, waits for it if needed, and says 503 `behind` (with
// Retry-After) when it does not come.
BOOST_AUTO_TEST_CASE(a_read_at_min_position_includes_the_command_that_returned_it) {
  ApiFixture f;
  f.seed("acme", 100'000'000);
  for (int i = 1; i <= 20; ++i) {
    HttpReply posted = f.post_events(usage_json("acme", "mp-" + std::to_string(i), "alice", "ws1", "m1", 10'000, 5'000),
                                     false);
    BOOST_REQUIRE_MESSAGE(posted.status == 202, posted.body);
    const std::string position(posted.json().at("position").as_string());  // one event: one position
    HttpReply read = f.get("/api/v1/org/acme/credits?min_position=" + position);
    BOOST_REQUIRE_MESSAGE(read.status == 200, read.body);
    BOOST_TEST(read.json().at("balance_micros").to_number<int64_t>() == 100'000'000 - 20'000 * i);
    BOOST_TEST(parse_position(read.json().at("as_of").as_string()).offset.value > parse_position(position).offset.value);
  }
  for (std::string_view bad : {"abc", "1:", ":5", "1:-2", "99999:1", "1:2:3"}) {
    HttpReply refused = f.get("/api/v1/org/acme/credits?min_position=" + std::string(bad));
    BOOST_TEST(refused.status == 400, bad);
    BOOST_TEST(refused.json().at("error").at("field").as_string() == "min_position", bad);
  }
  const int32_t home = partition_for_key("acme", 4);
  HttpReply ahead = f.get("/api/v1/org/acme/credits?min_position=" + std::to_string(home) + ":999999999");
  BOOST_TEST(ahead.status == 503);
  BOOST_TEST(code_of(ahead) == "behind");
  BOOST_TEST(ahead.header("Retry-After") == "1");
}

BOOST_AUTO_TEST_CASE(unknown_org_is_404_and_bad_org_id_is_400) {
  ApiFixture f;
  f.seed("acme");
  for (std::string_view route : {"/credits", "/credits/transactions", "/credits/auto-refill", "/credits/member-limits", "/usage"}) {
    HttpReply missing = f.get("/api/v1/org/nobody" + std::string(route));
    BOOST_TEST(missing.status == 404, route);
    BOOST_TEST(code_of(missing) == "org_not_found");
    HttpReply bad = f.get("/api/v1/org/bad%3Aid" + std::string(route));
    BOOST_TEST(bad.status == 400, route);
    BOOST_TEST(field_of(bad) == "org");
  }
}

BOOST_AUTO_TEST_CASE(scopes_admin_org_and_ingest) {
  ApiFixture f;
  f.seed("acme");
  f.seed("globex");
  // No token, a wrong token, a wrong scheme: 401 with a Bearer challenge.
  HttpReply none = f.client->send("GET", "/api/v1/org/acme/credits");
  BOOST_TEST(none.status == 401);
  BOOST_TEST(none.header("WWW-Authenticate") == "Bearer");
  BOOST_TEST(code_of(none) == "unauthorized");
  BOOST_TEST(f.get("/api/v1/org/acme/credits", "acme-owner-token-00000000002").status == 401);
  BOOST_TEST(f.client->send("GET", "/api/v1/org/acme/credits", {}, {}, {{"Authorization", "Basic YWRtaW46"}}).status == 401);
  // Org tokens: their org only, reads and commands.
  BOOST_TEST(f.get("/api/v1/org/acme/credits", owner_token).status == 200);
  BOOST_TEST(f.get("/api/v1/org/globex/credits", owner_token).status == 403);
  BOOST_TEST(code_of(f.get("/api/v1/org/globex/credits", owner_token)) == "forbidden");
  // An org token learns nothing about other orgs, not even whether they exist.
  BOOST_TEST(f.get("/api/v1/org/nobody/credits", owner_token).status == 403);
  BOOST_TEST(f.client->send("PUT", "/api/v1/org/acme/credits/member-limits/bob", owner_token, R"({"monthly_limit_micros":5})").status == 202);
  BOOST_TEST(f.client->send("PUT", "/api/v1/org/globex/credits/member-limits/bob", owner_token, R"({"monthly_limit_micros":5})").status == 403);
  // Org tokens append owner commands of their own org only (the role table: authorization_test).
  const std::string own = R"({"type":"member_limit_set","idempotency_key":"own-org","org_id":"acme","member_id":"a","monthly_limit_micros":5})";
  BOOST_TEST(f.post_events(own, false, owner_token).status == 202);
  HttpReply usage = f.post_events(usage_json("acme", "own-usage", "a", "w", "m1", 1, 1), false, owner_token);
  BOOST_TEST(usage.status == 403);
  BOOST_TEST(field_of(usage) == "type");
  const std::string theirs = R"({"type":"member_limit_set","idempotency_key":"mixed-2","org_id":"globex","member_id":"a","monthly_limit_micros":5})";
  HttpReply foreign = f.post_events("[" + own + "," + theirs + "]", false, owner_token);
  BOOST_TEST(foreign.status == 403);
  BOOST_TEST(field_of(foreign) == "[1].org_id");
  BOOST_TEST(f.post_events(rate_card_json(7), false, owner_token).status == 403);
  // Ingest: POST /api/v1/events only.
  BOOST_TEST(f.post_events(usage_json("globex", "ingested", "a", "w", "m1", 1, 1), false, ingest_token).status == 202);
  BOOST_TEST(f.get("/api/v1/org/acme/credits", ingest_token).status == 403);
  BOOST_TEST(f.client->send("DELETE", "/api/v1/org/acme/credits/auto-refill", ingest_token).status == 403);
  // Admin: everything.
  BOOST_TEST(f.get("/api/v1/org/globex/credits", admin_token).status == 200);
  BOOST_TEST(f.get("/api/v1/org/acme/credits/transactions", admin_token).status == 200);
}

BOOST_AUTO_TEST_CASE(post_events_single_array_and_wait) {
  ApiFixture f;
  f.seed("acme");
  // Without wait: 202 and the position, "applied": false.
  HttpReply accepted = f.post_events(usage_json("acme", "k1", "alice", "ws", "m1", 100, 0), false);
  BOOST_TEST(accepted.status == 202);
  const json::object a = accepted.json().as_object();
  BOOST_TEST(a.at("applied").as_bool() == false);
  BOOST_TEST(a.at("idempotency_key").as_string() == "k1");
  const LogPosition position = parse_position(a.at("position").as_string());
  BOOST_TEST(position.partition.value == partition_for_key("acme", 4));
  BOOST_TEST(f.stack->projector().wait_until_applied(position, 10'000));
  // With wait: 200, the outcome of every event.
  HttpReply waited = f.post_events(array_of({usage_json("acme", "k2", "alice", "ws", "m1", 100, 0),
                                             usage_json("acme", "k1", "alice", "ws", "m1", 100, 0),
                                             usage_json("acme", "k3", "alice", "ws", "unpriced-model", 100, 0)}));
  BOOST_REQUIRE_MESSAGE(waited.status == 200, waited.body);
  const json::array events = waited.json().at("events").as_array();
  BOOST_TEST(events.size() == 3u);
  BOOST_TEST(events[0].at("index").to_number<int>() == 0);
  BOOST_TEST(events[0].at("outcome").as_string() == "applied");
  BOOST_TEST(events[1].at("outcome").as_string() == "duplicate");
  BOOST_TEST(events[2].at("outcome").as_string() == "rejected");
  BOOST_TEST(events[2].at("reason").as_string() == "unpriced");
  // A global event goes to every partition.
  HttpReply card = f.post_events(rate_card_json(2), false);
  BOOST_TEST(card.status == 202);
  BOOST_TEST(card.json().at("positions").as_array().size() == 4u);
}

BOOST_AUTO_TEST_CASE(post_events_batch_is_all_or_nothing) {
  ApiFixture f;
  f.seed("acme");
  const json::object before = f.credits("acme");
  HttpReply bad = f.post_events(array_of({usage_json("acme", "ok-1", "a", "w", "m1", 10, 0),
                                          R"({"type":"usage","idempotency_key":"bad","org_id":"acme","occurred_at_ms":1,"meter":"llm_tokens","model":"m1","input_tokens":-5})",
                                          usage_json("acme", "ok-2", "a", "w", "m1", 10, 0)}));
  BOOST_TEST(bad.status == 400);
  BOOST_TEST(code_of(bad) == "invalid_event");
  BOOST_TEST(field_of(bad) == "[1].input_tokens");
  // Unknown type, unknown field, not an object, not JSON, empty, a number.
  BOOST_TEST(field_of(f.post_events(array_of({usage_json("acme", "x", "a", "w", "m1", 1, 1), R"({"type":"teleport"})"}))) == "[1].type");
  BOOST_TEST(field_of(f.post_events(R"({"type":"tick","idempotency_key":"t","org_id":"acme","occurred_at_ms":1,"colour":"red"})")) == "colour");
  BOOST_TEST(field_of(f.post_events("[1]")) == "[0]");
  BOOST_TEST(code_of(f.post_events("{not json")) == "invalid_json");
  BOOST_TEST(f.post_events("[]").status == 400);
  BOOST_TEST(f.post_events("").status == 400);
  BOOST_TEST(f.post_events("42").status == 400);
  BOOST_TEST(f.post_events(std::string(100, '[') + std::string(100, ']')).status == 400);  // too deep
  // Nothing of the failed batches reached the log: the org's history did not grow.
  HttpReply marker = f.post_events(usage_json("acme", "marker", "a", "w", "m1", 10, 0));
  BOOST_REQUIRE(marker.status == 200);
  HttpReply history = f.get("/api/v1/org/acme/credits/transactions");
  const json::array entries = history.json().at("transactions").as_array();
  BOOST_TEST(entries.size() == 2u);  // the signup and the marker
  BOOST_TEST(entries.back().at("idempotency_key").as_string() == "marker");
  BOOST_TEST(f.credits("acme").at("balance_micros").to_number<int64_t>() == before.at("balance_micros").to_number<int64_t>() - 10);
}

BOOST_AUTO_TEST_CASE(idempotency_keys_give_duplicates_and_conflicts) {
  ApiFixture f;
  f.seed("acme");
  const std::vector<std::pair<std::string, std::string>> key = {{"Idempotency-Key", "limit-bob-1"}};
  HttpReply first = f.client->send("PUT", "/api/v1/org/acme/credits/member-limits/bob?wait=1", admin_token,
                                   R"({"monthly_limit_micros":5000000})", key);
  BOOST_REQUIRE_MESSAGE(first.status == 200, first.body);
  BOOST_TEST(first.json().at("idempotency_key").as_string() == "limit-bob-1");
  BOOST_TEST(first.json().at("outcome").as_string() == "applied");
  // A retry of the same request is a duplicate: no second effect.
  HttpReply retry = f.client->send("PUT", "/api/v1/org/acme/credits/member-limits/bob?wait=1", admin_token,
                                   R"({"monthly_limit_micros":5000000})", key);
  BOOST_TEST(retry.status == 200);
  BOOST_TEST(retry.json().at("outcome").as_string() == "duplicate");
  // The same key for a different request is a conflict: 409.
  HttpReply conflict = f.client->send("PUT", "/api/v1/org/acme/credits/member-limits/bob?wait=1", admin_token,
                                      R"({"monthly_limit_micros":7000000})", key);
  BOOST_TEST(conflict.status == 409);
  BOOST_TEST(code_of(conflict) == "idempotency_conflict");
  BOOST_TEST(conflict.json().at("outcome").as_string() == "conflict");
  // Generated keys differ per request.
  HttpReply a = f.client->send("DELETE", "/api/v1/org/acme/credits/member-limits/bob", admin_token);
  HttpReply b = f.client->send("DELETE", "/api/v1/org/acme/credits/member-limits/bob", admin_token);
  BOOST_TEST(a.json().at("idempotency_key").as_string() != b.json().at("idempotency_key").as_string());
  BOOST_TEST(f.client->send("DELETE", "/api/v1/org/acme/credits/member-limits/bob", admin_token, {},
                            {{"Idempotency-Key", std::string(300, 'k')}}).status == 400);
}

BOOST_AUTO_TEST_CASE(auto_refill_put_get_delete) {
  ApiFixture f;
  f.seed("acme", 50'000'000);
  HttpReply put = f.client->send(
      "PUT", "/api/v1/org/acme/credits/auto-refill?wait=1", owner_token,
      R"({"enabled":true,"threshold_micros":10000000,"refill_credits_micros":25000000,"max_per_day":2,"max_per_month":10,"payment_customer":"cus_123"})");
  BOOST_REQUIRE_MESSAGE(put.status == 200, put.body);
  const json::object policy = put.json().at("auto_refill").as_object();
  BOOST_TEST(policy.at("enabled").as_bool());
  BOOST_TEST(policy.at("threshold").as_string() == "10.000000");
  BOOST_TEST(policy.at("refill_credits_micros").to_number<int64_t>() == 25'000'000);
  BOOST_TEST(policy.at("max_per_day").to_number<int>() == 2);
  BOOST_TEST(policy.at("payment_customer").as_string() == "cus_123");

  HttpReply got = f.get("/api/v1/org/acme/credits/auto-refill", owner_token);
  BOOST_TEST(got.status == 200);
  BOOST_TEST(got.json().at("max_per_month").to_number<int>() == 10);
  json::object c = f.credits("acme");
  BOOST_TEST(c.at("auto_refill_enabled").as_bool());
  BOOST_TEST(c.at("low_balance_threshold_micros").to_number<int64_t>() == 10'000'000);

  HttpReply removed = f.client->send("DELETE", "/api/v1/org/acme/credits/auto-refill?wait=1", owner_token);
  BOOST_REQUIRE_MESSAGE(removed.status == 200, removed.body);
  BOOST_TEST(removed.json().at("auto_refill").at("enabled").as_bool() == false);
  BOOST_TEST(f.credits("acme").at("auto_refill_enabled").as_bool() == false);
  // Disabled through PUT keeps a policy without amounts.
  HttpReply off = f.client->send("PUT", "/api/v1/org/acme/credits/auto-refill?wait=1", owner_token, R"({"enabled":false})");
  BOOST_TEST(off.status == 200, off.body);
}

BOOST_AUTO_TEST_CASE(command_body_errors_name_the_field) {
  ApiFixture f;
  f.seed("acme");
  auto put = [&](std::string_view body) {
    return f.client->send("PUT", "/api/v1/org/acme/credits/auto-refill", admin_token, body);
  };
  struct Case {
    std::string body;
    std::string field;
  };
  const std::vector<Case> cases = {
      {R"({"enabled":true,"refill_credits_micros":1})", "threshold_micros"},
      {R"({"threshold_micros":1})", "refill_credits_micros"},
      {R"({"threshold_micros":0,"refill_credits_micros":1})", "threshold_micros"},
      {R"({"threshold_micros":"10","refill_credits_micros":1})", "threshold_micros"},
      {R"({"threshold_micros":1.5,"refill_credits_micros":1})", "threshold_micros"},
      {R"({"threshold_micros":18446744073709551615,"refill_credits_micros":1})", "threshold_micros"},
      {R"({"threshold_micros":1,"refill_credits_micros":1,"max_per_day":-1})", "max_per_day"},
      {R"({"threshold_micros":1,"refill_credits_micros":1,"max_per_month":4294967296})", "max_per_month"},
      {R"({"threshold_micros":1,"refill_credits_micros":1,"enabled":"yes"})", "enabled"},
      {R"({"threshold_micros":1,"refill_credits_micros":1,"payment_customer":7})", "payment_customer"},
      {R"({"threshold_micros":1,"refill_credits_micros":1,"colour":"red"})", "colour"},
      {R"([1,2])", "body"},
      {R"({"threshold_micros":)", "body"},
      {"", "body"},
  };
  for (const Case& c : cases) {
    HttpReply reply = put(c.body);
    BOOST_TEST(reply.status == 400, c.body);
    BOOST_TEST(field_of(reply) == c.field, c.body);
  }
  auto limit = [&](std::string_view user, std::string_view body) {
    return f.client->send("PUT", "/api/v1/org/acme/credits/member-limits/" + std::string(user), admin_token, body);
  };
  BOOST_TEST(field_of(limit("bob", R"({})")) == "monthly_limit_micros");
  BOOST_TEST(field_of(limit("bob", R"({"monthly_limit_micros":0})")) == "monthly_limit_micros");
  BOOST_TEST(field_of(limit("b%2Fob", R"({"monthly_limit_micros":1})")) == "user_id");
  BOOST_TEST(field_of(f.client->send("PUT", "/api/v1/org/acme/credits/member-limits/bob?wait=maybe", admin_token,
                                     R"({"monthly_limit_micros":1})")) == "wait");
}

BOOST_AUTO_TEST_CASE(member_limits_put_get_delete) {
  ApiFixture f;
  f.seed("acme");
  // Commands carry the server's clock, and limits are judged for the partition clock's month: the
  // usage must be of this month too.
  const int64_t now_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                             std::chrono::system_clock::now().time_since_epoch()).count();
  const YearMonth month = year_month(utc_month(now_ms));
  const std::string month_text = std::to_string(month.year) + (month.month < 10 ? "-0" : "-") + std::to_string(month.month);
  HttpReply used = f.post_events(usage_json("acme", "bob-1", "bob", "ws", "m1", 3'000'000, 0, now_ms - 1000));  // 3 credits
  BOOST_REQUIRE(used.status == 200);
  HttpReply put = f.client->send("PUT", "/api/v1/org/acme/credits/member-limits/bob?wait=1", owner_token,
                                 R"({"monthly_limit_micros":2000000})");
  BOOST_REQUIRE_MESSAGE(put.status == 200, put.body);
  const json::object member = put.json().at("member").as_object();
  BOOST_TEST(member.at("member_id").as_string() == "bob");
  BOOST_TEST(member.at("monthly_limit").as_string() == "2.000000");
  BOOST_TEST(member.at("used_micros").to_number<int64_t>() == 3'000'000);
  BOOST_TEST(member.at("exceeded").as_bool() == true);
  BOOST_TEST(member.at("month").as_string() == month_text);

  HttpReply list = f.get("/api/v1/org/acme/credits/member-limits", owner_token);
  BOOST_TEST(list.status == 200);
  BOOST_TEST(list.json().at("members").as_array().size() == 1u);

  HttpReply cleared = f.client->send("DELETE", "/api/v1/org/acme/credits/member-limits/bob?wait=1", owner_token);
  BOOST_REQUIRE_MESSAGE(cleared.status == 200, cleared.body);
  BOOST_TEST(cleared.json().at("member").at("has_limit").as_bool() == false);
  BOOST_TEST(cleared.json().at("member").at("exceeded").as_bool() == false);
  BOOST_TEST(cleared.json().at("member").at("monthly_limit_micros").is_null());
}

BOOST_AUTO_TEST_CASE(commands_without_wait_become_visible_at_their_position) {
  ApiFixture f;
  f.seed("acme");
  HttpReply put = f.client->send("PUT", "/api/v1/org/acme/credits/member-limits/carol", admin_token,
                                 R"({"monthly_limit_micros":1000000})");
  BOOST_REQUIRE_MESSAGE(put.status == 202, put.body);
  BOOST_TEST(put.json().at("applied").as_bool() == false);
  const LogPosition position = parse_position(put.json().at("position").as_string());
  // A client that holds a position reads until as_of passes it; then its write is visible.
  BOOST_TEST(eventually([&] {
    const LogPosition as_of = parse_position(f.credits("acme").at("as_of").as_string());
    return as_of.offset > position.offset;
  }));
  HttpReply list = f.get("/api/v1/org/acme/credits/member-limits");
  BOOST_TEST(list.json().at("members").as_array().at(0).at("member_id").as_string() == "carol");
}

BOOST_AUTO_TEST_CASE(transactions_pages_with_cursor_under_concurrent_writes) {
  ApiFixture f;
  f.seed("acme");
  std::vector<std::string> first;
  for (int i = 0; i < 250; ++i) first.push_back(usage_json("acme", "p-" + std::to_string(i), "a", "w", "m1", 1, 0, t0_ms + i));
  BOOST_REQUIRE(f.post_events(array_of(first)).status == 200);

  // A writer keeps appending (small batches, through its own connection) while we page.
  std::atomic<bool> writing{true};
  std::atomic<int> written{0};
  std::thread writer([&] {
    HttpClient client(f.stack->port());
    for (int batch = 0; batch < 40; ++batch) {
      std::vector<std::string> events;
      for (int i = 0; i < 5; ++i) {
        const int n = batch * 5 + i;
        events.push_back(usage_json("acme", "c-" + std::to_string(n), "a", "w", "m1", 1, 0, t0_ms + 10'000 + n));
      }
      HttpReply r = client.send("POST", "/api/v1/events", admin_token, array_of(events));
      if (r.status == 202) written += 5;
    }
    writing = false;
  });

  std::vector<uint64_t> sequences;
  std::set<std::string> keys;
  std::string cursor;
  int pages = 0;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (std::chrono::steady_clock::now() < deadline) {
    HttpReply page = f.get("/api/v1/org/acme/credits/transactions?limit=37" + (cursor.empty() ? "" : "&cursor=" + cursor));
    BOOST_REQUIRE_MESSAGE(page.status == 200, page.body);
    ++pages;
    const json::object body = page.json().as_object();
    for (const json::value& entry : body.at("transactions").as_array()) {
      sequences.push_back(entry.at("sequence").to_number<uint64_t>());
      BOOST_TEST(keys.insert(std::string(entry.at("idempotency_key").as_string())).second);
    }
    BOOST_TEST(body.at("transactions").as_array().size() <= 37u);
    if (!body.at("next_cursor").is_null()) {
      cursor = std::string(body.at("next_cursor").as_string());
      continue;
    }
    // Caught up with the projector: go on from the last entry seen until the writer's events are in.
    if (!sequences.empty()) cursor = std::to_string(sequences.back() + 1);
    if (!writing && sequences.size() >= 451u) break;
  }
  writer.join();
  BOOST_TEST(written.load() == 200);
  BOOST_TEST(pages >= 12);
  // Dense, in order, nothing twice, nothing missed: 1 signup + 250 + 200.
  BOOST_REQUIRE(sequences.size() == 451u);
  for (std::size_t i = 0; i < sequences.size(); ++i) BOOST_TEST(sequences[i] == i);
}

BOOST_AUTO_TEST_CASE(transactions_filters_and_parameter_errors) {
  ApiFixture f;
  f.seed("acme");
  std::vector<std::string> events;
  for (int i = 0; i < 10; ++i) events.push_back(usage_json("acme", "f-" + std::to_string(i), "a", "w", "m1", 1, 0, t0_ms + 1000 * i));
  BOOST_REQUIRE(f.post_events(array_of(events)).status == 200);
  auto count = [&](const std::string& query) {
    HttpReply r = f.get("/api/v1/org/acme/credits/transactions?" + query);
    BOOST_REQUIRE_MESSAGE(r.status == 200, r.body);
    return r.json().at("transactions").as_array().size();
  };
  BOOST_TEST(count("") == 11u);
  BOOST_TEST(count("type=usage") == 10u);
  BOOST_TEST(count("type=signup_allocation") == 1u);
  BOOST_TEST(count("type=refund") == 0u);
  BOOST_TEST(count("from=" + std::to_string(t0_ms + 3000) + "&to=" + std::to_string(t0_ms + 6000)) == 3u);
  BOOST_TEST(count("limit=500") == 11u);
  HttpReply first = f.get("/api/v1/org/acme/credits/transactions?limit=1");
  const json::object entry = first.json().at("transactions").at(0).as_object();
  BOOST_TEST(entry.at("type").as_string() == "signup_allocation");
  BOOST_TEST(entry.at("amount").as_string() == "25000.000000");
  BOOST_TEST(entry.at("outcome").as_string() == "applied");
  BOOST_TEST(first.json().at("next_cursor").as_string() == "1");

  for (const std::string& bad : {std::string("limit=0"), std::string("limit=501"), std::string("limit=abc"),
                                 std::string("limit=1e2"), std::string("limit=-1"), std::string("limit=%2B5"),
                                 std::string("limit=99999999999999999999"), std::string("cursor=x"),
                                 std::string("cursor=-3"), std::string("from=yesterday"), std::string("to=1.5"),
                                 std::string("type=teleport"), std::string("from=10&to=5")}) {
    HttpReply r = f.get("/api/v1/org/acme/credits/transactions?" + bad);
    BOOST_TEST(r.status == 400, bad);
    BOOST_TEST(code_of(r) != "<no error body>", bad);
  }
  BOOST_TEST(field_of(f.get("/api/v1/org/acme/credits/transactions?limit=0")) == "limit");
  BOOST_TEST(field_of(f.get("/api/v1/org/acme/credits/transactions?cursor=x")) == "cursor");
  BOOST_TEST(field_of(f.get("/api/v1/org/acme/credits/transactions?a=%zz")) == "query");
}

BOOST_AUTO_TEST_CASE(usage_grouped_by_model_member_workspace_and_day) {
  ApiFixture f;
  f.seed("acme");
  BOOST_REQUIRE(f.post_events(array_of({usage_json("acme", "g1", "alice", "ws1", "m1", 1000, 0),
                                        usage_json("acme", "g2", "alice", "ws2", "m2", 1000, 0),
                                        usage_json("acme", "g3", "bob", "ws1", "m1", 1000, 500),
                                        usage_json("acme", "g4", "bob", "ws1", "m1", 1000, 0, t0_ms + 86'400'000)}))
                    .status == 200);
  auto groups = [&](const std::string& query) {
    HttpReply r = f.get("/api/v1/org/acme/usage?" + query);
    BOOST_REQUIRE_MESSAGE(r.status == 200, r.body);
    std::map<std::string, int64_t> out;
    const json::value body = r.json();
    for (const json::value& g : body.at("groups").as_array()) {
      out[std::string(g.at("key").as_string())] = g.at("debited_micros").to_number<int64_t>();
    }
    return out;
  };
  BOOST_TEST((groups("group_by=model") == std::map<std::string, int64_t>{{"m1", 1000 + 2000 + 1000}, {"m2", 3000}}));
  BOOST_TEST((groups("group_by=member") == std::map<std::string, int64_t>{{"alice", 4000}, {"bob", 3000}}));
  BOOST_TEST((groups("group_by=workspace") == std::map<std::string, int64_t>{{"ws1", 4000}, {"ws2", 3000}}));
  BOOST_TEST((groups("group_by=day") == std::map<std::string, int64_t>{{"2025-11-23", 6000}, {"2025-11-24", 1000}}));
  BOOST_TEST((groups("group_by=member&from=" + std::to_string(t0_ms + 86'400'000)) == std::map<std::string, int64_t>{{"bob", 1000}}));
  HttpReply all = f.get("/api/v1/org/acme/usage");
  BOOST_TEST(all.json().at("total").at("debited").as_string() == "0.007000");
  BOOST_TEST(all.json().at("total").at("events").to_number<int>() == 4);
  BOOST_TEST(field_of(f.get("/api/v1/org/acme/usage?group_by=colour")) == "group_by");
  BOOST_TEST(field_of(f.get("/api/v1/org/acme/usage?from=x")) == "from");
}

BOOST_AUTO_TEST_CASE(routing_errors_are_404_and_405) {
  ApiFixture f;
  HttpReply missing = f.get("/api/v1/nothing");
  BOOST_TEST(missing.status == 404);
  BOOST_TEST(code_of(missing) == "not_found");
  BOOST_TEST(f.get("/").status == 404);
  BOOST_TEST(f.get("/api/v1/org/acme/credits/").status == 404);
  BOOST_TEST(f.get("/api/v1/org//credits").status == 404);
  HttpReply wrong = f.client->send("POST", "/api/v1/org/acme/credits", admin_token, "{}");
  BOOST_TEST(wrong.status == 405);
  BOOST_TEST(code_of(wrong) == "method_not_allowed");
  BOOST_TEST(f.client->send("PATCH", "/api/v1/org/acme/credits/auto-refill", admin_token, "{}").header("Allow") == "GET, PUT, DELETE");
  BOOST_TEST(f.client->send("PROPFIND", "/api/v1/org/acme/credits", admin_token).status == 405);
  BOOST_TEST(f.client->send("PROPFIND", "/nowhere", admin_token).status == 404);
  BOOST_TEST(f.get("/api/v1/org/a%zzb/credits").status == 400);
}

BOOST_AUTO_TEST_CASE(bodies_over_the_limit_are_413) {
  ApiFixture f;
  // Declared too large: refused after the headers, before reading the body.
  HttpReply declared = f.client->raw(
      "POST /api/v1/events HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + std::string(admin_token) +
      "\r\nContent-Length: 1048577\r\n\r\n{");
  BOOST_TEST(declared.status == 413);
  BOOST_TEST(code_of(declared) == "body_too_large");
  // Sent too large.
  const std::string big(http_body_bytes_max + 10, ' ');
  HttpReply sent = f.client->send("POST", "/api/v1/events", admin_token, big);
  BOOST_TEST(sent.status == 413);
  // Chunked, growing past the limit.
  std::string chunked = "POST /api/v1/events HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + std::string(admin_token) +
                        "\r\nTransfer-Encoding: chunked\r\n\r\n";
  const std::string chunk(64 * 1024, 'x');
  for (int i = 0; i < 20; ++i) chunked += "10000\r\n" + chunk + "\r\n";
  chunked += "0\r\n\r\n";
  BOOST_TEST(f.client->raw(chunked).status == 413);
  // Exactly at the limit is read (and then judged as JSON).
  HttpReply at_limit = f.client->send("POST", "/api/v1/events", admin_token, std::string(http_body_bytes_max, ' '));
  BOOST_TEST(at_limit.status == 400);
  BOOST_TEST(f.client->send("GET", "/healthz").status == 200);
}

BOOST_AUTO_TEST_CASE(malformed_requests_never_crash_the_server) {
  ApiFixture f;
  f.seed("acme");
  const std::vector<std::string> garbage = {
      "\r\n\r\n",
      "GARBAGE\r\n\r\n",
      "GET\r\n\r\n",
      "GET / HTTP/9.9\r\n\r\n",
      "GET /healthz HTTP/1.1\r\nHost x\r\n\r\n",
      "GET /healthz HTTP/1.1\r\nContent-Length: -1\r\n\r\n",
      "GET /healthz HTTP/1.1\r\nContent-Length: 99999999999999999999999\r\n\r\n",
      "POST /api/v1/events HTTP/1.1\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello",
      "POST /api/v1/events HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
      std::string("GET /heal\0thz HTTP/1.1\r\n\r\n", 27),
      "GET http://example.com/healthz HTTP/1.1\r\n\r\n",
      "GET * HTTP/1.1\r\n\r\n",
      std::string(20'000, 'A'),
      "\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03",  // a TLS ClientHello
  };
  for (const std::string& bytes : garbage) {
    HttpReply reply = f.client->raw(bytes);
    // Either a 4xx answer or a closed connection; never a 5xx, never a dead server.
    BOOST_TEST((reply.status == 0 || (reply.status >= 400 && reply.status < 500)), bytes.substr(0, 40));
  }
  // Huge headers: 431.
  HttpReply huge = f.client->raw("GET /healthz HTTP/1.1\r\nX-Big: " + std::string(40'000, 'b') + "\r\n\r\n");
  BOOST_TEST(huge.status == 431);
  HttpReply many = f.client->send("GET", "/healthz", {}, {}, std::vector<std::pair<std::string, std::string>>(3000, {"X-A", "b"}));
  BOOST_TEST(many.status == 431);
  // A client that sends half a request and goes away.
  f.client->raw("GET /api/v1/org/acme/cre");
  // Pipelined requests are answered in order.
  HttpReply pipelined = f.client->raw("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\nGET /healthz HTTP/1.1\r\nHost: x\r\n\r\n");
  BOOST_TEST(pipelined.status == 200);
  // HTTP/1.0 without keep-alive still gets an answer.
  BOOST_TEST(f.client->raw("GET /healthz HTTP/1.0\r\n\r\n").status == 200);
  // Bad percent-encoding and numbers in the query: 400 with a field.
  BOOST_TEST(f.get("/api/v1/org/acme/credits/transactions?limit=%").status == 400);
  BOOST_TEST(f.get("/api/v1/org/acme/credits/transactions?limit=%00").status == 400);
  // Still serving.
  BOOST_TEST(f.credits("acme").at("balance_micros").to_number<int64_t>() == 25'000'000'000);
  BOOST_TEST(f.stack->projector_error().empty());
}

// Random damage to valid requests (seeded; TALLY_SEED replays a run): every answer is a 2xx or a
// 4xx or a closed connection — never a 5xx, never a dead server.
BOOST_AUTO_TEST_CASE(randomly_damaged_requests_get_4xx_never_5xx) {
  const char* seed_text = std::getenv("TALLY_SEED");
  const uint64_t seed = seed_text != nullptr ? std::strtoull(seed_text, nullptr, 10) : 20261123;
  BOOST_TEST_MESSAGE("randomly_damaged_requests seed=" << seed << " (set TALLY_SEED to replay)");
  std::mt19937_64 rng(seed);
  ApiFixture f;
  f.seed("acme");
  const std::string auth = "Authorization: Bearer " + std::string(admin_token) + "\r\n";
  const std::string event = usage_json("acme", "fz", "alice", "ws", "m1", 10, 0);
  const std::string card = rate_card_json(9);
  auto send = [&](const std::string& method, const std::string& target, const std::string& body) {
    return method + " " + target + " HTTP/1.1\r\nHost: x\r\n" + auth + "Content-Type: application/json\r\nContent-Length: " +
           std::to_string(body.size()) + "\r\n\r\n" + body;
  };
  const std::vector<std::string> valid = {
      "GET /api/v1/org/acme/credits HTTP/1.1\r\nHost: x\r\n" + auth + "\r\n",
      "GET /api/v1/org/acme/credits/transactions?limit=5&type=usage&from=1&to=99999999999999 HTTP/1.1\r\n" + auth + "\r\n",
      "GET /api/v1/org/acme/usage?group_by=member&from=0 HTTP/1.1\r\n" + auth + "\r\n",
      send("POST", "/api/v1/events", event),
      send("POST", "/api/v1/events?wait=1", "[" + event + "," + card + "]"),
      send("PUT", "/api/v1/org/acme/credits/auto-refill",
           R"({"enabled":true,"threshold_micros":5,"refill_credits_micros":9,"max_per_day":1,"max_per_month":0})"),
      send("PUT", "/api/v1/org/acme/credits/member-limits/bob?wait=1", R"({"monthly_limit_micros":100})"),
      send("DELETE", "/api/v1/org/acme/credits/auto-refill", ""),
  };
  std::string alphabet = "{}[]\":,.-+eE0123456789%?&=/ \r\n\\abcdefghijklmnopqrstuvwxyz";
  alphabet += std::string{'\0', '\xff', '\x80', '\x7f', '\t'};
  int answered = 0;
  for (int round = 0; round < 400; ++round) {
    std::string bytes = valid[rng() % valid.size()];
    const int damage = 1 + static_cast<int>(rng() % 4);
    for (int d = 0; d < damage && !bytes.empty(); ++d) {
      const std::size_t at = rng() % bytes.size();
      switch (rng() % 4) {
        case 0: bytes[at] = alphabet[rng() % alphabet.size()]; break;                  // replace
        case 1: bytes.insert(at, 1, alphabet[rng() % alphabet.size()]); break;         // insert
        case 2: bytes.erase(at, 1 + rng() % 8); break;                                 // delete
        default: bytes.resize(at); break;                                              // truncate
      }
    }
    HttpReply reply = f.client->raw(bytes);
    if (reply.status != 0) ++answered;
    BOOST_TEST((reply.status == 0 || (reply.status >= 200 && reply.status < 500)), "seed " << seed << " round " << round);
  }
  BOOST_TEST(answered > 100);
  BOOST_TEST(f.client->send("GET", "/healthz").status == 200);
  BOOST_TEST(f.stack->projector_error().empty());
}

BOOST_AUTO_TEST_CASE(connections_over_the_limit_are_refused) {
  ApiStackOptions options;
  options.connections_max = 2;
  options.connections_per_client_max = 2;
  ApiFixture f(options);
  auto a = std::make_unique<HttpClient>(f.stack->port());
  auto b = std::make_unique<HttpClient>(f.stack->port());
  BOOST_REQUIRE(a->send("GET", "/healthz").status == 200);
  BOOST_REQUIRE(b->send("GET", "/healthz").status == 200);
  // One answer at once, then the connection is closed.
  testing::RawConnection third(f.stack->port());
  BOOST_REQUIRE(third.connected());
  HttpReply refused = third.read_reply(std::chrono::seconds(10));
  BOOST_TEST(refused.status == 503);
  BOOST_TEST(code_of(refused) == "too_many_connections");
  BOOST_TEST(third.closed_by_server(std::chrono::seconds(10)));
  a.reset();  // one goes away: room for another
  BOOST_TEST(eventually([&] { return f.client->raw("GET /healthz HTTP/1.1\r\n\r\n").status == 200; }));
  BOOST_TEST(b->send("GET", "/healthz").status == 200);
}

BOOST_AUTO_TEST_CASE(keep_alive_reuses_one_connection) {
  ApiFixture f;
  f.seed("acme");
  HttpClient client(f.stack->port());
  for (int i = 0; i < 50; ++i) BOOST_REQUIRE(client.send("GET", "/api/v1/org/acme/credits", admin_token).status == 200);
  BOOST_TEST(client.connects() == 1);
}

BOOST_AUTO_TEST_CASE(concurrent_readers_while_the_projector_writes) {
  ApiFixture f;
  f.seed("acme");
  std::atomic<bool> done{false};
  std::atomic<int> failures{0};
  std::atomic<int> reads{0};
  std::vector<std::thread> readers;
  for (int r = 0; r < 4; ++r) {
    readers.emplace_back([&] {
      HttpClient client(f.stack->port());
      int64_t last_balance = INT64_MAX;
      while (!done) {
        HttpReply reply = client.send("GET", "/api/v1/org/acme/credits", admin_token);
        if (reply.status != 200) {
          ++failures;
          continue;
        }
        // Usage only: each reader sees the balance fall, never rise.
        const int64_t balance = reply.json().at("balance_micros").to_number<int64_t>();
        if (balance > last_balance) ++failures;
        last_balance = balance;
        ++reads;
      }
    });
  }
  HttpClient writer(f.stack->port());
  for (int batch = 0; batch < 30; ++batch) {
    std::vector<std::string> events;
    for (int i = 0; i < 20; ++i) {
      events.push_back(usage_json("acme", "cr-" + std::to_string(batch * 20 + i), "a", "w", "m1", 10, 0));
    }
    BOOST_REQUIRE(writer.send("POST", "/api/v1/events", admin_token, array_of(events)).status == 202);
  }
  BOOST_TEST(eventually([&] { return f.credits("acme").at("totals").at("used_micros").to_number<int64_t>() == 6000; }));
  done = true;
  for (std::thread& t : readers) t.join();
  BOOST_TEST(failures.load() == 0);
  BOOST_TEST(reads.load() > 0);
}

BOOST_AUTO_TEST_CASE(extra_routes_register_with_their_own_auth) {
  ApiStackOptions options;
  options.tokens = test_tokens();
  options.tokens.push_back({"litellm", "litellm-secret-0000000000001", {"litellm"}});
  HttpServer* server_ptr = nullptr;
  options.before_start = [&](HttpServer& server) {
    server_ptr = &server;
    // Verifies its own secret (like the Stripe webhook's signature) and ingests mapped events.
    BOOST_REQUIRE(server.add_route({HttpMethod::post, "/api/v1/webhooks/test", RouteAuth::none(),
                                    [&server](const ApiRequest& request) {
                                      if (request.header("x-signature").value_or("") != "good") {
                                        return ApiResponse::error(401, "bad_signature", "signature mismatch",
                                                                  "X-Signature");
                                      }
                                      return server.submit_events({request.body}, request);
                                    },
                                    true})
                      .is_ok());
    BOOST_REQUIRE(server.add_route({HttpMethod::post, "/api/v1/internal/test/{thing}", RouteAuth::scoped("litellm"),
                                    [](const ApiRequest& request) {
                                      return ApiResponse::json(200, R"({"thing":")" + std::string(request.path_param("thing")) +
                                                                        R"(","q":")" + std::string(request.query_param("q").value_or("")) + "\"}");
                                    },
                                    false})
                      .is_ok());
    BOOST_REQUIRE(server.add_route({HttpMethod::get, "/api/v1/internal/throws", RouteAuth::admin(),
                                    [](const ApiRequest&) -> ApiResponse { throw std::runtime_error("boom"); }, false})
                      .is_ok());
    BOOST_REQUIRE(server.add_route({HttpMethod::get, "/api/v1/internal/throws-blocking", RouteAuth::admin(),
                                    [](const ApiRequest&) -> ApiResponse { throw std::runtime_error("boom"); }, true})
                      .is_ok());
    // Registration errors.
    BOOST_TEST(!server.add_route({HttpMethod::get, "/api/v1/org/{org}/credits", RouteAuth::org_read(), [](const ApiRequest&) { return ApiResponse{}; }, false}).is_ok());
    BOOST_TEST(!server.add_route({HttpMethod::get, "no-slash", RouteAuth::none(), [](const ApiRequest&) { return ApiResponse{}; }, false}).is_ok());
    BOOST_TEST(!server.add_route({HttpMethod::get, "/x", RouteAuth::none(), nullptr, false}).is_ok());
    BOOST_TEST(!server.add_route({HttpMethod::get, "/x/{id}", RouteAuth::org_read("org"), [](const ApiRequest&) { return ApiResponse{}; }, false}).is_ok());
    BOOST_TEST(!server.add_route({HttpMethod::get, "/x", RouteAuth::scoped("Not A Scope"), [](const ApiRequest&) { return ApiResponse{}; }, false}).is_ok());
  };
  ApiFixture f(options);
  BOOST_REQUIRE(server_ptr != nullptr);
  BOOST_TEST(!server_ptr->add_route({HttpMethod::get, "/late", RouteAuth::none(), [](const ApiRequest&) { return ApiResponse{}; }, false}).is_ok());
  f.seed("acme");

  const std::string event = usage_json("acme", "hook-1", "a", "w", "m1", 5, 0);
  HttpReply unsigned_call = f.client->send("POST", "/api/v1/webhooks/test", {}, event);
  BOOST_TEST(unsigned_call.status == 401);
  BOOST_TEST(field_of(unsigned_call) == "X-Signature");
  HttpReply hook = f.client->send("POST", "/api/v1/webhooks/test?wait=1", {}, event, {{"X-Signature", "good"}});
  BOOST_REQUIRE_MESSAGE(hook.status == 200, hook.body);
  BOOST_TEST(hook.json().at("events").at(0).at("outcome").as_string() == "applied");
  HttpReply bad_hook = f.client->send("POST", "/api/v1/webhooks/test", {}, "{}", {{"X-Signature", "good"}});
  BOOST_TEST(bad_hook.status == 400);
  BOOST_TEST(field_of(bad_hook) == "[0].type");

  BOOST_TEST(f.client->send("POST", "/api/v1/internal/test/x", {}, "{}").status == 401);
  BOOST_TEST(f.client->send("POST", "/api/v1/internal/test/x", owner_token, "{}").status == 403);
  HttpReply custom = f.client->send("POST", "/api/v1/internal/test/a%20b?q=c+d", "litellm-secret-0000000000001", "{}");
  BOOST_TEST(custom.status == 200);
  BOOST_TEST(custom.json().at("thing").as_string() == "a b");
  BOOST_TEST(custom.json().at("q").as_string() == "c d");
  BOOST_TEST(f.client->send("POST", "/api/v1/internal/test/x", admin_token, "{}").status == 200);
  HttpReply thrown = f.get("/api/v1/internal/throws");
  BOOST_TEST(thrown.status == 500);
  BOOST_TEST(code_of(thrown) == "internal");
  BOOST_TEST(f.get("/api/v1/internal/throws-blocking").status == 500);
  BOOST_TEST(f.client->send("GET", "/healthz").status == 200);
}

BOOST_AUTO_TEST_CASE(metrics_count_outcomes_lag_and_requests) {
  ApiFixture f;
  f.seed("acme");
  BOOST_REQUIRE(f.post_events(array_of({usage_json("acme", "m-1", "a", "w", "m1", 1, 0),
                                        usage_json("acme", "m-1", "a", "w", "m1", 1, 0)}))
                    .status == 200);
  BOOST_REQUIRE(f.get("/api/v1/org/nobody/credits").status == 404);
  HttpReply metrics = f.client->send("GET", "/metrics");
  BOOST_TEST(metrics.status == 200);
  const std::string& text = metrics.body;
  BOOST_TEST(text.find("tally_events_total{outcome=\"duplicate\"} 1") != std::string::npos, text);
  BOOST_TEST(text.find("tally_projector_batches_total") != std::string::npos);
  BOOST_TEST(text.find("tally_http_requests_total{route=\"GET /api/v1/org/{org}/credits\",status=\"404\"} 1") != std::string::npos);
  BOOST_TEST(text.find("tally_http_requests_total{route=\"POST /api/v1/events\",status=\"200\"}") != std::string::npos);
  BOOST_TEST(text.find("tally_http_request_duration_seconds_bucket{route=\"POST /api/v1/events\",le=\"+Inf\"}") != std::string::npos);
  BOOST_TEST(text.find("tally_api_events_appended_total 7") != std::string::npos, text);  // 4 rate cards, signup, 2 usage
  BOOST_TEST(text.find("tally_views_readable 1") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(wait_timeout_answers_202_and_failures_answer_503) {
  ApiFixture f;
  f.seed("acme");
  // A projector that never catches up: ?wait=1 gives up and says "accepted, not yet applied".
  HttpServerOptions options;
  options.tokens = test_tokens();
  options.wait_timeout_ms = 50;
  HttpServer slow(options, f.stack->views(), f.stack->writer(), [](LogPosition, int) { return OutcomeWait{}; });
  BOOST_REQUIRE(slow.start().is_ok());
  HttpClient client(slow.port());
  HttpReply waited = client.send("PUT", "/api/v1/org/acme/credits/member-limits/bob?wait=1", admin_token,
                                 R"({"monthly_limit_micros":1})");
  BOOST_TEST(waited.status == 202);
  BOOST_TEST(waited.json().at("applied").as_bool() == false);
  slow.stop();
  slow.stop();  // idempotent

  // Unreadable views and a log that refuses appends: 503 with a JSON error, never a crash.
  FailingViews views(Status::error(Status::Code::io_error, "mdb_txn_begin: I/O error"));  // an unreadable store
  BrokenLog log;
  HttpServer broken(options, views, log, [](LogPosition, int) { return OutcomeWait{OutcomeWait::State::expired, {}}; });
  BOOST_REQUIRE(broken.start().is_ok());
  HttpClient broken_client(broken.port());
  BOOST_TEST(broken_client.send("GET", "/healthz").status == 503);
  BOOST_TEST(broken_client.send("GET", "/api/v1/org/acme/credits", admin_token).status == 503);
  BOOST_TEST(broken_client.send("GET", "/metrics").status == 200);
  HttpReply append = broken_client.send("POST", "/api/v1/events", admin_token, usage_json("acme", "x", "a", "w", "m1", 1, 0));
  BOOST_TEST(append.status == 503);
  BOOST_TEST(code_of(append) == "log_unavailable");
  BOOST_TEST(broken_client.send("DELETE", "/api/v1/org/acme/credits/auto-refill", admin_token).status == 503);
}

BOOST_AUTO_TEST_CASE(start_checks_options_and_tokens) {
  ApiFixture f;
  auto start_with = [&](const std::function<void(HttpServerOptions&)>& change) {
    HttpServerOptions options;
    options.tokens = test_tokens();
    change(options);
    HttpServer server(options, f.stack->views(), f.stack->writer(), [](LogPosition, int) { return OutcomeWait{}; });
    return server.start();
  };
  BOOST_TEST(start_with([](HttpServerOptions&) {}).is_ok());
  BOOST_TEST(start_with([](HttpServerOptions& o) { o.host = "not-an-ip"; }).field() == "host");
  BOOST_TEST(start_with([](HttpServerOptions& o) { o.io_threads = 0; }).field() == "io_threads");
  BOOST_TEST(start_with([](HttpServerOptions& o) { o.tokens.push_back({"weak", "short", {"admin"}}); }).field() == "tokens[4].secret");
  BOOST_TEST(start_with([](HttpServerOptions& o) { o.tokens.push_back({"x", "0123456789abcdefXYZ", {"org:"}}); }).field() == "tokens[4].scopes[0]");
  const Status in_use = start_with([&](HttpServerOptions& o) { o.port = f.stack->port(); });
  BOOST_TEST((in_use.code() == Status::Code::io_error));
}

BOOST_AUTO_TEST_SUITE_END()
