// The Stripe API calls Tally makes, over HttpClient: the charges of the recharge connector (SPEC
// §9), and for buying credits (SPEC §14) customers, Checkout Sessions, saved cards, prices and
// off-session PaymentIntents (outbound/stripe_checkout.cpp; see "Buying credits" below).
//
// create_charge() charges a saved customer (POST {base_url}/v1/charges, form-encoded,
// `Authorization: Bearer <key>`, `Idempotency-Key`) and classifies every answer:
//   succeeded  2xx                                   -> AutoRefill event (charge id = payment_ref)
//   declined   402 (card_error)                      -> PaymentFailed(code = decline_code or code)
//   rejected   other 4xx (bad request, bad key, idempotency key reused with other parameters):
//              retrying cannot help                 -> PaymentFailed(code = the Stripe code)
//   retryable  429, 409 (concurrent request with the same key), 5xx, connection refused, timeout,
//              other network failures. `Stripe-Should-Retry: true|false` overrides the status.
// Retryable answers are retried per the RetryPolicy with the SAME Idempotency-Key and the same
// body, so Stripe executes the charge at most once whatever the number of attempts. When attempts
// run out the outcome is retries_exhausted (-> PaymentFailed with code "timeout", SPEC §5).
//
// Caveat (Stripe, and the emulator): Stripe stores the first result of a key that reached its
// charge logic, 500s included, and replays it for 24 h: a retry of a key whose first attempt got a
// 500 answers the same 500 (`Idempotent-Replayed: true`). Retrying still matters for 429, 409 and
// transport failures, which are not stored; a stored 500 ends as retries_exhausted.
//
// Thread safety: a StripeClient is not thread-safe (it owns an HttpClient); one per thread.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <boost/json/object.hpp>

#include "engine/status.h"
#include "outbound/http_client.h"
#include "outbound/stripe_form.h"

namespace tally::connectors {

struct StripeConfig {
  std::string base_url = "https://api.stripe.com";  // no trailing slash needed
  std::string api_key;                              // sk_live_… / sk_test_…
  int64_t request_timeout_ms = 30'000;              // one attempt
  RetryPolicy retry;
};

struct ChargeRequest {
  std::string customer;         // "cus_…": charges its default source (what recharge uses)
  std::string source;           // or a source/token ("tok_visa") instead of a customer
  int64_t amount_minor = 0;     // > 0, minor units of currency
  std::string currency;         // ISO 4217, e.g. "usd"
  std::string idempotency_key;  // 1..255 bytes; the recharge connector passes the signal id
  std::vector<std::pair<std::string, std::string>> metadata;  // stored on the charge
  std::string description;      // optional
};

struct ChargeOutcome {
  enum class Kind { succeeded, declined, rejected, retries_exhausted };
  Kind kind = Kind::retries_exhausted;
  std::string charge_id;      // succeeded; also declined when Stripe names the failed charge
  std::string payment_intent; // create_payment_intent: the PaymentIntent ("pi_…"), its payment ref
  int64_t amount_minor = 0;   // succeeded: as charged
  std::string currency;       // succeeded
  StripeError error;          // all but succeeded: the last attempt's error
  int32_t attempts = 0;       // HTTP attempts made, >= 1
  bool replayed = false;      // the final answer carried Idempotent-Replayed: true

  // The code for a PaymentFailed event: decline_code, else code, else "timeout" after retries
  // ran out, else "http_<status>". Empty when succeeded.
  std::string failure_code() const;
};

// "succeeded", "declined", "rejected", "retries_exhausted": for logs.
std::string_view kind_name(ChargeOutcome::Kind kind);

// One line of list_charges().
struct ChargeSummary {
  std::string id;
  int64_t amount_minor = 0;
  std::string currency;
  std::string status;  // "succeeded", "failed", "pending"
  bool paid = false;
  std::vector<std::pair<std::string, std::string>> metadata;
};

// ---- Buying credits (SPEC §14): Checkout Sessions, customers, saved cards, prices, off-session
// payments. Parameters as Stripe's API reference names them (form-encoded).

inline constexpr std::size_t stripe_line_items_max = 100;
inline constexpr int32_t stripe_prices_listed_max = 100;  // one page of find_or_create_price()

// One line of a Checkout Session: a Stripe price (line_items[i][price]) or, when `price` is
// empty, an ad hoc one (line_items[i][price_data][currency|unit_amount|product_data][name]).
struct CheckoutLineItem {
  std::string price;
  std::string name;
  int64_t unit_amount_minor = 0;
  std::string currency;
  int64_t quantity = 1;  // line_items[i][quantity], >= 1
};

struct CheckoutRequest {
  std::string customer;             // "cus_…"
  std::string client_reference_id;  // the org id: the completion webhook names the org by it
  std::vector<CheckoutLineItem> line_items;
  std::string success_url;
  std::string cancel_url;
  // payment_intent_data[setup_future_usage]=off_session: the card is saved on the customer for
  // charges made without the customer present (auto-refill).
  bool save_for_off_session = true;
  std::vector<std::pair<std::string, std::string>> metadata;  // metadata[…] of the session
  std::string idempotency_key;
};

struct CheckoutSession {
  std::string id;   // "cs_…"
  std::string url;  // where to send the customer
};

// A customer's saved card, as a billing page shows it.
struct SavedCard {
  std::string payment_method;  // "pm_…"
  std::string brand;           // "visa"
  std::string last4;
  int32_t exp_month = 0;
  int32_t exp_year = 0;
};

struct PriceInfo {
  std::string id;
  std::string product;
  int64_t unit_amount_minor = 0;
  std::string currency;
  bool active = false;
  bool one_time = false;  // type "one_time" (Checkout in payment mode takes no recurring price)
};

// An off-session payment of a saved card (POST /v1/payment_intents with confirm=true and
// off_session=true): what auto-refill does with the card saved at checkout.
struct PaymentIntentRequest {
  std::string customer;
  std::string payment_method;
  int64_t amount_minor = 0;
  std::string currency;
  std::string idempotency_key;
  std::vector<std::pair<std::string, std::string>> metadata;
  std::string description;
};

class StripeClient {
 public:
  using SleepFunction = std::function<void(int64_t ms)>;

  // `sleep_ms` waits between attempts; tests inject one that records delays instead of sleeping.
  // Default: std::this_thread::sleep_for.
  explicit StripeClient(StripeConfig config, SleepFunction sleep_ms = {});

  // Charges per the file comment. Result errors are only for requests that were never sent
  // (invalid_argument naming the field: neither or both of customer/source, amount <= 0, currency
  // not 3 lower-case letters, key empty or > 255 bytes, metadata over Stripe's limits); everything
  // that happened at Stripe is a ChargeOutcome.
  Result<ChargeOutcome> create_charge(const ChargeRequest& request);
  Result<ChargeOutcome> create_charge(std::string customer, int64_t amount_minor, std::string currency,
                                      std::string idempotency_key,
                                      std::vector<std::pair<std::string, std::string>> metadata = {});

  // Creates a customer whose default source is `source_token` (tests and demos: "tok_visa").
  // One attempt, no retries. Returns the customer id. Errors: unavailable (transport), or
  // invalid_argument with Stripe's error ("card_declined (insufficient_funds): …") when Stripe
  // refused, e.g. a token that declines at attach time.
  Result<std::string> create_customer(std::string_view source_token);

  // The customer's charges (all of the account's when `customer` is empty), newest first, at most
  // stripe_charges_listed_max (no paging); failed charges are listed too (status "failed").
  // One attempt. Errors as create_customer.
  // Caveat: stripe-stateful-mock 0.0.16 does not record the customer on charges, so filtering by
  // customer finds nothing there; tests list the account's charges and match on metadata.
  Result<std::vector<ChargeSummary>> list_charges(std::string_view customer = {});

  // ---- Buying credits (stripe_checkout.cpp). These calls retry what create_charge retries
  // (transport failures, 409, 429, 5xx; with the same Idempotency-Key for POSTs), then answer:
  // errors unavailable (Stripe unreachable, retries spent) or invalid_argument with field "stripe"
  // and what Stripe said (it refused: a bad key, an unknown price, …); invalid_argument naming
  // the request's field for requests never sent.

  // POST /v1/customers with metadata[org_id] and a description naming the org.
  Result<std::string> create_org_customer(std::string_view org_id, std::string_view idempotency_key);
  // POST /v1/checkout/sessions, mode=payment. Returns the session's id and url.
  Result<CheckoutSession> create_checkout_session(const CheckoutRequest& request);
  // The card a customer saved: its default payment method (invoice_settings.default_payment_method),
  // else its newest card (GET /v1/payment_methods?customer=…&type=card). nullopt when it has none,
  // or when Stripe knows no such customer (404).
  Result<std::optional<SavedCard>> saved_card(std::string_view customer);
  // GET /v1/prices/{id}.
  Result<PriceInfo> retrieve_price(std::string_view price_id);
  // An active one-time price of `product` for `unit_amount_minor` in `currency`: the first one
  // listed (GET /v1/prices?product=…&currency=…&type=one_time&active=true), else a new one
  // (POST /v1/prices, keyed by `idempotency_key`).
  Result<PriceInfo> find_or_create_price(std::string_view product, int64_t unit_amount_minor, std::string_view currency,
                                         std::string_view idempotency_key);
  // Charges a saved card off-session, classified as create_charge's answers are. A PaymentIntent
  // that did not succeed (e.g. requires_action) is declined with its status as the code.
  Result<ChargeOutcome> create_payment_intent(const PaymentIntentRequest& request);

 private:
  using ReadPayment = std::function<bool(const boost::json::object& body, ChargeOutcome& outcome)>;
  std::vector<HttpHeader> headers(std::string_view idempotency_key) const;
  // The attempts of one payment (create_charge, create_payment_intent): `read_success` fills the
  // outcome from a 2xx body, false when it cannot (then retried with the same key).
  Result<ChargeOutcome> pay(const HttpRequest& request, const ReadPayment& read_success);
  // One call with retries; the final HTTP answer whatever its status (see above).
  Result<HttpResponse> call(const HttpRequest& request);
  // call() whose answer must be a 2xx JSON object.
  Result<boost::json::object> call_object(const HttpRequest& request);

  StripeConfig config_;
  SleepFunction sleep_ms_;
  HttpClient http_;
};

// How one HTTP answer is classified; exposed for tests. `should_retry` is the value of the
// Stripe-Should-Retry header if present.
enum class StripeAnswer { success, declined, rejected, retryable };
StripeAnswer classify_stripe_answer(int32_t http_status, const std::string* should_retry);

// Stripe's `error` object from a response body, best effort (never fails: missing parts stay
// empty, an unreadable body becomes the message).
StripeError parse_stripe_error(int32_t http_status, std::string_view body);

}  // namespace tally::connectors
