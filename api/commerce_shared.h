// What the routes of SPEC §14 share (commerce_routes.cpp, workspace_routes.cpp, and the
// auto-refill routes): reading an org that may not exist yet, the enterprise rule, the answers
// about the payment provider. Internal to api/.
#pragma once

#include <optional>
#include <string>

#include "api/api_context.h"
#include "api/http_types.h"

namespace tally::api {

// The org's view, or nullopt when the ledger has none yet. REQUIRES: a valid org id.
Result<std::optional<OrgView>> read_org(ApiContext& ctx, const std::string& org);

// An enterprise org is not limited by credits (seed 004): GET credits says `unlimited`, and price,
// checkout and auto-refill answer credits_unavailable.
bool is_unlimited(const std::optional<OrgView>& view);
// 409 credits_unavailable.
ApiResponse credits_unavailable(const std::string& org);
// 503 payments_not_configured: this server has no payment provider (no Stripe settings).
ApiResponse payments_not_configured();
// A provider failure: 503 payment_provider_unavailable (no answer), else 502 payment_provider_error.
ApiResponse provider_error(const Status& status);

// The customer auto-refill charges, whose saved card the billing page shows: the auto-refill
// policy's payment_customer, else the org's linked one (engine/fold_commerce.h refill_customer).
const std::string& charged_customer(const OrgState& state);

}  // namespace tally::api
