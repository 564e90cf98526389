#include "relay/recharge.h"

#include <chrono>
#include <cstdio>
#include <limits>
#include <span>
#include <utility>

#include "engine/bundle_price.h"
#include "engine/digest.h"
#include "engine/event_factory.h"
#include "engine/limits.h"

namespace tally::connectors {
namespace {

int64_t system_now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

bool is_currency(std::string_view currency) {
  if (currency.size() != 3) return false;
  for (char c : currency) {
    if (c < 'a' || c > 'z') return false;
  }
  return true;
}

int32_t bundles_for(int64_t credits_micros, int64_t per_bundle_micros) {
  if (per_bundle_micros <= 0 || credits_micros % per_bundle_micros != 0) return 1;
  const int64_t bundles = credits_micros / per_bundle_micros;
  return bundles >= 1 && bundles <= limits::bundles_max ? static_cast<int32_t>(bundles) : 1;
}

void report_error(const RechargeOptions& options, const Status& status) {
  if (options.on_error) {
    options.on_error(status);
  } else {
    std::fprintf(stderr, "tally recharge: %s\n", status.to_string().c_str());
  }
}

// Stripe limits messages to what we can store: PaymentFailed.message is a text field.
std::string clip(std::string text) {
  if (text.size() > limits::text_field_bytes_max) text.resize(limits::text_field_bytes_max);
  return text;
}

}  // namespace

Result<int64_t> refill_amount_minor(int64_t credits_micros, int64_t credit_price_minor) {
  if (credits_micros <= 0) return Status::invalid("refill_credits_micros", "must be > 0");
  if (credit_price_minor <= 0) return Status::invalid("credit_price_minor", "must be > 0");
  const __int128 product = static_cast<__int128>(credits_micros) * credit_price_minor;
  const __int128 amount = (product + limits::micros_per_credit - 1) / limits::micros_per_credit;
  if (amount > std::numeric_limits<int64_t>::max()) {
    return Status::error(Status::Code::too_large, "refill amount does not fit in 64 bits");
  }
  return static_cast<int64_t>(amount);
}

Result<RefillAmounts> refill_amounts(const RechargeOptions& options, int64_t credits_micros) {
  const int32_t bundles = bundles_for(credits_micros, options.credits_per_bundle_micros);
  const bool whole_bundles = options.credits_per_bundle_micros > 0 &&
                             credits_micros == bundles * options.credits_per_bundle_micros;
  if (whole_bundles) {
    // Priced as a checkout of those bundles is (engine/bundle_price.h).
    Result<int64_t> unit = options.bundle_amount_minor > 0
                               ? Result<int64_t>(options.bundle_amount_minor)
                               : refill_amount_minor(options.credits_per_bundle_micros, options.credit_price_minor);
    if (!unit.is_ok()) return unit.status();
    const BundleOffer offer{Micros{options.credits_per_bundle_micros}, unit.value(), options.currency,
                            options.platform_fee_bp, options.platform_fee_minor};
    Result<BundleQuote> q = quote(offer, bundles);
    if (!q.is_ok()) return q.status();
    return RefillAmounts{q->paid_minor, q->fee_minor, q->bundles};
  }
  Result<int64_t> paid = refill_amount_minor(credits_micros, options.credit_price_minor);
  if (!paid.is_ok()) return paid.status();
  const __int128 percent = (static_cast<__int128>(paid.value()) * options.platform_fee_bp + 9'999) / 10'000;
  const __int128 fee = percent + options.platform_fee_minor;
  if (fee + paid.value() > std::numeric_limits<int64_t>::max()) {
    return Status::error(Status::Code::too_large, "refill amount plus fee does not fit in 64 bits");
  }
  return RefillAmounts{paid.value(), static_cast<int64_t>(fee), 1};
}

std::string charge_idempotency_key(std::string_view log_identity, std::string_view signal_id) {
  std::string key = "tally-";
  key += murmur3_128(log_identity.data(), log_identity.size()).to_hex().substr(0, 16);
  key += ':';
  key += signal_id;
  return key;
}

std::string auto_refill_key(std::string_view signal_id) { return "refill:" + std::string(signal_id); }
std::string payment_failed_key(std::string_view signal_id) { return "refill-failed:" + std::string(signal_id); }

Status validate(const RechargeOptions& options) {
  if (options.credit_price_minor <= 0) return Status::invalid("credit_price_minor", "must be > 0");
  if (!is_currency(options.currency)) return Status::invalid("currency", "must be 3 lower-case letters, e.g. usd");
  if (options.platform_fee_minor < 0) return Status::invalid("platform_fee_minor", "must be >= 0");
  if (options.platform_fee_bp < 0 || options.platform_fee_bp > platform_fee_bp_max) {
    return Status::invalid("platform_fee_bp", "must be 0..10000");
  }
  if (options.bundle_amount_minor < 0) return Status::invalid("bundle_amount_minor", "must be >= 0");
  if (options.credits_per_bundle_micros < 0) return Status::invalid("credits_per_bundle_micros", "must be >= 0");
  if (options.stripe.base_url.rfind("http://", 0) != 0 && options.stripe.base_url.rfind("https://", 0) != 0) {
    return Status::invalid("stripe.base_url", "must be an http:// or https:// URL");
  }
  if (options.stripe.api_key.empty()) return Status::invalid("stripe.api_key", "is required");
  if (options.stripe.retry.attempts_max < 1) return Status::invalid("stripe.retry.attempts_max", "must be >= 1");
  if (options.progress_path.empty()) return Status::invalid("progress_path", "is required");
  return Status::ok();
}

Result<std::unique_ptr<RechargeConnector>> RechargeConnector::open(LogReader& signals, LogWriter& events,
                                                                   RechargeOptions options) {
  if (Status s = validate(options); !s.is_ok()) return s;
  auto consumer = SignalConsumer::open(signals, {"recharge", options.progress_path, options.on_error});
  if (!consumer.is_ok()) return consumer.status();
  if (!options.now_ms) options.now_ms = system_now_ms;
  return std::unique_ptr<RechargeConnector>(
      new RechargeConnector(events, std::move(options), std::move(consumer.value()), signals.identity()));
}

RechargeConnector::RechargeConnector(LogWriter& events, RechargeOptions options, std::unique_ptr<SignalConsumer> consumer,
                                     std::string signals_identity)
    : submitter_(events, submit::SubmitterOptions{}),
      options_(std::move(options)),
      consumer_(std::move(consumer)),
      signals_identity_(std::move(signals_identity)),
      // Backoff between attempts waits on the consumer's waker, so a stop does not sit out a delay.
      stripe_(options_.stripe, [waker = &consumer_->waker()](int64_t ms) { waker->sleep_for(ms); }) {}

SignalHandler RechargeConnector::handler() {
  return [this](const SignalRecord& signal) { return handle(signal); };
}

void RechargeConnector::run() { consumer_->run(handler()); }

Result<Handled> RechargeConnector::handle(const SignalRecord& signal) {
  if (signal.kind != SignalKind::recharge_requested) return Handled::skipped;
  if (options_.still_pending) {
    const std::optional<bool> pending = options_.still_pending(signal.org_id, signal.signal_id);
    // Concluded already (an AutoRefill or PaymentFailed naming it was applied): nothing to charge.
    if (pending.has_value() && !*pending) return Handled::skipped;
  }
  RechargeReport report;
  report.signal_id = signal.signal_id;
  report.org_id = signal.org_id;
  report.currency = options_.currency;

  Result<RefillAmounts> amounts = refill_amounts(options_, signal.refill_credits_micros);
  if (!amounts.is_ok()) {
    report.code = "invalid_amount";
    report.message = amounts.status().to_string();
    if (Status s = conclude(signal, std::move(report), {}); !s.is_ok()) return s;
    return Handled::acted;
  }
  report.amount_minor = amounts->paid_minor + amounts->fee_minor;
  report.charge_key = charge_idempotency_key(signals_identity_, signal.signal_id);
  auto outcome = pay(signal, amounts.value(), report.charge_key);
  if (!outcome.is_ok() && outcome.status().code() == Status::Code::unavailable && consumer_->waker().stopped()) {
    return outcome.status();  // cut short by a stop: the next start retries it
  }
  if (!outcome.is_ok()) {
    // Never sent (no customer on the signal, a key or metadata over Stripe's limits), or the
    // saved card could not be looked up: a retry cannot help, so the request is concluded and
    // auto-refill turned off.
    report.code = outcome.status().code() == Status::Code::unavailable ? "timeout" : "invalid_request";
    report.message = outcome.status().to_string();
    if (Status s = conclude(signal, std::move(report), amounts.value()); !s.is_ok()) return s;
    return Handled::acted;
  }
  if (outcome->kind == ChargeOutcome::Kind::retries_exhausted && consumer_->waker().stopped()) {
    // Cut short by a stop, not by Stripe: leave it unconcluded; the next start retries it.
    return Status::error(Status::Code::unavailable, "stopped while charging for " + signal.signal_id);
  }
  if (options_.fault_hook) options_.fault_hook(fault_recharge_after_charge);
  // A PaymentIntent is the payment's reference (a refund of its charge names it).
  report.charge_id = outcome->payment_intent.empty() ? outcome->charge_id : outcome->payment_intent;
  report.attempts = outcome->attempts;
  report.replayed = outcome->replayed;
  if (outcome->kind != ChargeOutcome::Kind::succeeded) {
    report.code = outcome->failure_code();
    report.message = outcome->error.message.empty() ? std::string(kind_name(outcome->kind)) : outcome->error.message;
  }
  if (Status s = conclude(signal, std::move(report), amounts.value()); !s.is_ok()) return s;
  if (options_.fault_hook) options_.fault_hook(fault_recharge_after_append);
  return Handled::acted;
}

// The card the customer saved at checkout (a PaymentIntent, off-session), else its default source
// (a charge, as before cards were saved by Checkout). One idempotency key either way: a rerun
// after a crash that finds otherwise is refused by Stripe rather than charging twice.
Result<ChargeOutcome> RechargeConnector::pay(const SignalRecord& signal, const RefillAmounts& amounts,
                                             const std::string& key) {
  const std::vector<std::pair<std::string, std::string>> metadata = {
      {"org_id", signal.org_id},
      {"signal_id", signal.signal_id},
      {"purchase_key", auto_refill_key(signal.signal_id)},
      {"credits_micros", std::to_string(signal.refill_credits_micros)},
      {"fee_minor", std::to_string(amounts.fee_minor)}};
  const std::string description = "Tally auto-refill for " + signal.org_id;
  const int64_t total = amounts.paid_minor + amounts.fee_minor;
  if (!signal.payment_customer.empty()) {
    Result<std::optional<SavedCard>> card = stripe_.saved_card(signal.payment_customer);
    if (!card.is_ok()) return card.status();
    if (card->has_value()) {
      return stripe_.create_payment_intent(PaymentIntentRequest{signal.payment_customer, card->value().payment_method,
                                                                total, options_.currency, key, metadata, description});
    }
  }
  ChargeRequest request;
  request.customer = signal.payment_customer;
  request.amount_minor = total;
  request.currency = options_.currency;
  request.idempotency_key = key;
  request.description = description;
  request.metadata = metadata;
  return stripe_.create_charge(request);
}

Status RechargeConnector::conclude(const SignalRecord& signal, RechargeReport report, const RefillAmounts& amounts) {
  const int64_t now_ms = options_.now_ms();
  std::string encoded;
  if (report.code.empty()) {
    report.event_type = "auto_refill";
    report.event_key = auto_refill_key(signal.signal_id);
    const PaymentFields payment{.credits_micros = signal.refill_credits_micros,
                                .paid_minor = amounts.paid_minor,
                                .currency = options_.currency,
                                .fee_minor = amounts.fee_minor,
                                .bundles = amounts.bundles,
                                .payment_ref = report.charge_id};
    encoded = make_auto_refill({report.event_key, signal.org_id, now_ms, options_.event_source, signal.signal_id},
                               payment, signal.signal_id);
  } else {
    report.event_type = "payment_failed";
    report.event_key = payment_failed_key(signal.signal_id);
    report.message = clip(std::move(report.message));
    encoded = make_payment_failed({report.event_key, signal.org_id, now_ms, options_.event_source, signal.signal_id},
                                  signal.signal_id, report.code, report.message);
  }
  // Through the submission path: validated before it is appended. A refused event (a field no
  // retry can change: an org id or charge id the ledger would reject) is never appended; it is
  // reported and the signal is passed, so one bad request does not stop every later refill.
  Result<submit::PreparedEvents> event = submit::prepare_built({std::move(encoded)});
  if (!event.is_ok()) {
    report_error(options_, Status::invalid(event.status().field(),
                                          report.event_type + " for " + signal.signal_id + " refused, nothing appended (" +
                                              event.status().message() + "); the signal is passed"));
    return Status::ok();
  }
  Result<submit::Submitted> appended = submitter_.submit(std::move(event.value()), false);
  if (!appended.is_ok()) {
    return Status::error(appended.status().code(),
                         "appending " + report.event_type + " for " + signal.signal_id + ": " + appended.status().message());
  }
  if (options_.on_concluded) options_.on_concluded(report);
  return Status::ok();
}

}  // namespace tally::connectors
