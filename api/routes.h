// The built-in routes (SPEC §7), grouped by file. Internal to api/.
#pragma once

#include <string>
#include <vector>

#include "api/api_context.h"
#include "api/http_types.h"

namespace tally::api {

// GET credits, transactions, auto-refill, member-limits, usage (read_routes.cpp).
std::vector<Route> read_routes(ApiContext& ctx);
// PUT/DELETE auto-refill and member limits (command_routes.cpp).
std::vector<Route> command_routes(ApiContext& ctx);
// POST /api/v1/events (event_routes.cpp).
std::vector<Route> event_routes(ApiContext& ctx);
// GET credits/price, POST credits/checkout, GET credits/payment-method (commerce_routes.cpp).
std::vector<Route> commerce_routes(ApiContext& ctx);
// GET|PUT|DELETE workspaces/{ws}/billing (workspace_routes.cpp).
std::vector<Route> workspace_routes(ApiContext& ctx);
// POST credits/holds, holds/{hold_id}/extend, holds/{hold_id}/release, GET credits/holds and
// GET credits/runway (hold_routes.cpp, runway_route.cpp; SPEC §11).
std::vector<Route> hold_routes(ApiContext& ctx);
Route runway_route(ApiContext& ctx);
// GET credits/grants, POST credits/grants, POST credits/grants/{grant_id}/void (grant_routes.cpp;
// SPEC §12).
std::vector<Route> grant_routes(ApiContext& ctx);
// POST /api/v1/org/{org}/billing-links, GET /billing/{org} (the billing page), its CSV and its form
// posts (billing_page_routes.cpp).
std::vector<Route> billing_routes(ApiContext& ctx);
// GET /openapi.json (openapi_route.cpp).
std::vector<Route> openapi_routes(ApiContext& ctx);
// GET /healthz, GET /metrics (ops_routes.cpp).
std::vector<Route> ops_routes(ApiContext& ctx);

// GET /api/v1/org/{org}/rejects, GET /api/v1/rejects, GET /api/v1/org/{org}/signals (reject_routes.cpp).
std::vector<Route> reject_routes(ApiContext& ctx);

// See HttpServer::submit_events.
ApiResponse submit_events(ApiContext& ctx, const std::vector<std::string>& canonical_json, const ApiRequest& request);

// Counts a submission whose wait ran out (http_metrics.wait_timeouts), once.
void count_wait_timeout(ApiContext& ctx, const submit::Submitted& submitted);

// True if `type` is the canonical JSON name of an event body ("purchase", "usage", ...).
bool is_event_type(std::string_view type);

}  // namespace tally::api
