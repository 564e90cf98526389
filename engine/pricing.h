// Pricing of one usage event (SPEC §4): exact 128-bit arithmetic, one rounding, up, to the µcr.
//   provider = reported_cost                       if reported
//            = Σ tokens_i × price_i / 1e6          llm_tokens  (prices per 1M tokens)
//            = seconds × per_hour / 3600           sandbox_seconds
//   billable = ceil(provider × markup_bp / 10000)
//   byok_fee = ceil(provider × byok_fee_bp / 10000)
// provider itself is kept as an exact fraction until the final rounding.
// Before any rate card (version 0), a reported cost bills at markup 1× and no BYOK fee.
#pragma once

#include <cstdint>

#include "engine/state.h"

namespace tally {
namespace fb {
struct Usage;
struct HoldEstimate;
enum class BillingPath : int8_t;
}  // namespace fb

enum class PriceStatus : uint8_t { ok, unpriced, overflow };

struct UsagePrice {
  int64_t provider_micros = 0;  // ceil(provider)
  int64_t billable_micros = 0;
  int64_t byok_fee_micros = 0;
  int64_t rate_card_version = 0;
};

// Who pays for a usage event (SPEC §4): an enterprise or deferred org is invoiced (nothing is
// drawn from its wallet); otherwise the path the event asks for, or the org's mode if it asks for
// none. The fold debits by it; the history shows it.
enum class PaidBy : uint8_t { credits, byok, invoiced };
PaidBy paid_by(const OrgState& org, fb::BillingPath requested);

// REQUIRES: usage passed validate_envelope (non-negative counts, known meter).
PriceStatus price_usage(const fb::Usage& usage, const RateCard& card, UsagePrice& out);

// A hold's estimate (SPEC §11), priced as a usage event of input + max output tokens (or seconds)
// would be on the credits path: ceil(provider × markup_bp / 10000). No rate card: unpriced.
// REQUIRES: estimate passed validate_envelope.
PriceStatus price_estimate(const fb::HoldEstimate& estimate, const RateCard& card, int64_t& billable_micros);

}  // namespace tally
