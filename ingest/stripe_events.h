// Maps a verified Stripe webhook event (the raw JSON body; verify it first with
// verify_stripe_signature()) to a Tally canonical event (ingest/canonical_event.h).
//
//   checkout.session.completed            -> purchase, when payment_status is "paid" (or absent)
//   checkout.session.async_payment_succeeded -> purchase (delayed payment methods)
//   charge.refunded                       -> refund
//   anything else                         -> ignored (acknowledge with 200; Stripe stops resending)
//
// Purchase (from the Checkout Session in data.object):
//   idempotency_key = event `id` (Stripe resends an event with the same id: a duplicate, not a
//                     second purchase)
//   occurred_at_ms  = event `created` × 1000
//   org_id          = `client_reference_id`, else `metadata.org_id`
//   bundles         = `metadata.bundles` (1..10), default 1
//   credits_micros  = `metadata.credits_micros`, else bundles × config.credits_per_bundle_micros
//   fee_minor       = `metadata.fee_minor`, default 0 (platform fee, paid on top of the credits)
//   paid_minor      = `amount_subtotal`, else `amount_total` − fee_minor. When the fee is a line
//                     item of the session (Tally's own checkout, SPEC §14: its metadata holds
//                     `paid_minor`), `amount_subtotal` − fee_minor.
//   currency        = `currency`; payment_ref = `payment_intent`, else the session id
//   correlation_id  = the session id
// Metadata values are strings in Stripe ("100000000"); JSON integers are accepted too.
// A session with mode other than "payment", or payment_status "unpaid" (a delayed method whose
// money has not arrived), is ignored: its async_payment_succeeded event records the purchase.
//
// Refund (from the Charge in data.object):
//   idempotency_key = event `id`; occurred_at_ms = `created` × 1000; correlation_id = charge id
//   org_id, purchase_key = `metadata.org_id`, `metadata.purchase_key` (the Tally idempotency key of
//                     the purchase or auto-refill), else config.find_purchase(payment_intent or
//                     charge id). The recharge connector puts both on the charges it makes; a
//                     Checkout Session's charge has no metadata of its own, so a refund of a
//                     Checkout purchase is found by its payment intent (a node looks it up in the
//                     views: ViewReader::purchase_by_payment).
//   credits_micros  = the part of the purchase's credits that this event newly refunds:
//        C    = the found purchase's credits (lookup), else `metadata.credits_micros` (credits the
//               charge bought), else bundles × per-bundle
//        base = `amount` − fee, fee = the found purchase's fee, else `metadata.fee_minor`, else 0
//               (the platform fee is refunded last)
//        f(x) = floor(C × min(x, base) / base)                 (128-bit, integers only)
//        credits = f(`amount_refunded`) − f(`data.previous_attributes.amount_refunded`, else 0)
//     `amount_refunded` is cumulative across partial refunds, hence the difference. Rounding down
//     each cumulative value means partial refunds never sum to more than C, and a full refund
//     returns exactly C. A refund event that adds no credits (fee-only) is ignored.
//     Without previous_attributes the event is read as the charge's first refund.
//
// Errors: invalid_argument naming the field by its JSON path ("data.object.currency"): not JSON,
// missing or mistyped field, negative amount, bundles outside 1..10, invalid org id, overflow.
// Thread safety: pure functions (find_purchase is called on the caller's thread).
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include <boost/json/value.hpp>

#include "engine/status.h"
#include "ingest/canonical_event.h"

namespace tally::connectors {

// Where a refunded payment's purchase lives in the ledger.
struct PurchaseRef {
  std::string org_id;
  std::string purchase_key;
  // From a lookup in the views (0 = unknown): the credits the purchase bought and the platform fee
  // paid on top. They stand in for the charge's metadata.credits_micros and metadata.fee_minor.
  int64_t credits_micros = 0;
  int64_t fee_minor = 0;
};

struct StripeMappingConfig {
  // Credits in one bundle, for checkouts that carry metadata.bundles but not credits_micros.
  // 0 = not configured: credits_micros is then required.
  int64_t credits_per_bundle_micros = 0;
  // Optional lookup for charges without org_id/purchase_key metadata (e.g. from the purchases
  // view by payment reference). Called with the payment_intent id, then the charge id.
  std::function<std::optional<PurchaseRef>(std::string_view payment_ref)> find_purchase;
};

inline constexpr std::string_view stripe_event_source = "stripe";

// Maps the raw event body. See the file comment for the rules.
Result<MappedEvent> map_stripe_event(std::string_view payload, const StripeMappingConfig& config);
// The same for an already parsed event.
Result<MappedEvent> map_stripe_event(const boost::json::value& event, const StripeMappingConfig& config);

}  // namespace tally::connectors
