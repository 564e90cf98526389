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

}  // namespace

PriceStatus price_usage(const fb::Usage& usage, const RateCard& card, UsagePrice& out) {
  // provider = numerator / denominator, exactly.
  u128 numerator = 0;
  u128 denominator = 1;
  const auto reported = usage.reported_cost_micros();
  if (reported.has_value()) {
    numerator = as_u128(*reported);
  } else if (card.version == 0) {
    return PriceStatus::unpriced;
  } else if (usage.meter() == fb::Meter::llm_tokens) {
    const auto* model = usage.model();
    auto it = model ? card.models.find(model->string_view()) : card.models.end();
    if (it == card.models.end()) return PriceStatus::unpriced;
    const ModelPrice& price = it->second;
    if (!add_term(numerator, usage.input_tokens(), price.input_per_mtok_micros) ||
        !add_term(numerator, usage.output_tokens(), price.output_per_mtok_micros) ||
        !add_term(numerator, usage.cache_read_tokens(), price.cache_read_per_mtok_micros) ||
        !add_term(numerator, usage.cache_write_tokens(), price.cache_write_per_mtok_micros)) {
      return PriceStatus::overflow;
    }
    denominator = static_cast<u128>(limits::tokens_per_price_unit);
  } else {
    const auto* sandbox_class = usage.sandbox_class();
    auto it = sandbox_class ? card.sandbox_per_hour_micros.find(sandbox_class->string_view())
                            : card.sandbox_per_hour_micros.end();
    if (it == card.sandbox_per_hour_micros.end()) return PriceStatus::unpriced;
    if (!add_term(numerator, usage.seconds(), it->second)) return PriceStatus::overflow;
    denominator = static_cast<u128>(limits::seconds_per_hour);
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

PaidBy paid_by(const OrgState& org, fb::BillingPath requested) {
  if (org.plan == Plan::enterprise || org.mode == BillingMode::deferred) return PaidBy::invoiced;
  switch (requested) {
    case fb::BillingPath::credits: return PaidBy::credits;
    case fb::BillingPath::byok: return PaidBy::byok;
    default: return org.mode == BillingMode::byok ? PaidBy::byok : PaidBy::credits;
  }
}

}  // namespace tally
