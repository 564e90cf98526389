#include "pricing.h"

#include <limits>

#include "limits.h"
#include "tally/events_generated.h"

namespace tally {
namespace {

using u128 = unsigned __int128;

bool mul(u128 a, u128 b, u128& out) { return !__builtin_mul_overflow(a, b, &out); }
bool add(u128 a, u128 b, u128& out) { return !__builtin_add_overflow(a, b, &out); }

u128 as_u128(int64_t v) { return static_cast<u128>(static_cast<uint64_t>(v)); }

// ceil(numerator × factor / denominator) into an int64, or false on overflow.
bool scaled_ceil(u128 numerator, int64_t factor, u128 denominator, int64_t& out) {
  // Nearly every price fits in 64 bits: one machine division instead of the 128-bit routine.
  // The same quotient either way; anything that does not fit takes the 128-bit path below.
  uint64_t product64 = 0;
  if ((numerator >> 64) == 0 && (denominator >> 64) == 0 &&
      !__builtin_mul_overflow(static_cast<uint64_t>(numerator), static_cast<uint64_t>(factor), &product64)) {
    const auto divisor = static_cast<uint64_t>(denominator);
    const uint64_t quotient = product64 / divisor + (product64 % divisor != 0 ? 1 : 0);
    if (quotient > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) return false;
    out = static_cast<int64_t>(quotient);
    return true;
  }
  u128 product = 0;
  if (!mul(numerator, as_u128(factor), product)) return false;
  const u128 quotient = product / denominator + (product % denominator != 0 ? 1 : 0);
  if (quotient > static_cast<u128>(std::numeric_limits<int64_t>::max())) return false;
  out = static_cast<int64_t>(quotient);
  return true;
}

bool add_term(u128& sum, int64_t tokens, int64_t price) {
  u128 term = 0;
  return mul(as_u128(tokens), as_u128(price), term) && add(sum, term, sum);
}

// What the rate card prices: the counts of a usage event or of a hold's estimate.
struct Counts {
  fb::Meter meter = fb::Meter::unset;
  const flatbuffers::String* model = nullptr;
  const flatbuffers::String* sandbox_class = nullptr;
  int64_t input_tokens = 0, output_tokens = 0, cache_read_tokens = 0, cache_write_tokens = 0, seconds = 0;
};

// provider = numerator / denominator, exactly, from the card's prices.
PriceStatus provider_fraction(const Counts& c, const RateCard& card, u128& numerator, u128& denominator) {
  if (card.version == 0) return PriceStatus::unpriced;
  if (c.meter == fb::Meter::llm_tokens) {
    auto it = c.model ? card.models.find(c.model->string_view()) : card.models.end();
    if (it == card.models.end()) return PriceStatus::unpriced;
    const ModelPrice& price = it->second;
    if (!add_term(numerator, c.input_tokens, price.input_per_mtok_micros) ||
        !add_term(numerator, c.output_tokens, price.output_per_mtok_micros) ||
        !add_term(numerator, c.cache_read_tokens, price.cache_read_per_mtok_micros) ||
        !add_term(numerator, c.cache_write_tokens, price.cache_write_per_mtok_micros)) {
      return PriceStatus::overflow;
    }
    denominator = static_cast<u128>(limits::tokens_per_price_unit);
    return PriceStatus::ok;
  }
  auto it = c.sandbox_class ? card.sandbox_per_hour_micros.find(c.sandbox_class->string_view())
                            : card.sandbox_per_hour_micros.end();
  if (it == card.sandbox_per_hour_micros.end()) return PriceStatus::unpriced;
  if (!add_term(numerator, c.seconds, it->second)) return PriceStatus::overflow;
  denominator = static_cast<u128>(limits::seconds_per_hour);
  return PriceStatus::ok;
}

}  // namespace

PriceStatus price_usage(const fb::Usage& usage, const RateCard& card, UsagePrice& out) {
  u128 numerator = 0;
  u128 denominator = 1;
  const auto reported = usage.reported_cost_micros();
  if (reported.has_value()) {
    numerator = as_u128(*reported);
  } else {
    const Counts counts{usage.meter(),         usage.model(),         usage.sandbox_class(),
                        usage.input_tokens(),  usage.output_tokens(), usage.cache_read_tokens(),
                        usage.cache_write_tokens(), usage.seconds()};
    if (const PriceStatus s = provider_fraction(counts, card, numerator, denominator); s != PriceStatus::ok) return s;
  }
  const int64_t markup_bp = card.version == 0 ? 10000 : card.markup_bp;
  const int64_t fee_bp = card.version == 0 ? 0 : card.byok_fee_bp;
  if (!scaled_ceil(numerator, 1, denominator, out.provider_micros) ||
      !scaled_ceil(numerator, markup_bp, denominator * 10000, out.billable_micros) ||
      !scaled_ceil(numerator, fee_bp, denominator * 10000, out.byok_fee_micros)) {
    return PriceStatus::overflow;
  }
  out.rate_card_version = card.version;
  return PriceStatus::ok;
}

PriceStatus price_estimate(const fb::HoldEstimate& estimate, const RateCard& card, int64_t& billable_micros) {
  u128 numerator = 0;
  u128 denominator = 1;
  const Counts counts{estimate.meter(),        estimate.model(), estimate.sandbox_class(), estimate.input_tokens(),
                      estimate.max_output_tokens(), 0, 0, estimate.seconds()};
  if (const PriceStatus s = provider_fraction(counts, card, numerator, denominator); s != PriceStatus::ok) return s;
  if (!scaled_ceil(numerator, card.markup_bp, denominator * 10000, billable_micros)) return PriceStatus::overflow;
  return PriceStatus::ok;
}

PaidBy paid_by(const OrgState& org, fb::BillingPath requested) {
  if (org.plan == Plan::enterprise || org.mode == BillingMode::deferred) return PaidBy::invoiced;
  switch (requested) {
    case fb::BillingPath::credits: return PaidBy::credits;
    case fb::BillingPath::byok: return PaidBy::byok;
    default: return org.mode == BillingMode::byok ? PaidBy::byok : PaidBy::credits;
  }
}

}  // namespace tally
