// What buying credits costs (SPEC §14, seeds 001 and 004): credits are sold in bundles of a fixed
// size at a fixed price; a purchase is 1..10 bundles, and the platform fee is added on top, as its
// own amount: a percent (basis points) of the bundles' price and/or a fixed amount. Checkout and
// the recharge connector quote with the same function, so a refill in bundles costs what a
// checkout of those bundles costs.
//
// Pure (tally_core), integer arithmetic only: the percent is rounded once, up, to the minor unit.
#pragma once

#include <cstdint>
#include <string>

#include "engine/money.h"
#include "engine/status.h"

namespace tally {

inline constexpr int32_t platform_fee_bp_max = 10'000;  // 100%

struct BundleOffer {
  Micros credits_per_bundle;      // > 0
  int64_t unit_amount_minor = 0;  // price of one bundle, > 0, minor units of `currency`
  std::string currency;           // ISO 4217, lower case
  int32_t fee_bp = 0;             // 0..platform_fee_bp_max: percent of the bundles' price
  int64_t fee_fixed_minor = 0;    // >= 0: added to each purchase
};

struct BundleQuote {
  int32_t bundles = 0;
  Micros credits;               // bundles × credits per bundle
  int64_t paid_minor = 0;       // bundles × unit amount: what the credits cost
  int64_t fee_minor = 0;        // ceil(paid × fee_bp / 10000) + fee_fixed
  int64_t total_minor = 0;      // paid + fee: what the customer is charged
};

// Checks an offer. Errors: invalid_argument naming the field.
Status validate(const BundleOffer& offer);

// The quote for `bundles` bundles. Errors: invalid_argument ("quantity": not 1..10; or the
// offer's field), too_large (an amount over 64 bits).
Result<BundleQuote> quote(const BundleOffer& offer, int64_t bundles);

}  // namespace tally
