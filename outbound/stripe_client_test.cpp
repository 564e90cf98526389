// The Stripe client against the real emulator (stripe-stateful-mock, started per test module):
// charges, idempotency, declines, and what the emulator actually does with tok_429 and tok_500.
#include <boost/test/unit_test.hpp>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <ostream>
#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "outbound/stripe_client.h"
#include "outbound/testing/stripe_emulator.h"
#include "outbound/testing/stripe_test.h"

using namespace tally::connectors;
using tally::connectors::testing::emulator;
using tally::connectors::testing::EmulatorFixture;
using tally::connectors::testing::StripeEmulator;

namespace {

// A name unique within this run, so tests never see each other's charges or token chains.
std::string unique(const std::string& prefix) {
  static std::atomic<int> counter{0};
  return prefix + "-" + std::to_string(::getpid()) + "-" + std::to_string(counter.fetch_add(1));
}

struct Recorder {
  std::vector<int64_t> delays_ms;
  StripeClient::SleepFunction sleep() {
    return [this](int64_t ms) { delays_ms.push_back(ms); };  // no real waiting in tests
  }
};

StripeConfig config_for(const std::string& base_url, int32_t attempts_max = 4) {
  StripeConfig config;
  config.base_url = base_url;
  config.api_key = StripeEmulator::api_key;
  config.request_timeout_ms = 5'000;
  config.retry.attempts_max = attempts_max;
  config.retry.backoff_ms_initial = 50;
  config.retry.backoff_ms_max = 400;
  config.retry.jitter_seed = 7;
  return config;
}

ChargeRequest source_charge(const std::string& source, const std::string& key, const std::string& tag) {
  ChargeRequest request;
  request.source = source;
  request.amount_minor = 5000;
  request.currency = "usd";
  request.idempotency_key = key;
  request.metadata = {{"test_tag", tag}};
  return request;
}

// Charges of the emulator account carrying metadata test_tag = tag.
std::size_t charges_tagged(StripeClient& client, const std::string& tag) {
  auto listed = client.list_charges();
  BOOST_REQUIRE_MESSAGE(listed.is_ok(), listed.status().to_string());
  std::size_t count = 0;
  for (const ChargeSummary& charge : listed.value()) {
    for (const auto& [key, value] : charge.metadata) {
      if (key == "test_tag" && value == tag) ++count;
    }
  }
  return count;
}

// One charge of `source`, tagged afresh, through a client allowed `attempts_max` attempts that
// records its backoff delays instead of sleeping them.
struct SourceCharge {
  StripeConfig config;
  ChargeOutcome outcome;
  std::vector<int64_t> delays_ms;
  std::size_t charges_made = 0;  // charges of the emulator account carrying this charge's tag
};

SourceCharge charge_source(const std::string& source, const std::string& tag_prefix, int32_t attempts_max = 4) {
  SourceCharge charged;
  charged.config = config_for(emulator().base_url(), attempts_max);
  Recorder recorder;
  StripeClient client(charged.config, recorder.sleep());
  const std::string tag = unique(tag_prefix);
  auto outcome = client.create_charge(source_charge(source, unique("k"), tag));
  BOOST_REQUIRE(outcome.is_ok());
  charged.outcome = outcome.value();
  charged.delays_ms = recorder.delays_ms;
  charged.charges_made = charges_tagged(client, tag);
  return charged;
}

// A TCP socket bound to a free port of the loopback address: its descriptor and that port.
struct BoundSocket {
  int fd;
  int port;
};

BoundSocket bound_loopback_socket() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t length = sizeof(address);
  BOOST_REQUIRE(::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)) == 0);
  BOOST_REQUIRE(::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length) == 0);
  return {fd, ntohs(address.sin_port)};
}

// A TCP port on which nothing listens (bound, then closed).
int closed_port() {
  const BoundSocket bound = bound_loopback_socket();
  ::close(bound.fd);
  return bound.port;
}

}  // namespace

BOOST_TEST_GLOBAL_FIXTURE(EmulatorFixture);

BOOST_AUTO_TEST_CASE(customer_with_tok_visa_is_charged) {
  Recorder recorder;
  StripeClient client(config_for(emulator().base_url()), recorder.sleep());
  auto customer = client.create_customer("tok_visa");
  BOOST_REQUIRE_MESSAGE(customer.is_ok(), customer.status().to_string());
  BOOST_TEST(customer->rfind("cus_", 0) == 0u);

  const std::string tag = unique("visa");
  auto outcome = client.create_charge(customer.value(), 10'000, "usd", unique("signal"), {{"test_tag", tag}});
  BOOST_REQUIRE(outcome.is_ok());
  BOOST_TEST(outcome->kind == ChargeOutcome::Kind::succeeded, outcome->error.message);
  BOOST_TEST(outcome->charge_id.rfind("ch_", 0) == 0u);
  BOOST_TEST(outcome->amount_minor == 10'000);
  BOOST_TEST(outcome->currency == "usd");
  BOOST_TEST(outcome->attempts == 1);
  BOOST_TEST(!outcome->replayed);
  BOOST_TEST(outcome->failure_code().empty());
  BOOST_TEST(recorder.delays_ms.empty());
  BOOST_TEST(charges_tagged(client, tag) == 1u);
}

BOOST_AUTO_TEST_CASE(same_idempotency_key_twice_makes_one_charge) {
  StripeClient client(config_for(emulator().base_url()));
  auto customer = client.create_customer("tok_visa");
  BOOST_REQUIRE(customer.is_ok());
  const std::string key = unique("3:1042:recharge_requested:acme");
  const std::string tag = unique("idem");
  auto first = client.create_charge(customer.value(), 10'000, "usd", key, {{"test_tag", tag}});
  auto second = client.create_charge(customer.value(), 10'000, "usd", key, {{"test_tag", tag}});
  BOOST_REQUIRE(first.is_ok());
  BOOST_REQUIRE(second.is_ok());
  BOOST_TEST(first->kind == ChargeOutcome::Kind::succeeded);
  BOOST_TEST(second->kind == ChargeOutcome::Kind::succeeded);
  BOOST_TEST(second->charge_id == first->charge_id);
  BOOST_TEST(!first->replayed);
  BOOST_TEST(second->replayed);  // Idempotent-Replayed: true
  BOOST_TEST(charges_tagged(client, tag) == 1u);
}

BOOST_AUTO_TEST_CASE(same_key_with_other_parameters_is_rejected_not_retried) {
  Recorder recorder;
  StripeClient client(config_for(emulator().base_url()), recorder.sleep());
  const std::string key = unique("reuse");
  const std::string tag = unique("reuse");
  auto first = client.create_charge(source_charge("tok_visa", key, tag));
  BOOST_REQUIRE(first.is_ok());
  BOOST_TEST(first->kind == ChargeOutcome::Kind::succeeded);
  ChargeRequest changed = source_charge("tok_visa", key, tag);
  changed.amount_minor = 7000;
  auto second = client.create_charge(changed);
  BOOST_REQUIRE(second.is_ok());
  BOOST_TEST(second->kind == ChargeOutcome::Kind::rejected);
  BOOST_TEST(second->error.http_status == 400);
  BOOST_TEST(second->error.type == "idempotency_error");
  BOOST_TEST(second->attempts == 1);
  BOOST_TEST(recorder.delays_ms.empty());
  BOOST_TEST(charges_tagged(client, tag) == 1u);
}

BOOST_AUTO_TEST_CASE(insufficient_funds_is_declined_with_code) {
  Recorder recorder;
  StripeClient client(config_for(emulator().base_url()), recorder.sleep());
  auto outcome = client.create_charge(source_charge("tok_chargeDeclinedInsufficientFunds", unique("k"), unique("t")));
  BOOST_REQUIRE(outcome.is_ok());
  BOOST_TEST(outcome->kind == ChargeOutcome::Kind::declined);
  BOOST_TEST(outcome->error.http_status == 402);
  BOOST_TEST(outcome->error.type == "card_error");
  BOOST_TEST(outcome->error.code == "card_declined");
  BOOST_TEST(outcome->error.decline_code == "insufficient_funds");
  BOOST_TEST(outcome->error.message == "Your card has insufficient funds.");
  BOOST_TEST(outcome->failure_code() == "insufficient_funds");
  BOOST_TEST(outcome->charge_id.rfind("ch_", 0) == 0u);  // Stripe names the failed charge
  BOOST_TEST(outcome->attempts == 1);                    // a decline is final: no retry
  BOOST_TEST(recorder.delays_ms.empty());
}

BOOST_AUTO_TEST_CASE(insufficient_funds_card_cannot_even_be_saved_on_a_customer) {
  // The emulator declines this token when it is attached to a customer, so a saved-card charge
  // cannot reach insufficient_funds; tok_chargeCustomerFail attaches and then declines charges.
  StripeClient client(config_for(emulator().base_url()));
  auto refused = client.create_customer("tok_chargeDeclinedInsufficientFunds");
  BOOST_REQUIRE(!refused.is_ok());
  BOOST_TEST(refused.status().message().find("insufficient_funds") != std::string::npos);

  auto customer = client.create_customer("tok_chargeCustomerFail");
  BOOST_REQUIRE_MESSAGE(customer.is_ok(), customer.status().to_string());
  auto outcome = client.create_charge(customer.value(), 10'000, "usd", unique("k"));
  BOOST_REQUIRE(outcome.is_ok());
  BOOST_TEST(outcome->kind == ChargeOutcome::Kind::declined);
  BOOST_TEST(outcome->error.code == "card_declined");
  BOOST_TEST(outcome->failure_code() == "generic_decline");
}

BOOST_AUTO_TEST_CASE(tok_429_is_retried_with_the_same_key_until_it_succeeds) {
  // A token chain answers 429 first, then charges the card. 429s are not stored against the
  // Idempotency-Key, so the retry reaches the charge logic again and succeeds: one charge.
  const SourceCharge charged = charge_source("tok_429|tok_visa|" + unique("chain"), "429");
  const ChargeOutcome& outcome = charged.outcome;
  BOOST_TEST(outcome.kind == ChargeOutcome::Kind::succeeded, outcome.error.message);
  BOOST_TEST(outcome.attempts == 2);
  BOOST_TEST(charged.delays_ms == std::vector<int64_t>{charged.config.retry.backoff_ms(1)});
  BOOST_TEST(charged.charges_made == 1u);
}

BOOST_AUTO_TEST_CASE(persistent_429_exhausts_retries_and_ends_as_timeout) {
  const SourceCharge charged = charge_source("tok_429", "429x", 3);
  const ChargeOutcome& outcome = charged.outcome;
  BOOST_TEST(outcome.kind == ChargeOutcome::Kind::retries_exhausted);
  BOOST_TEST(outcome.attempts == 3);
  BOOST_TEST(outcome.error.http_status == 429);
  BOOST_TEST(outcome.error.code == "rate_limit");
  BOOST_TEST(outcome.failure_code() == "timeout");
  BOOST_TEST(!outcome.replayed);  // every 429 was a fresh answer
  const RetryPolicy& retry = charged.config.retry;
  BOOST_TEST(charged.delays_ms == (std::vector<int64_t>{retry.backoff_ms(1), retry.backoff_ms(2)}));
  BOOST_TEST(charged.charges_made == 0u);
}

BOOST_AUTO_TEST_CASE(tok_500_is_retried_but_the_stored_500_is_replayed) {
  // What the emulator (like Stripe) really does: the first 500 is stored against the key, so
  // the retries get the same 500 back with Idempotent-Replayed: true, even though the token chain
  // would charge the card on its next use. The charge is never made; retries run out.
  const SourceCharge charged = charge_source("tok_500|tok_visa|" + unique("chain"), "500", 3);
  const ChargeOutcome& outcome = charged.outcome;
  BOOST_TEST(outcome.kind == ChargeOutcome::Kind::retries_exhausted);
  BOOST_TEST(outcome.attempts == 3);
  BOOST_TEST(outcome.error.http_status == 500);
  BOOST_TEST(outcome.error.type == "api_error");
  BOOST_TEST(outcome.replayed);
  BOOST_TEST(charged.delays_ms.size() == 2u);
  BOOST_TEST(outcome.failure_code() == "timeout");
  BOOST_TEST(charged.charges_made == 0u);
}

BOOST_AUTO_TEST_CASE(tok_500_and_tok_429_cannot_be_saved_on_customers) {
  // These bonus tokens only act on a charge's `source`; attaching them to a customer hits the
  // emulator's "Unhandled source token" path (HTTP 500), so no customer exists to charge.
  StripeClient client(config_for(emulator().base_url()));
  for (const char* token : {"tok_500", "tok_429"}) {
    auto customer = client.create_customer(token);
    BOOST_TEST_INFO("token " << token);
    BOOST_REQUIRE(!customer.is_ok());
    BOOST_TEST(customer.status().message().find("Unhandled source token") != std::string::npos);
    BOOST_TEST(customer.status().message().find("HTTP 500") != std::string::npos);
  }
}

BOOST_AUTO_TEST_CASE(connection_refused_is_retryable_and_ends_as_timeout) {
  Recorder recorder;
  StripeClient client(config_for("http://127.0.0.1:" + std::to_string(closed_port()), 3), recorder.sleep());
  auto outcome = client.create_charge("cus_nobody", 10'000, "usd", unique("k"));
  BOOST_REQUIRE(outcome.is_ok());
  BOOST_TEST(outcome->kind == ChargeOutcome::Kind::retries_exhausted);
  BOOST_TEST(outcome->attempts == 3);
  BOOST_TEST(outcome->error.http_status == 0);
  BOOST_TEST(outcome->error.message.find("connection refused") != std::string::npos, outcome->error.message);
  BOOST_TEST(recorder.delays_ms.size() == 2u);
  BOOST_TEST(outcome->failure_code() == "timeout");
}

BOOST_AUTO_TEST_CASE(a_server_that_never_answers_times_out_and_is_retried) {
  // A listening socket nobody accepts from: the TCP connect succeeds (backlog), no answer comes.
  const BoundSocket bound = bound_loopback_socket();
  BOOST_REQUIRE(::listen(bound.fd, 8) == 0);

  Recorder recorder;
  StripeConfig config = config_for("http://127.0.0.1:" + std::to_string(bound.port), 2);
  config.request_timeout_ms = 200;
  StripeClient client(config, recorder.sleep());
  auto outcome = client.create_charge("cus_nobody", 10'000, "usd", unique("k"));
  ::close(bound.fd);
  BOOST_REQUIRE(outcome.is_ok());
  BOOST_TEST(outcome->kind == ChargeOutcome::Kind::retries_exhausted);
  BOOST_TEST(outcome->attempts == 2);
  BOOST_TEST(outcome->error.message.find("timed out") != std::string::npos, outcome->error.message);
}

BOOST_AUTO_TEST_CASE(a_bad_api_key_is_rejected_not_retried) {
  Recorder recorder;
  StripeConfig config = config_for(emulator().base_url());
  config.api_key = "sk_live_wrong";
  StripeClient client(config, recorder.sleep());
  auto outcome = client.create_charge(source_charge("tok_visa", unique("k"), unique("t")));
  BOOST_REQUIRE(outcome.is_ok());
  BOOST_TEST(outcome->kind == ChargeOutcome::Kind::rejected);
  BOOST_TEST(outcome->error.http_status == 401);
  BOOST_TEST(outcome->failure_code() == "http_401");
  BOOST_TEST(recorder.delays_ms.empty());
}

BOOST_AUTO_TEST_CASE(invalid_requests_are_refused_before_sending) {
  StripeClient client(config_for("http://127.0.0.1:1"));
  BOOST_TEST(client.create_charge("cus_x", 0, "usd", "k").status().field() == "amount_minor");
  BOOST_TEST(client.create_charge("cus_x", 100, "USD", "k").status().field() == "currency");
  BOOST_TEST(client.create_charge("cus_x", 100, "usd", "").status().field() == "idempotency_key");
  BOOST_TEST(client.create_charge("cus_x", 100, "usd", std::string(256, 'k')).status().field() == "idempotency_key");
  BOOST_TEST(client.create_charge("", 100, "usd", "k").status().field() == "customer");
  BOOST_TEST(client.create_charge("cus_x", 100, "usd", "k", {{"bad[key]", "v"}}).status().field() == "metadata");
}

BOOST_AUTO_TEST_CASE(classification_table) {
  const std::string yes = "true", no = "false";
  BOOST_TEST((classify_stripe_answer(200, nullptr) == StripeAnswer::success));
  BOOST_TEST((classify_stripe_answer(402, nullptr) == StripeAnswer::declined));
  BOOST_TEST((classify_stripe_answer(400, nullptr) == StripeAnswer::rejected));
  BOOST_TEST((classify_stripe_answer(404, nullptr) == StripeAnswer::rejected));
  BOOST_TEST((classify_stripe_answer(409, nullptr) == StripeAnswer::retryable));
  BOOST_TEST((classify_stripe_answer(429, nullptr) == StripeAnswer::retryable));
  BOOST_TEST((classify_stripe_answer(500, nullptr) == StripeAnswer::retryable));
  BOOST_TEST((classify_stripe_answer(503, nullptr) == StripeAnswer::retryable));
  BOOST_TEST((classify_stripe_answer(500, &no) == StripeAnswer::rejected));
  BOOST_TEST((classify_stripe_answer(400, &yes) == StripeAnswer::retryable));
  BOOST_TEST((classify_stripe_answer(402, &no) == StripeAnswer::declined));
}
