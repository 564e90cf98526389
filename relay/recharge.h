// The recharge connector (SPEC §5, §9): turns `recharge_requested` signals into Stripe charges of
// the org's saved payment customer, and concludes every request with exactly one event in the
// events log — AutoRefill on success, PaymentFailed on a decline or when retries run out.
//
// EXACTLY ONE CHARGE PER SIGNAL (whatever crashes where):
//   1. The Stripe Idempotency-Key is the signal id, scoped by the signals log it was read from
//      (charge_idempotency_key). Any number of create_charge() calls for one signal — retries of
//      one call, a rerun after a crash — make at most one charge; a repeat returns the first
//      answer (same charge id). Signal ids are log positions, so two logs (a staging and a
//      production journal, a ledger rebuilt on a new log) repeat them: without the scope, the
//      second ledger's charge would reuse the first's key on a shared Stripe account and be
//      refused (other parameters) or answered with the other ledger's charge.
//   2. The concluding event's idempotency key is derived from the signal id ("refill:<id>",
//      "refill-failed:<id>") and its fields from the signal, the options and the charge id only,
//      so appending it again after a crash is a `duplicate` in the fold, not a second refill.
//   3. The consumer position is recorded only after the event is appended
//      (relay/signal_consumer.h). A crash before that reruns steps 1-2, which are harmless.
//   4. Defence in depth, when `still_pending` is given (a node that has the views): a signal whose
//      refill the views show as concluded (the org's pending signal is no longer this one) is not
//      charged again. This also covers a rerun later than Stripe keeps idempotency keys (24 h).
//   Money taken is always credited: a charge that succeeds on a rerun after a PaymentFailed was
//   appended still appends its AutoRefill (a different key), which the fold always applies.
//
// VALIDATION: the concluding event goes through the submission path (submit/): it is validated
// before it is appended. One that fails (a field no retry can change, e.g. an org id from a
// signal record the ledger would reject) is never appended: on_error reports it, naming the
// field and the signal, and the signal is passed, so it does not hold up every later refill.
//
// AMOUNTS (refill_amounts): a refill of whole bundles (1..10 of credits_per_bundle_micros) costs
//   what a checkout of those bundles costs (engine/bundle_price.h): bundles × the bundle's amount
//   (bundle_amount_minor, else its credits × credit_price_minor), and the platform fee on top,
//   platform_fee_bp of that plus platform_fee_minor. Any other refill: ceil(credits ×
//   credit_price_minor per credit) and the same fee. The charge is their sum; AutoRefill.paid_minor
//   is the credits part, fee_minor the fee (as Stripe Checkout purchases).
// WHICH CARD: the customer's card saved at checkout (StripeClient::saved_card) is paid off-session
//   with a PaymentIntent (its id is the AutoRefill's payment_ref); a customer without one is
//   charged through POST /v1/charges (its default source), as before cards were saved by Checkout.
//   Both use the same Idempotency-Key. A card lookup that finds no answer concludes the request
//   (PaymentFailed "timeout") as a charge that finds none does.
//   The charge's metadata carries org_id, signal_id, purchase_key, credits_micros and fee_minor,
//   so a later `charge.refunded` webhook maps back to this AutoRefill (ingest/stripe_events.h).
//
// Lifecycle: open() → run() on a thread → request_stop() → join.
// Thread safety: request_stop() from any thread; the rest from the running thread.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "engine/status.h"
#include "log/log.h"
#include "outbound/stripe_client.h"
#include "relay/signal_consumer.h"
#include "submit/submitter.h"

namespace tally::connectors {

inline constexpr int64_t credit_price_minor_default = 100;  // 1 credit = 1.00 in the currency
inline constexpr std::string_view recharge_event_source = "tally-recharge";
// Crash points for tests (fault_hook).
inline constexpr std::string_view fault_recharge_after_charge = "recharge.after_charge";
inline constexpr std::string_view fault_recharge_after_append = "recharge.after_append";

struct RechargeReport {
  std::string signal_id;
  std::string org_id;
  std::string event_type;   // "auto_refill" or "payment_failed"
  std::string event_key;    // its idempotency key
  std::string charge_key;   // the Stripe Idempotency-Key (charge_idempotency_key); empty if never sent
  std::string charge_id;    // succeeded (and declines that name the failed charge)
  int64_t amount_minor = 0; // charged in total (credits part + fee)
  std::string currency;
  std::string code;         // payment_failed: the PaymentFailed code
  std::string message;
  int32_t attempts = 0;     // HTTP attempts of the last create_charge
  bool replayed = false;    // Stripe answered from its idempotency store (a rerun)
};

struct RechargeOptions {
  StripeConfig stripe;
  int64_t credit_price_minor = credit_price_minor_default;  // minor units per credit, > 0
  std::string currency = "usd";                            // 3 lower-case letters
  int64_t platform_fee_minor = 0;                          // fixed fee added to each charge, >= 0
  int32_t platform_fee_bp = 0;                             // percent fee of the credits part, 0..10000
  // Price of one bundle in minor units (0: its credits × credit_price_minor).
  int64_t bundle_amount_minor = 0;
  // Credits in one bundle, to fill AutoRefill.bundles (refill / bundle, when it divides evenly
  // into 1..10). 0: every refill is one bundle.
  int64_t credits_per_bundle_micros = 0;
  std::string progress_path;  // the consumer position, e.g. DIR/recharge.progress
  std::string event_source = std::string(recharge_event_source);
  // Whether the views show this org's refill for `signal_id` still pending; nullopt = cannot tell
  // (then the connector charges, relying on Stripe idempotency). Empty: not consulted.
  std::function<std::optional<bool>(const std::string& org_id, const std::string& signal_id)> still_pending;
  // occurred_at_ms of the events it appends. Empty: the system clock.
  std::function<int64_t()> now_ms;
  // Called at each crash point (tests kill the process there). Empty: none.
  std::function<void(std::string_view point)> fault_hook;
  // Transient failures, retried. Empty: stderr.
  std::function<void(const Status&)> on_error;
  // Each concluded request, for logs and the demo. Called on the connector's thread.
  std::function<void(const RechargeReport&)> on_concluded;
};


// What a refill of `credits_micros` costs (see AMOUNTS). Errors: invalid_argument, too_large.
struct RefillAmounts {
  int64_t paid_minor = 0;
  int64_t fee_minor = 0;
  int32_t bundles = 1;
};
Result<RefillAmounts> refill_amounts(const RechargeOptions& options, int64_t credits_micros);

// ceil(credits_micros × price_minor / 1e6), exact. Errors: invalid_argument ("refill_credits_micros"
// not > 0, "credit_price_minor" not > 0), too_large (over int64).
Result<int64_t> refill_amount_minor(int64_t credits_micros, int64_t credit_price_minor);

// The Stripe Idempotency-Key of the charge for a signal read from the log `log_identity`
// (LogReader::identity()): "tally-<16 hex digits of the identity's digest>:<signal id>", at most
// 23 + 178 bytes for the longest signal id (Stripe allows 255).
std::string charge_idempotency_key(std::string_view log_identity, std::string_view signal_id);

// The concluding events' idempotency keys for a signal.
std::string auto_refill_key(std::string_view signal_id);
std::string payment_failed_key(std::string_view signal_id);

// Checks the options (field named): prices, currency, Stripe base URL and key, progress path.
Status validate(const RechargeOptions& options);

class RechargeConnector {
 public:
  // Opens the consumer position and the Stripe client. `signals` and `events` must outlive it.
  // Errors: validate()'s, and SignalConsumer::open's.
  static Result<std::unique_ptr<RechargeConnector>> open(LogReader& signals, LogWriter& events, RechargeOptions options);

  // Consumes signals until request_stop().
  void run();
  void request_stop() { consumer_->request_stop(); }
  // One poll's worth (tests and tools).
  Result<std::size_t> run_once(int timeout_ms) { return consumer_->run_once(handler(), timeout_ms); }

  const SignalConsumer& consumer() const { return *consumer_; }

 private:
  RechargeConnector(LogWriter& events, RechargeOptions options, std::unique_ptr<SignalConsumer> consumer,
                    std::string signals_identity);
  SignalHandler handler();
  Result<Handled> handle(const SignalRecord& signal);
  Status conclude(const SignalRecord& signal, RechargeReport report, const RefillAmounts& amounts);
  Result<ChargeOutcome> pay(const SignalRecord& signal, const RefillAmounts& amounts, const std::string& key);

  submit::Submitter submitter_;  // onto the events log
  RechargeOptions options_;
  std::unique_ptr<SignalConsumer> consumer_;
  std::string signals_identity_;  // scopes the Stripe Idempotency-Keys
  StripeClient stripe_;
};

}  // namespace tally::connectors
