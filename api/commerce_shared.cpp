#include "api/commerce_shared.h"

#include "engine/fold_commerce.h"

namespace tally::api {

Result<std::optional<OrgView>> read_org(ApiContext& ctx, const std::string& org) {
  return ctx.views.org(OrgId::make(org).value());  // org_param checked it
}

bool is_unlimited(const std::optional<OrgView>& view) { return view && view->state.plan == Plan::enterprise; }

ApiResponse credits_unavailable(const std::string& org) {
  return ApiResponse::error(409, "credits_unavailable",
                            "org " + org + " is on the enterprise plan: it is not limited by credits, and buying or "
                                           "refilling credits is unavailable");
}

ApiResponse payments_not_configured() {
  return ApiResponse::error(503, "payments_not_configured",
                            "this server has no payment provider: configure [stripe] url, key and a bundle price");
}

ApiResponse provider_error(const Status& status) {
  if (status.code() == Status::Code::unavailable) {
    return ApiResponse::error(503, "payment_provider_unavailable", "the payment provider did not answer: " + status.message());
  }
  return ApiResponse::error(502, "payment_provider_error", "the payment provider refused: " + status.message());
}

const std::string& charged_customer(const OrgState& state) { return refill_customer(state); }

}  // namespace tally::api
