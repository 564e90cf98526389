#include "engine/bundle_price.h"

#include "engine/limits.h"

namespace tally {

Status validate(const BundleOffer& offer) {
  if (offer.credits_per_bundle <= Micros{}) return Status::invalid("credits_per_bundle", "must be > 0");
  if (offer.unit_amount_minor <= 0) return Status::invalid("unit_amount_minor", "must be > 0");
  const bool currency = offer.currency.size() == 3 && offer.currency.find_first_not_of("abcdefghijklmnopqrstuvwxyz") ==
                                                          std::string::npos;
  if (!currency) return Status::invalid("currency", "must be 3 lower-case letters (ISO 4217)");
  if (offer.fee_bp < 0 || offer.fee_bp > platform_fee_bp_max) return Status::invalid("fee_bp", "must be 0..10000");
  if (offer.fee_fixed_minor < 0) return Status::invalid("fee_fixed_minor", "must be >= 0");
  return Status::ok();
}

Result<BundleQuote> quote(const BundleOffer& offer, int64_t bundles) {
  if (Status s = validate(offer); !s.is_ok()) return s;
  if (bundles < 1 || bundles > limits::bundles_max) return Status::invalid("quantity", "must be 1..10");
  BundleQuote q;
  q.bundles = static_cast<int32_t>(bundles);
  int64_t credits = 0;
  const auto too_large = [] { return Status::error(Status::Code::too_large, "the purchase's amount overflows 64 bits"); };
  if (__builtin_mul_overflow(offer.credits_per_bundle.value(), bundles, &credits)) return too_large();
  q.credits = Micros{credits};
  if (__builtin_mul_overflow(offer.unit_amount_minor, bundles, &q.paid_minor)) return too_large();
  // ceil(paid × bp / 10000), exact in 128 bits.
  const __int128 percent = (static_cast<__int128>(q.paid_minor) * offer.fee_bp + 9'999) / 10'000;
  if (percent > INT64_MAX || __builtin_add_overflow(static_cast<int64_t>(percent), offer.fee_fixed_minor, &q.fee_minor)) {
    return too_large();
  }
  if (__builtin_add_overflow(q.paid_minor, q.fee_minor, &q.total_minor)) return too_large();
  return q;
}

}  // namespace tally
