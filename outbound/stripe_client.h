// The Stripe API calls the recharge connector makes (SPEC §9), over HttpClient.
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
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "engine/status.h"
#include "outbound/http_client.h"

namespace tally::connectors {

inline constexpr std::size_t stripe_idempotency_key_bytes_max = 255;
inline constexpr std::size_t stripe_metadata_keys_max = 50;
inline constexpr std::size_t stripe_metadata_key_bytes_max = 40;
inline constexpr std::size_t stripe_metadata_value_bytes_max = 500;
inline constexpr int32_t stripe_charges_listed_max = 100;  // one page of list_charges()

struct StripeConfig {
  std::string base_url = "https://api.stripe.com";  // no trailing slash needed
  std::string api_key;                              // sk_live_… / sk_test_…
  int64_t request_timeout_ms = 30'000;              // one attempt
  RetryPolicy retry;
};

// What Stripe said when it did not succeed (from its `error` object), or the transport failure.
struct StripeError {
  int32_t http_status = 0;   // 0: no HTTP response (see `message`)
  std::string type;          // card_error, invalid_request_error, api_error, rate_limit_error, …
  std::string code;          // card_declined, rate_limit, … (may be empty)
  std::string decline_code;  // insufficient_funds, generic_decline, … (card errors only)
  std::string message;       // human-readable, from Stripe or from the transport
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

 private:
  std::vector<HttpHeader> headers(std::string_view idempotency_key) const;

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
