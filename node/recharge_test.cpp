// The refill loop end to end through a Node (embedded journal, projector, outbox emitter, recharge
// connector, HTTP API on port 0) against the real Stripe emulator (stripe-stateful-mock).
//
// Retryable failures: the emulator cannot make a saved customer's charge answer 429/5xx (tok_429
// and tok_500 act only as a charge `source`, and a 500 is stored and replayed). So those tests put
// a flaky proxy (outbound/testing/http_receiver.h) between the connector and the emulator: it
// answers 429 / 503 itself for the first attempts, never reaching Stripe, then forwards — exactly
// what a rate limiter or a failing load balancer in front of Stripe does.
#include <boost/test/unit_test.hpp>

#include <atomic>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include <boost/json.hpp>

#include "log/kafka_testing.h"
#include "node/node.h"
#include "node/testing/node_test.h"
#include "outbound/http_client.h"
#include "outbound/stripe_client.h"
#include "outbound/testing/http_receiver.h"
#include "outbound/testing/stripe_emulator.h"
#include "outbound/testing/stripe_test.h"
#include "relay/recharge.h"
#include "relay/testing/relay_harness.h"

using namespace tally;
using namespace tally::connectors;
using namespace tally::connectors::testing;

namespace {

constexpr const char* admin_token = "test-admin-token-0123456789";

StripeConfig stripe_config(const std::string& base_url) {
  StripeConfig config;
  config.base_url = base_url;
  config.api_key = StripeEmulator::api_key;
  config.request_timeout_ms = 5'000;
  config.retry.attempts_max = 4;
  config.retry.backoff_ms_initial = 20;
  config.retry.backoff_ms_max = 100;
  config.retry.jitter_seed = 11;
  return config;
}

std::string customer_with(const std::string& token) {
  StripeClient client(stripe_config(emulator().base_url()));
  auto customer = client.create_customer(token);
  BOOST_REQUIRE_MESSAGE(customer.is_ok(), customer.status().to_string());
  return customer.value();
}

std::size_t charges_for(const std::string& org) {
  StripeClient client(stripe_config(emulator().base_url()));
  return charges_with_metadata(client, "org_id", org);
}

struct RunningNode {
  TempDir dir;
  std::unique_ptr<Node> node;

  explicit RunningNode(RechargeOptions recharge, std::string kafka_brokers = {}) {
    NodeOptions options = test_node_options(dir.path());
    options.kafka_brokers = std::move(kafka_brokers);
    options.tokens.push_back(node_token("admin", admin_token, "admin"));
    options.recharge = std::move(recharge);
    node = start_test_node(options);
  }

  ViewReader& views() { return *node->views(); }
  std::optional<OrgState> state(const std::string& org) { return org_state(views(), org); }
};

// The story most tests here tell: 50 credits bought, auto-refill below 20 up to 100 credits on
// `customer`'s card, then 45 credits of usage: 5 left, so one recharge is requested. Returns the
// script, for a test that goes on.
OrgScript refill_requested(RunningNode& running, const std::string& org, const std::string& customer) {
  OrgScript script(running.node->events_writer(), org);
  BOOST_REQUIRE(script.rate_card().is_ok());
  BOOST_REQUIRE(script.purchase(50).is_ok());
  BOOST_REQUIRE(script.auto_refill(20, 100, customer).is_ok());
  BOOST_REQUIRE(script.usage_output_tokens(2'000'000).is_ok());
  return script;
}

RechargeOptions recharge_options(const std::string& base_url) {
  RechargeOptions options;
  options.stripe = stripe_config(base_url);
  return options;
}

// A proxy to the emulator that answers the first `failures` charge attempts itself with the given
// statuses (cycling), then forwards. Records each attempt's Idempotency-Key.
class FlakyStripe {
 public:
  FlakyStripe(std::string upstream, std::vector<int> statuses, int failures)
      : upstream_(std::move(upstream)), statuses_(std::move(statuses)), failures_(failures) {
    auto started = HttpReceiver::start([this](const ReceivedRequest& request) { return handle(request); });
    BOOST_REQUIRE(started.is_ok());
    receiver_ = std::move(started.value());
  }
  std::string url() const { return receiver_->url(); }
  std::vector<std::string> keys() const {
    std::lock_guard lock(mutex_);
    return keys_;
  }

 private:
  ReceiverResponse handle(const ReceivedRequest& request) {
    if (request.method == "POST" && request.target == "/v1/charges") {
      const std::string* key = request.header("idempotency-key");
      std::lock_guard lock(mutex_);
      keys_.push_back(key != nullptr ? *key : std::string());
      if (failures_ != 0) {
        if (failures_ > 0) --failures_;
        const int status = statuses_[attempt_++ % statuses_.size()];
        return ReceiverResponse{status, R"({"error":{"type":"api_error","message":"flaky proxy says )" +
                                            std::to_string(status) + R"("}})", {}};
      }
    }
    std::vector<HttpHeader> headers;
    for (const char* name : {"authorization", "idempotency-key", "content-type", "stripe-version"}) {
      if (const std::string* value = request.header(name)) headers.push_back({name, *value});
    }
    HttpRequest forward;
    forward.method = request.method;
    forward.url = upstream_ + request.target;
    forward.headers = std::move(headers);
    forward.body = request.body;
    auto answer = http_.send(forward);
    if (!answer.is_ok()) return ReceiverResponse{502, R"({"error":{"message":"upstream"}})", {}};
    ReceiverResponse response{answer->status_code, answer->body, {}};
    for (const char* name : {"idempotent-replayed", "stripe-should-retry", "content-type"}) {
      if (const std::string* value = answer->header(name)) response.headers.push_back({name, *value});
    }
    return response;
  }

  std::string upstream_;
  std::vector<int> statuses_;
  int failures_;  // < 0: fail forever
  std::size_t attempt_ = 0;
  mutable std::mutex mutex_;
  std::vector<std::string> keys_;
  HttpClient http_;  // used on the receiver's one thread
  std::unique_ptr<HttpReceiver> receiver_;
};

std::size_t signals_of(RunningNode& running, const std::string& org, SignalKind kind) {
  std::size_t count = 0;
  for (const SignalRecord& s : read_signals(running.dir.sub("journal"))) {
    if (s.org_id == org && s.kind == kind) ++count;
  }
  return count;
}

}  // namespace

BOOST_TEST_GLOBAL_FIXTURE(EmulatorFixture);

BOOST_AUTO_TEST_CASE(seed_002_story_refills_once_and_the_balance_is_back_above_100) {
  const std::string customer = customer_with("tok_visa");
  RunningNode running(recharge_options(emulator().base_url()));
  const std::string org = unique_name("agentceo");
  OrgScript script(running.node->events_writer(), org);
  BOOST_REQUIRE(script.rate_card().is_ok());
  BOOST_REQUIRE(script.open().is_ok());
  BOOST_REQUIRE(script.purchase(100).is_ok());                      // prepay $100
  BOOST_REQUIRE(script.auto_refill(20, 100, customer).is_ok());     // below $20, top up $100
  BOOST_REQUIRE(script.usage_output_tokens(2'000'000).is_ok());     // 45 credits: 55 left
  BOOST_REQUIRE(script.usage_output_tokens(2'000'000).is_ok());     // 45 more: 10, below 20

  BOOST_REQUIRE_MESSAGE(wait_until([&] { return count_history(running.views(), org, "auto_refill") == 1; }),
                        "no AutoRefill landed");
  auto state = running.state(org);
  BOOST_REQUIRE(state.has_value());
  BOOST_TEST(state->balance_micros == Micros{110 * micros});  // 10 + 100: back above 100
  BOOST_TEST(!state->refill_pending);
  BOOST_TEST(state->auto_refill.enabled);
  BOOST_TEST(charges_for(org) == 1u);
  BOOST_TEST(signals_of(running, org, SignalKind::recharge_requested) == 1u);

  for (const HistoryEntry& entry : history(running.views(), org)) {
    if (entry.type != "auto_refill") continue;
    BOOST_TEST(entry.amount_micros == Micros{100 * micros});
    BOOST_TEST(entry.paid_minor == 10'000);  // 100 credits at 1.00
    BOOST_TEST(entry.fee_minor == 0);
    BOOST_TEST(entry.currency == "usd");
    BOOST_TEST(entry.payment_ref.rfind("ch_", 0) == 0u);
    BOOST_TEST(entry.idempotency_key.rfind("refill:", 0) == 0u);
  }

  // The API tells the same story.
  HttpClient http;
  auto credits = http.get("http://127.0.0.1:" + std::to_string(running.node->port()) + "/api/v1/org/" + org + "/credits",
                          {{"Authorization", std::string("Bearer ") + admin_token}});
  BOOST_REQUIRE(credits.is_ok());
  BOOST_REQUIRE(credits->status_code == 200);
  const auto body = boost::json::parse(credits->body).as_object();
  BOOST_TEST(body.at("balance_micros").to_number<int64_t>() == 110 * micros);
  BOOST_TEST(body.at("auto_refill_enabled").as_bool());
}

BOOST_AUTO_TEST_CASE(price_and_platform_fee_make_the_charge_and_the_fee_is_recorded_separately) {
  const std::string customer = customer_with("tok_visa");
  RechargeOptions options = recharge_options(emulator().base_url());
  options.credit_price_minor = 90;  // a credit sells at 0.90
  options.platform_fee_minor = 30;
  options.currency = "eur";
  RunningNode running(options);
  const std::string org = unique_name("fee");
  refill_requested(running, org, customer);  // 5 left
  BOOST_REQUIRE(wait_until([&] { return count_history(running.views(), org, "auto_refill") == 1; }));

  StripeClient client(stripe_config(emulator().base_url()));
  std::size_t found = 0;
  const auto charges = client.list_charges();
  BOOST_REQUIRE(charges.is_ok());
  for (const ChargeSummary& charge : charges.value()) {
    for (const auto& [key, value] : charge.metadata) {
      if (key != "org_id" || value != org) continue;
      ++found;
      BOOST_TEST(charge.amount_minor == 9'030);  // 100 × 0.90 + 0.30
      BOOST_TEST(charge.currency == "eur");
    }
  }
  BOOST_TEST(found == 1u);
  for (const HistoryEntry& entry : history(running.views(), org)) {
    if (entry.type != "auto_refill") continue;
    BOOST_TEST(entry.paid_minor == 9'000);
    BOOST_TEST(entry.fee_minor == 30);
    BOOST_TEST(entry.currency == "eur");
  }
}

BOOST_AUTO_TEST_CASE(declined_card_disables_auto_refill_and_the_org_pauses_at_zero) {
  // The emulator's saved-card decline: tok_chargeCustomerFail attaches, then declines charges.
  const std::string customer = customer_with("tok_chargeCustomerFail");
  RunningNode running(recharge_options(emulator().base_url()));
  const std::string org = unique_name("declined");
  OrgScript script = refill_requested(running, org, customer);  // 5 left: recharge requested

  BOOST_REQUIRE(wait_until([&] { return count_history(running.views(), org, "payment_failed") == 1; }));
  auto state = running.state(org);
  BOOST_REQUIRE(state.has_value());
  BOOST_TEST(!state->auto_refill.enabled);
  BOOST_TEST(!state->refill_pending);
  for (const HistoryEntry& entry : history(running.views(), org)) {
    if (entry.type == "payment_failed") BOOST_TEST(entry.reason_text == "generic_decline");
  }
  BOOST_REQUIRE(wait_until([&] { return signals_of(running, org, SignalKind::auto_refill_disabled) == 1; }));

  BOOST_REQUIRE(script.usage_output_tokens(2'000'000).is_ok());  // runs out: paused at zero
  BOOST_REQUIRE(wait_until([&] { return signals_of(running, org, SignalKind::balance_exhausted) == 1; }));
  state = running.state(org);
  BOOST_TEST(state->is_exhausted);
  BOOST_TEST(state->balance_micros <= Micros{});
  BOOST_TEST(count_history(running.views(), org, "auto_refill") == 0u);
  BOOST_TEST(charges_for(org) == 0u);
  BOOST_TEST(signals_of(running, org, SignalKind::recharge_requested) == 1u);  // no silent retry
}

BOOST_AUTO_TEST_CASE(rate_limits_and_server_errors_are_retried_with_the_same_key_and_charge_once) {
  const std::string customer = customer_with("tok_visa");
  FlakyStripe flaky(emulator().base_url(), {429, 503}, 2);
  RunningNode running(recharge_options(flaky.url()));
  const std::string org = unique_name("flaky");
  refill_requested(running, org, customer);

  BOOST_REQUIRE(wait_until([&] { return count_history(running.views(), org, "auto_refill") == 1; }));
  const std::vector<std::string> keys = flaky.keys();
  BOOST_REQUIRE(keys.size() == 3u);  // 429, 503, then through
  BOOST_TEST(keys[0].rfind("tally-", 0) == 0u);  // scoped by the signals log
  BOOST_TEST(keys[0].find(":recharge_requested:" + org) != std::string::npos);
  BOOST_TEST(keys[1] == keys[0]);
  BOOST_TEST(keys[2] == keys[0]);
  BOOST_TEST(charges_for(org) == 1u);
  BOOST_TEST(running.state(org)->balance_micros == Micros{105 * micros});
}

BOOST_AUTO_TEST_CASE(retries_that_run_out_conclude_with_payment_failed_timeout) {
  const std::string customer = customer_with("tok_visa");
  FlakyStripe flaky(emulator().base_url(), {503}, -1);
  RunningNode running(recharge_options(flaky.url()));
  const std::string org = unique_name("down");
  refill_requested(running, org, customer);

  BOOST_REQUIRE(wait_until([&] { return count_history(running.views(), org, "payment_failed") == 1; }));
  BOOST_TEST(flaky.keys().size() == 4u);  // attempts_max
  for (const HistoryEntry& entry : history(running.views(), org)) {
    if (entry.type == "payment_failed") BOOST_TEST(entry.reason_text == "timeout");
  }
  BOOST_TEST(!running.state(org)->auto_refill.enabled);
  BOOST_TEST(charges_for(org) == 0u);
}

// Two ledgers (a staging and a production journal, or a ledger rebuilt on a new log) that share
// one Stripe account and both have an org of the same name: their first refill signals have the
// same id. Each must still make its own charge, not be answered with the other's.
BOOST_AUTO_TEST_CASE(two_ledgers_with_the_same_org_on_one_stripe_account_each_make_their_own_charge) {
  const std::string org = unique_name("twin");
  std::vector<std::string> charge_ids, signal_ids;
  for (int ledger = 0; ledger < 2; ++ledger) {
    const std::string customer = customer_with("tok_visa");
    RunningNode running(recharge_options(emulator().base_url()));
    refill_requested(running, org, customer);  // 5 left
    BOOST_REQUIRE_MESSAGE(wait_until([&] {
                            return count_history(running.views(), org, "auto_refill") +
                                       count_history(running.views(), org, "payment_failed") == 1;
                          }),
                          "the refill request of ledger " << ledger << " was not concluded");
    for (const HistoryEntry& entry : history(running.views(), org)) {
      if (entry.type == "payment_failed") BOOST_ERROR("ledger " << ledger << ": payment_failed: " << entry.reason_text);
      if (entry.type != "auto_refill") continue;
      charge_ids.push_back(entry.payment_ref);
      signal_ids.push_back(entry.idempotency_key);
    }
    BOOST_TEST(running.state(org)->balance_micros == Micros{105 * micros});
  }
  BOOST_REQUIRE(charge_ids.size() == 2u);
  BOOST_TEST(signal_ids[0] == signal_ids[1]);  // the same request id in both ledgers
  BOOST_TEST(charge_ids[0] != charge_ids[1]);
  BOOST_TEST(charges_for(org) == 2u);
}

BOOST_AUTO_TEST_CASE(on_kafka_the_request_travels_through_the_signals_topic_and_the_refill_lands) {
  auto cluster = MockKafkaCluster::create(1);
  BOOST_REQUIRE(cluster.is_ok());
  BOOST_REQUIRE(cluster.value()->create_topic("tally.events", 4, 1).is_ok());
  BOOST_REQUIRE(cluster.value()->create_topic("tally.signals", 2, 1).is_ok());
  const std::string customer = customer_with("tok_visa");
  {
    RunningNode running(recharge_options(emulator().base_url()), cluster.value()->bootstraps());
    const std::string org = unique_name("kafka");
    OrgScript script(running.node->events_writer(), org);
    BOOST_REQUIRE(script.rate_card().is_ok());
    BOOST_REQUIRE(script.purchase(100).is_ok());
    BOOST_REQUIRE(script.auto_refill(20, 100, customer).is_ok());
    BOOST_REQUIRE(script.usage_output_tokens(4'000'000).is_ok());  // 10 left
    BOOST_REQUIRE(wait_until([&] { return count_history(running.views(), org, "auto_refill") == 1; }));
    BOOST_TEST(running.state(org)->balance_micros == Micros{110 * micros});
    BOOST_TEST(charges_for(org) == 1u);
    BOOST_REQUIRE(wait_until([&] { return running.views().stats()->outbox_sent >= 3; }));  // emitter progress
  }  // the node (Kafka clients) goes before the cluster
}

// Seed 002's story with holds (SPEC §11), over HTTP as an agent platform runs it: each call
// reserves its cost first and captures what it used. $100 bought; calls draw down; the
// auto-recharge at $20 lands; the card is replaced by one that declines, so the next refill fails;
// the last call gets what is left as a partial hold, and the org ends paused at exactly zero:
// admission refused the call that did not fit, so the wallet never went into deficit.
BOOST_AUTO_TEST_CASE(seed_002_with_holds_ends_paused_at_zero_without_deficit) {
  const std::string good_card = customer_with("tok_visa");
  const std::string declining_card = customer_with("tok_chargeCustomerFail");
  RunningNode running(recharge_options(emulator().base_url()));
  const std::string org = unique_name("holds");
  OrgScript script(running.node->events_writer(), org);
  BOOST_REQUIRE(script.rate_card().is_ok());  // 22.5 µcr an output token, markup included
  BOOST_REQUIRE(script.open().is_ok());
  BOOST_REQUIRE(script.purchase(100).is_ok());
  BOOST_REQUIRE(script.auto_refill(20, 100, good_card).is_ok());

  const std::string base = "http://127.0.0.1:" + std::to_string(running.node->port()) + "/api/v1";
  const std::vector<HttpHeader> auth = {{"Authorization", std::string("Bearer ") + admin_token},
                                        {"Content-Type", "application/json"}};
  HttpClient http;
  int calls = 0;
  int64_t lowest_balance = 100 * micros;
  // Places a hold; returns the credits granted (0: refused with 402, and why).
  const auto hold = [&](int64_t amount, bool partial, std::string* refusal = nullptr) -> int64_t {
    const std::string body = R"({"idempotency_key":"h-)" + std::to_string(++calls) + R"(","amount_micros":)" +
                             std::to_string(amount) + R"(,"ttl_ms":60000)" + (partial ? R"(,"allow_partial":true})" : "}");
    auto placed = http.post(base + "/org/" + org + "/credits/holds", auth, body);
    BOOST_REQUIRE(placed.is_ok());
    const boost::json::object reply = boost::json::parse(placed->body).as_object();
    if (placed->status_code == 402) {
      if (refusal) *refusal = std::string(reply.at("reason").as_string());
      return 0;
    }
    BOOST_REQUIRE_MESSAGE(placed->status_code == 201, placed->body);
    return reply.at("granted_micros").to_number<int64_t>();
  };
  // Captures the call's cost (`reported` at the rate card's 1.5× markup), closing the hold.
  const auto capture = [&](int64_t reported) {
    const std::string event = R"({"type":"usage","idempotency_key":"call-)" + std::to_string(calls) +
                              R"(","org_id":")" + org + R"(","occurred_at_ms":)" + std::to_string(now_ms()) +
                              R"(,"meter":"llm_tokens","reported_cost_micros":)" + std::to_string(reported) +
                              R"(,"hold_id":"h-)" + std::to_string(calls) + R"(","hold_final":true})";
    auto used = http.post(base + "/events?wait=1", auth, event);
    BOOST_REQUIRE(used.is_ok());
    BOOST_REQUIRE_MESSAGE(used->status_code == 200, used->body);
    const int64_t balance = boost::json::parse(used->body).at("balance_after_micros").to_number<int64_t>();
    lowest_balance = std::min(lowest_balance, balance);
  };
  const auto call_costing_27 = [&] {
    BOOST_REQUIRE_EQUAL(hold(30 * micros, false), 30 * micros);
    capture(18 * micros);  // 18 × 1.5 = 27 credits
  };

  for (int i = 0; i < 3; ++i) call_costing_27();  // 100 → 19: below $20, the refill is requested
  BOOST_REQUIRE_MESSAGE(wait_until([&] { return count_history(running.views(), org, "auto_refill") == 1; }),
                        "no AutoRefill landed");
  BOOST_TEST(running.state(org)->balance_micros == Micros{119 * micros});
  BOOST_REQUIRE(script.auto_refill(20, 100, declining_card).is_ok());  // a new card, which declines
  for (int i = 0; i < 4; ++i) call_costing_27();  // 119 → 11: the refill is requested and declined
  BOOST_REQUIRE(wait_until([&] { return count_history(running.views(), org, "payment_failed") == 1; }));
  BOOST_REQUIRE(wait_until([&] { return signals_of(running, org, SignalKind::auto_refill_disabled) == 1; }));

  // A 30-credit call does not fit the 11 left: refused before it starts, nothing debited.
  std::string refusal;
  BOOST_TEST(hold(30 * micros, false, &refusal) == 0);
  BOOST_TEST(refusal == "insufficient_available");
  // The agent takes what is left and keeps its call within it: the wallet lands on zero.
  BOOST_REQUIRE_EQUAL(hold(30 * micros, true), 11 * micros);
  capture(7'333'333);  // ceil(7,333,333 × 1.5) = 11,000,000 µcr
  BOOST_REQUIRE(wait_until([&] { return signals_of(running, org, SignalKind::balance_exhausted) == 1; }));
  BOOST_TEST(hold(1, true, &refusal) == 0);  // paused: not even one µcr more
  BOOST_TEST(refusal == "insufficient_available");

  const std::optional<OrgState> state = running.state(org);
  BOOST_REQUIRE(state.has_value());
  BOOST_TEST(lowest_balance == 0);  // never below zero
  BOOST_TEST(state->balance_micros == Micros{});
  BOOST_TEST(state->is_exhausted);
  BOOST_TEST(state->held_micros == Micros{});
  BOOST_TEST(state->totals.purchased_micros == Micros{200 * micros});
  BOOST_TEST(state->totals.used_micros == Micros{200 * micros});  // purchases − Σ captured = 0
  BOOST_TEST(!state->auto_refill.enabled);
  BOOST_TEST(charges_for(org) == 1u);
}
