// Holds over real HTTP (SPEC §11): the answers of the hold routes, and the no-deficit property —
// many agents calling at once, each placing a hold before its call and capturing the actual cost
// (never above the hold) after, never take the wallet below zero; every granted hold ends
// captured or released, and the final balance is purchases - Σ captured, exactly.
// Randomised: the seed is printed, and TALLY_SEED=<seed> replays it.
#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdlib>
#include <iostream>
#include <map>
#include <mutex>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include <boost/json.hpp>

#include "api/testing/http_test.h"

using namespace tally;
using namespace tally::api;
using namespace tally::api::testing;

namespace {

constexpr int64_t cr = 1'000'000;

int64_t micros(const HttpReply& reply, std::string_view field) {
  return reply.json().at(field).to_number<int64_t>();
}

struct Fixture : StackClient {
  explicit Fixture(int64_t purchased) {
    ApiStackOptions options;
    options.tokens = {admin_caller(), ingest_caller(), owner_caller()};
    options.blocking_threads = 16;
    options.connections_per_client_max = 256;
    start(options);
    const std::string purchase = R"({"type":"purchase","idempotency_key":"buy-1","org_id":"acme","occurred_at_ms":)" +
                                 std::to_string(now_ms() - 1000) + R"(,"credits_micros":)" + std::to_string(purchased) +
                                 R"(,"paid_minor":100,"currency":"usd","fee_minor":0,"bundles":1,"payment_ref":"ch_1"})";
    HttpReply bought = client->send("POST", "/api/v1/events?wait=1", admin_token, purchase);
    BOOST_REQUIRE_MESSAGE(bought.status == 200, bought.body);
  }
};

// A capture: usage at a reported cost (1x before any rate card), naming the hold, final.
std::string capture_event(const std::string& key, const std::string& hold_id, int64_t cost) {
  return R"({"type":"usage","idempotency_key":")" + key + R"(","org_id":"acme","occurred_at_ms":)" +
         std::to_string(now_ms()) + R"(,"meter":"llm_tokens","reported_cost_micros":)" + std::to_string(cost) +
         R"(,"hold_id":")" + hold_id + R"(","hold_final":true})";
}

}  // namespace

BOOST_AUTO_TEST_CASE(a_hold_is_granted_refused_listed_extended_and_released) {
  Fixture f(10 * cr);
  HttpClient& c = *f.client;
  HttpReply placed = c.send("POST", "/api/v1/org/acme/credits/holds", owner_token,
                            R"({"idempotency_key":"h-42","member_id":"u1","amount_micros":6000000,"ttl_ms":60000})");
  BOOST_REQUIRE_MESSAGE(placed.status == 201, placed.body);
  BOOST_TEST(placed.json().at("hold_id").as_string() == "h-42");
  BOOST_TEST(micros(placed, "granted_micros") == 6 * cr);
  BOOST_TEST(micros(placed, "available_micros") == 4 * cr);  // 10 - 6
  BOOST_TEST(micros(placed, "expires_at_ms") > now_ms());
  // The same request again: the same hold (a duplicate), not a second one.
  HttpReply again = c.send("POST", "/api/v1/org/acme/credits/holds", owner_token,
                           R"({"idempotency_key":"h-42","member_id":"u1","amount_micros":6000000,"ttl_ms":60000})");
  BOOST_TEST(again.status == 200);
  BOOST_TEST(again.json().at("outcome").as_string() == "duplicate");
  // 5 cr do not fit the 4 left: 402 with what is available.
  HttpReply refused = c.send("POST", "/api/v1/org/acme/credits/holds", ingest_token,
                             R"({"amount_micros":5000000,"ttl_ms":60000})", {{"Idempotency-Key", "h-43"}});
  BOOST_REQUIRE_MESSAGE(refused.status == 402, refused.body);
  BOOST_TEST(refused.json().at("reason").as_string() == "insufficient_available");
  BOOST_TEST(refused.json().at("error").at("code").as_string() == "insufficient_available");
  BOOST_TEST(micros(refused, "available_micros") == 4 * cr);
  // A bad field is a 400 naming it, before anything is appended.
  HttpReply bad = c.send("POST", "/api/v1/org/acme/credits/holds", owner_token, R"({"amount_micros":1,"ttl_ms":5})");
  BOOST_TEST(bad.status == 400);
  BOOST_TEST(bad.json().at("error").at("field").as_string() == "ttl_ms");
  HttpReply credits = c.send("GET", "/api/v1/org/acme/credits", owner_token);
  BOOST_TEST(micros(credits, "balance_micros") == 10 * cr);
  BOOST_TEST(micros(credits, "held_micros") == 6 * cr);
  BOOST_TEST(micros(credits, "available_micros") == 4 * cr);
  HttpReply extended = c.send("POST", "/api/v1/org/acme/credits/holds/h-42/extend", owner_token,
                              R"({"add_micros":1000000,"ttl_ms":120000})");
  BOOST_REQUIRE_MESSAGE(extended.status == 200, extended.body);
  BOOST_TEST(micros(extended, "granted_micros") == 1 * cr);
  BOOST_TEST(micros(extended, "available_micros") == 3 * cr);
  HttpReply listed = c.send("GET", "/api/v1/org/acme/credits/holds?status=active", owner_token);
  BOOST_REQUIRE(listed.status == 200);
  const boost::json::value list = listed.json();
  const boost::json::array& holds = list.at("holds").as_array();
  BOOST_REQUIRE_MESSAGE(holds.size() == 1u, listed.body);
  BOOST_TEST(holds[0].at("hold_id").as_string() == "h-42");
  BOOST_TEST(holds[0].at("member_id").as_string() == "u1");
  BOOST_TEST(holds[0].at("remaining_micros").to_number<int64_t>() == 7 * cr);
  HttpReply released = c.send("POST", "/api/v1/org/acme/credits/holds/h-42/release", owner_token);
  BOOST_REQUIRE_MESSAGE(released.status == 200, released.body);
  BOOST_TEST(micros(released, "available_micros") == 10 * cr);
  HttpReply twice = c.send("POST", "/api/v1/org/acme/credits/holds/h-42/release", owner_token);
  BOOST_TEST(twice.status == 422);
  BOOST_TEST(twice.json().at("reason").as_string() == "hold_not_active");
  // A capture that names the released hold is still usage (debited in full) but late: operators
  // see it counted in /metrics.
  const auto late_captures = [&c] {
    const std::string text = c.send("GET", "/metrics", admin_token).body;
    const std::string name = "\ntally_hold_late_captures_total ";
    const std::size_t at = text.find(name);
    BOOST_REQUIRE_MESSAGE(at != std::string::npos, text);
    return std::stoll(text.substr(at + name.size()));
  };
  BOOST_TEST(late_captures() == 0);
  HttpReply late = c.send("POST", "/api/v1/events?wait=1", ingest_token, capture_event("u-late", "h-42", cr));
  BOOST_REQUIRE_MESSAGE(late.status == 200, late.body);
  BOOST_TEST(micros(late, "balance_after_micros") == 9 * cr);
  BOOST_TEST(late_captures() == 1);
}

BOOST_AUTO_TEST_CASE(runway_says_what_available_buys_now_and_when_it_runs_out) {
  Fixture f(10 * cr);
  HttpClient& c = *f.client;
  const int64_t now = now_ms();
  // 1 cr used today (reported cost, 1x before any rate card): available 9 cr, burn 1 cr a day.
  HttpReply used = c.send("POST", "/api/v1/events?wait=1", ingest_token,
                          R"({"type":"usage","idempotency_key":"u-1","org_id":"acme","occurred_at_ms":)" +
                              std::to_string(now) + R"(,"meter":"llm_tokens","reported_cost_micros":1000000})");
  BOOST_REQUIRE_MESSAGE(used.status == 200, used.body);
  HttpReply card = c.send("POST", "/api/v1/events?wait=1", admin_token,
                          R"({"type":"rate_card_published","idempotency_key":"rc-1","occurred_at_ms":)" +
                              std::to_string(now) +
                              R"(,"version":1,"markup_bp":15000,"models":[{"model":"m1","input_per_mtok_micros":75000,"output_per_mtok_micros":300000}],"sandbox_classes":[{"class":"small","per_hour_micros":360000}]})");
  BOOST_REQUIRE_MESSAGE(card.status == 200, card.body);
  // small: 360,000 µcr/h × 1.5 = 540,000 µcr/h; 9 cr buy 9,000,000 × 3600 / 540,000 = 60,000 s.
  HttpReply sandbox = c.send("GET", "/api/v1/org/acme/credits/runway?sandbox_class=small", owner_token);
  BOOST_REQUIRE_MESSAGE(sandbox.status == 200, sandbox.body);
  BOOST_TEST(micros(sandbox, "available_micros") == 9 * cr);
  BOOST_TEST(micros(sandbox, "unit_cost_per_hour_micros") == 540'000);
  BOOST_TEST(micros(sandbox, "seconds") == 60'000);
  BOOST_TEST(micros(sandbox, "burn_24h_micros") == 1 * cr);
  // 9 cr at 1 cr a day: about 9 days from now.
  const int64_t exhausted = micros(sandbox, "exhausted_at_ms");
  BOOST_TEST(exhausted >= now + 9 * 86'400'000LL - 60'000);
  BOOST_TEST(exhausted <= now + 9 * 86'400'000LL + 60'000);
  // m1, 1M input + 100k output: (75,000 + 30,000) × 1.5 = 157,500 µcr a call; 9 cr buy 57 calls.
  HttpReply model = c.send("GET", "/api/v1/org/acme/credits/runway?model=m1&input_tokens=1000000&output_tokens=100000",
                           owner_token);
  BOOST_REQUIRE_MESSAGE(model.status == 200, model.body);
  BOOST_TEST(micros(model, "unit_cost_micros") == 157'500);
  BOOST_TEST(micros(model, "calls") == 57);
  BOOST_TEST(c.send("GET", "/api/v1/org/acme/credits/runway", owner_token).status == 400);
  BOOST_TEST(c.send("GET", "/api/v1/org/acme/credits/runway?model=m9", owner_token).status == 422);
}

BOOST_AUTO_TEST_CASE(concurrent_agents_holding_before_each_call_never_overdraw) {
  const char* env = std::getenv("TALLY_SEED");
  const uint64_t seed = env && *env ? std::strtoull(env, nullptr, 10) : static_cast<uint64_t>(now_ms());
  std::cout << "hold_routes_test: seed " << seed << " (replay with TALLY_SEED=" << seed << ")" << std::endl;
  constexpr int agents = 50;
  constexpr int calls_per_agent = 6;
  constexpr int64_t purchased = 20 * cr;  // demand is ~50 × 6 × 0.6 cr: most calls are refused
  Fixture f(purchased);
  std::atomic<int64_t> captured{0};
  std::atomic<int64_t> lowest_balance{purchased};
  std::atomic<int> granted{0}, refused{0}, failures{0};
  std::mutex failure_mutex;
  std::string first_failure;
  const auto fail = [&](const std::string& what) {
    ++failures;
    std::lock_guard lock(failure_mutex);
    if (first_failure.empty()) first_failure = what;
  };
  std::vector<std::thread> threads;
  for (int agent = 0; agent < agents; ++agent) {
    threads.emplace_back([&, agent] {
      std::mt19937_64 rng(seed * 1000 + static_cast<uint64_t>(agent));
      HttpClient client(f.stack->port());
      for (int call = 0; call < calls_per_agent; ++call) {
        const std::string hold_id = "h-" + std::to_string(agent) + "-" + std::to_string(call);
        const int64_t amount = std::uniform_int_distribution<int64_t>(cr / 5, cr)(rng);
        const bool partial = std::bernoulli_distribution(0.3)(rng);
        const std::string body = R"({"idempotency_key":")" + hold_id + R"(","member_id":"agent-)" +
                                 std::to_string(agent) + R"(","amount_micros":)" + std::to_string(amount) +
                                 R"(,"ttl_ms":60000)" + (partial ? R"(,"allow_partial":true})" : "}");
        HttpReply placed = client.send("POST", "/api/v1/org/acme/credits/holds", ingest_token, body);
        if (placed.status == 402) {
          ++refused;
          continue;
        }
        if (placed.status != 201) return fail("place " + hold_id + ": " + std::to_string(placed.status) + " " + placed.body);
        ++granted;
        const int64_t hold = micros(placed, "granted_micros");
        // Released without a call now and then; otherwise the call costs at most the hold.
        if (std::bernoulli_distribution(0.1)(rng)) {
          HttpReply released = client.send("POST", "/api/v1/org/acme/credits/holds/" + hold_id + "/release", ingest_token);
          if (released.status != 200) return fail("release " + hold_id + ": " + released.body);
          continue;
        }
        const int64_t cost = std::uniform_int_distribution<int64_t>(0, hold)(rng);
        HttpReply used = client.send("POST", "/api/v1/events?wait=1", ingest_token, capture_event("u-" + hold_id, hold_id, cost));
        if (used.status != 200) return fail("capture " + hold_id + ": " + used.body);
        captured += cost;
        const int64_t balance = micros(used, "balance_after_micros");
        int64_t lowest = lowest_balance.load();
        while (balance < lowest && !lowest_balance.compare_exchange_weak(lowest, balance)) {
        }
      }
    });
  }
  for (std::thread& t : threads) t.join();
  BOOST_REQUIRE_MESSAGE(failures == 0, first_failure << " (seed " << seed << ")");
  BOOST_TEST(lowest_balance.load() >= 0, "seed " << seed);
  HttpReply credits = f.client->send("GET", "/api/v1/org/acme/credits", admin_token);
  BOOST_TEST(micros(credits, "balance_micros") == purchased - captured.load(), "seed " << seed);
  BOOST_TEST(micros(credits, "held_micros") == 0, "every granted hold was captured or released; seed " << seed);
  HttpReply holds = f.client->send("GET", "/api/v1/org/acme/credits/holds", admin_token);
  BOOST_TEST(holds.json().at("holds").as_array().empty());
  BOOST_TEST(granted.load() > 0);
  BOOST_TEST(refused.load() > 0);  // the wallet ran dry: admission said no instead of a deficit
  BOOST_TEST_MESSAGE("granted " << granted << ", refused " << refused << ", captured " << captured << " µcr");
}

// Seed 004's sandboxes, over HTTP: three sandboxes of one org, each metered per second through a
// hold. Every tick a keepalive extends the hold for the next period, then captures the period the
// sandbox ran. bob's monthly limit stops bob's sandbox only; when the wallet has nothing left to
// hold, the next extend is refused (402), the sandbox captures its last period and stops, and the
// balance ends at zero, never below; after a top-up a sandbox is granted a hold again.
BOOST_AUTO_TEST_CASE(seed_004_sandboxes_extend_on_keepalive_and_stop_at_zero) {
  Fixture f(20 * cr);
  HttpClient& c = *f.client;
  const auto append = [&](const std::string& event) {
    HttpReply reply = c.send("POST", "/api/v1/events?wait=1", admin_token, event);
    BOOST_REQUIRE_MESSAGE(reply.status == 200 && reply.json().at("outcome").as_string() == "applied", reply.body);
    return micros(reply, "balance_after_micros");
  };
  const std::string at = std::to_string(now_ms());
  // One credit a sandbox-second (3,600 credits an hour), at 1x: a period of 2 s costs 2 credits.
  append(R"({"type":"rate_card_published","idempotency_key":"rc-1","occurred_at_ms":)" + at +
         R"(,"version":1,"markup_bp":10000,"sandbox_classes":[{"class":"standard","per_hour_micros":3600000000}]})");
  append(R"({"type":"member_limit_set","idempotency_key":"limit-bob","org_id":"acme","occurred_at_ms":)" + at +
         R"(,"member_id":"bob","monthly_limit_micros":5000000})");
  const std::vector<std::string> members = {"bob", "carol", "dave"};
  const std::string estimate = R"({"meter":"sandbox_seconds","sandbox_class":"standard","seconds":2})";
  const auto place = [&](const std::string& member, const std::string& key) {
    return c.send("POST", "/api/v1/org/acme/credits/holds", ingest_token,
                  R"({"idempotency_key":")" + key + R"(","member_id":")" + member + R"(","estimate":)" + estimate +
                      R"(,"ttl_ms":60000})");
  };
  for (const std::string& member : members) {
    HttpReply placed = place(member, "sbx-" + member);
    BOOST_REQUIRE_MESSAGE(placed.status == 201, placed.body);
    BOOST_TEST(micros(placed, "granted_micros") == 2 * cr);
  }
  int captures = 0;
  int64_t lowest_balance = 20 * cr;
  const auto capture = [&](const std::string& member, bool last) {
    const int64_t balance = append(
        R"({"type":"usage","idempotency_key":"run-)" + std::to_string(++captures) + R"(","org_id":"acme","occurred_at_ms":)" +
        std::to_string(now_ms()) + R"(,"member_id":")" + member +
        R"(","meter":"sandbox_seconds","sandbox_class":"standard","seconds":2,"hold_id":"sbx-)" + member +
        R"(","hold_final":)" + (last ? "true" : "false") + "}");
    lowest_balance = std::min(lowest_balance, balance);
  };
  std::map<std::string, std::string> stopped_by;  // member -> why the keepalive was refused
  for (int round = 0; round < 10; ++round) {
    for (const std::string& member : members) {
      if (stopped_by.count(member)) continue;
      HttpReply extended = c.send("POST", "/api/v1/org/acme/credits/holds/sbx-" + member + "/extend", ingest_token,
                                  R"({"add_estimate":)" + estimate + R"(,"ttl_ms":60000})");
      if (extended.status == 402) stopped_by[member] = extended.json().at("reason").as_string();
      else BOOST_REQUIRE_MESSAGE(extended.status == 200, member << " round " << round << ": " << extended.body);
      capture(member, extended.status == 402);  // the period it ran; the last one closes the hold
    }
  }
  // bob ran 2 periods (4 credits; 1 of his 5 left does not hold a third); carol and dave ran 4 each
  // until the wallet's 20 credits were spent: 4 + 8 + 8.
  BOOST_TEST(stopped_by["bob"] == "member_limit");
  BOOST_TEST(stopped_by["carol"] == "insufficient_available");
  BOOST_TEST(stopped_by["dave"] == "insufficient_available");
  BOOST_TEST(captures == 10);
  BOOST_TEST(lowest_balance == 0);
  HttpReply credits = c.send("GET", "/api/v1/org/acme/credits", admin_token);
  BOOST_TEST(micros(credits, "balance_micros") == 0);
  BOOST_TEST(micros(credits, "held_micros") == 0);
  HttpReply limits = c.send("GET", "/api/v1/org/acme/credits/member-limits", admin_token);
  BOOST_REQUIRE_MESSAGE(limits.status == 200, limits.body);
  const boost::json::value limits_json = limits.json();
  int bob_rows = 0;
  for (const boost::json::value& member : limits_json.at("members").as_array()) {
    if (member.at("member_id").as_string() != "bob") continue;
    ++bob_rows;
    BOOST_TEST(member.at("used_micros").to_number<int64_t>() == 4 * cr);
  }
  BOOST_TEST(bob_rows == 1);

  // A top-up: carol's sandbox is granted a hold again and resumes; bob's limit still says no.
  append(R"({"type":"purchase","idempotency_key":"buy-2","org_id":"acme","occurred_at_ms":)" + std::to_string(now_ms()) +
         R"(,"credits_micros":10000000,"paid_minor":1000,"currency":"usd","fee_minor":0,"bundles":1,"payment_ref":"ch_2"})");
  HttpReply resumed = place("carol", "sbx-carol-2");
  BOOST_REQUIRE_MESSAGE(resumed.status == 201, resumed.body);
  BOOST_TEST(micros(resumed, "available_micros") == 8 * cr);
  HttpReply bob = place("bob", "sbx-bob-2");
  BOOST_TEST(bob.status == 402);
  BOOST_TEST(bob.json().at("reason").as_string() == "member_limit");
}
