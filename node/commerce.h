// Buying credits on a node's API (SPEC §14): the payment provider the price, checkout and
// payment-method routes use (api/commerce.h), built on Stripe (outbound/stripe_client.h), and the
// bundle's Stripe price, configured or found (or created) at start from a configured product.
//
// Caveats: start_commerce() calls Stripe (to check a configured price, or to find or make one), so
// a node with commerce does not start while Stripe is unreachable; it says so.
// Thread safety: the provider is thread-safe (a Stripe client per call).
// The recharge connector quotes refills from the same settings (relay/recharge.h AMOUNTS), so a
// configured price that costs another amount than the bundle is refused at start.
#pragma once

#include <memory>
#include <string>

#include "api/commerce.h"
#include "engine/bundle_price.h"
#include "engine/status.h"
#include "outbound/stripe_client.h"

namespace tally {

// A customer waits on the checkout and payment-method routes: their Stripe calls give up sooner
// than the recharge connector's (which runs in the background).
inline constexpr int64_t commerce_stripe_timeout_ms = 10'000;  // one attempt
inline constexpr int32_t commerce_stripe_attempts_max = 3;

struct CommerceSettings {
  connectors::StripeConfig stripe;  // tally dev/serve: commerce_stripe_timeout_ms, _attempts_max
  // The bundle: what the API quotes, and what a configured price must cost.
  BundleOffer offer;
  std::string price_id;    // the Stripe price of one bundle, or empty and:
  std::string product_id;  // a one-time price of this product for the bundle's amount is found or made
};

// The provider over Stripe: customers, Checkout Sessions (the bundle price × quantity, the fee as
// an ad hoc line, the card saved for off-session use), saved cards.
std::shared_ptr<api::PaymentProvider> stripe_payment_provider(connectors::StripeConfig config);

// Resolves the bundle's price and builds the API's options. `key_scope` scopes Tally's Stripe
// idempotency keys (a digest of the events log's identity).
// Errors: invalid_argument naming "price_id" (unknown at Stripe, recurring, inactive, or another
// amount or currency than the settings say), "product_id"; unavailable (Stripe did not answer).
Result<api::CommerceOptions> start_commerce(const CommerceSettings& settings, const std::string& key_scope);

}  // namespace tally
