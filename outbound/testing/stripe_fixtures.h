// Test support: a local Stripe for the calls the emulator (stripe-stateful-mock) lacks — Checkout
// Sessions, PaymentMethods, PaymentIntents — plus customers and prices. It answers with Stripe's
// own published example objects (tests/stripe/fixtures.json), filled in with what the request
// set (ids, customer, amounts, metadata) as Stripe would, and it CHECKS every request Tally sends:
//   - auth: `Authorization: Bearer <api_key>` (else 401, Stripe's error shape);
//   - method and path: only the routes below (else 404 "Unrecognized request URL");
//   - POST bodies: application/x-www-form-urlencoded, only parameters Stripe documents for that
//     call (else 400 "Received unknown parameter: …"), required ones present, enumerations and
//     integers well formed (else 400 naming the parameter), an Idempotency-Key header;
//   - idempotency as Stripe does it: the same key with the same parameters replays the first
//     answer (Idempotent-Replayed: true), with other parameters it is a 400 idempotency_error.
// Every refusal is also kept in violations(), so a test can assert that Tally sent nothing wrong.
//
// Routes: POST /v1/customers, GET /v1/customers/{id}, POST /v1/checkout/sessions,
// GET /v1/payment_methods?customer=&type=card, GET /v1/payment_methods/{id}, POST /v1/prices,
// GET /v1/prices?…, GET /v1/prices/{id}, POST /v1/payment_intents.
// State: in memory, per server. A test plays the customer with complete_checkout(), which saves
// the fixture card on the session's customer (when the session asked to save it) and returns the
// `checkout.session.completed` event Stripe would send.
//
// Thread safety: the handler runs on the receiver's thread; the accessors lock, so tests may call
// them from their own thread.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <boost/json/value.hpp>

#include "engine/status.h"
#include "outbound/stripe_client.h"
#include "outbound/testing/http_receiver.h"

namespace tally::connectors::testing {

// One request as the server understood it.
struct StripeCall {
  std::string method;
  std::string path;                                        // without the query
  std::vector<std::pair<std::string, std::string>> params;  // form body or query, decoded, in order
  std::string idempotency_key;                              // empty if none
  int status = 0;                                           // what the server answered

  // The value of `name`, or "" when absent.
  std::string param(std::string_view name) const;
  bool has(std::string_view name) const;
};

class StripeFixtureServer {
 public:
  static constexpr const char* api_key = "sk_test_tally_fixtures";

  // Loads $TALLY_SOURCE_DIR/tests/stripe/fixtures.json and starts serving on 127.0.0.1.
  // Errors: not_found (no source dir or fixtures), corruption (unreadable fixtures), io_error.
  static Result<std::unique_ptr<StripeFixtureServer>> start();
  ~StripeFixtureServer();

  std::string base_url() const;
  // A client configuration for this server: its base URL and api_key, the rest StripeConfig's
  // defaults (a test changes what it needs, e.g. the retries).
  StripeConfig client_config() const;

  // A price the server knows (as if made in the Stripe dashboard): a one-time price of
  // `unit_amount_minor` in `currency` for `product`. Returns its id.
  std::string add_price(std::string_view product, int64_t unit_amount_minor, std::string_view currency);
  // The customer pays: the session becomes complete and paid, and the fixture card
  // (payment_method fixture: visa 4242, 8/2030) is saved on its customer if the session asked for
  // setup_future_usage. Returns the checkout.session.completed event (Stripe's event fixture
  // around the session), with `event_id` and `created` (Unix seconds).
  Result<std::string> complete_checkout(std::string_view session_id, std::string_view event_id, int64_t created);
  // Makes the next PaymentIntent decline with `decline_code` (402 card_error), once.
  void decline_next_payment(std::string decline_code);

  std::vector<StripeCall> calls() const;
  std::vector<StripeCall> calls_to(std::string_view method, std::string_view path_prefix) const;
  std::vector<std::string> violations() const;
  // A fixture object by resource name ("customer", "payment_method", …).
  boost::json::value fixture(std::string_view resource) const;

  class State;

 private:
  StripeFixtureServer() = default;
  ReceiverResponse handle(const ReceivedRequest& request);

  std::unique_ptr<State> state_;
  std::unique_ptr<HttpReceiver> receiver_;  // last: stopped first
};

}  // namespace tally::connectors::testing
