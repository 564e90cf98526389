// Grant routes (SPEC §12): an org's grants, and an operator's credit grants and voids.
//   GET  .../credits/grants[?consumptions=false]  every grant of the org, each with its consumptions
//   POST .../credits/grants                       admin: CreditGranted {credits_micros, category,
//                                                 priority, expires_at_ms, reason, operator}; the
//                                                 grant id is the Idempotency-Key (or a fresh key)
//   POST .../credits/grants/{grant_id}/void       admin: GrantVoided {credits_micros (absent or 0:
//                                                 all that remains), reason}
// The commands go the way of every command (api/command.h): 400 for a bad field before anything is
// appended, 202 with the position, or with ?wait=1 the fold's outcome (200 with the grant as it
// now stands; 422 for unknown_grant, nothing_to_void, void_exceeds_remaining).
#include "api/command.h"
#include "api/grant_json.h"
#include "api/handler_util.h"
#include "api/routes.h"
#include "engine/limits.h"

namespace tally::api {
namespace {

// Reads the org, or an error response (bad id, unknown org, store failure).
Result<OrgView> read_org(ApiContext& ctx, const std::string& org, ApiResponse& error) {
  Result<std::optional<OrgView>> view = ctx.views.org(OrgId::make(org).value());  // org_param checked it
  if (!view.is_ok()) {
    error = error_response(view.status());
    return view.status();
  }
  if (!view.value()) {
    error = ApiResponse::error(404, "org_not_found", "no org " + org + " in the ledger", "org");
    return Status::error(Status::Code::not_found, "no such org");
  }
  return std::move(*view.value());
}

ApiResponse list_grants(ApiContext& ctx, const ApiRequest& request) {
  Result<std::string> org = org_param(request);
  if (!org.is_ok()) return error_response(org.status());
  const std::string_view consumptions = request.query_param("consumptions").value_or("true");
  if (consumptions != "true" && consumptions != "false") {
    return error_response(Status::invalid("consumptions", "must be true or false"));
  }
  ApiResponse error;
  Result<OrgView> view = read_org(ctx, org.value(), error);
  if (!view.is_ok()) return error;
  Result<boost::json::object> out = grants_json(ctx.views, view.value(), consumptions == "true");
  if (!out.is_ok()) return error_response(out.status());
  return ApiResponse::json(200, to_json_text(out.value()));
}

// A 200 answer shows the grant as it stands after the command.
std::function<Status(boost::json::object&)> render_grant(ApiContext& ctx, const std::string& org,
                                                         const std::string& grant_id) {
  return [&ctx, org, grant_id](boost::json::object& out) {
    Result<std::optional<OrgView>> view = ctx.views.org(OrgId::make(org).value());
    if (!view.is_ok()) return view.status();
    if (!view.value()) return Status::ok();
    for (const Grant& g : view.value()->state.grants) {
      if (g.id == grant_id) out["grant"] = grant_json(g, true);
    }
    if (out.contains("grant")) return Status::ok();
    Result<std::vector<Grant>> closed = ctx.views.closed_grants(OrgId::make(org).value());
    if (!closed.is_ok()) return closed.status();
    for (const Grant& g : closed.value()) {
      if (g.id == grant_id) out["grant"] = grant_json(g, false);
    }
    return Status::ok();
  };
}

Result<fb::GrantCategory> category_member(const boost::json::object& body) {
  Result<std::string> text = member_string(body, "category", 32, std::string("promotional"));
  if (!text.is_ok()) return text.status();
  if (text.value() == "promotional") return fb::GrantCategory::promotional;
  if (text.value() == "paid") return fb::GrantCategory::paid;
  return Status::invalid("category", "must be paid or promotional");
}

ApiResponse post_grant(ApiContext& ctx, const ApiRequest& request) {
  Result<std::string> org = org_param(request);
  if (!org.is_ok()) return error_response(org.status());
  Result<boost::json::object> body = body_object(request);
  if (!body.is_ok()) return error_response(body.status());
  if (Status s = no_unknown_members(body.value(), {"credits_micros", "category", "priority", "expires_at_ms", "reason",
                                                   "operator"});
      !s.is_ok()) {
    return error_response(s);
  }
  const boost::json::object& b = body.value();
  Result<int64_t> credits = member_int64(b, "credits_micros", 1, INT64_MAX, std::nullopt);
  if (!credits.is_ok()) return error_response(credits.status());
  Result<fb::GrantCategory> category = category_member(b);
  if (!category.is_ok()) return error_response(category.status());
  Result<int64_t> priority = member_int64(b, "priority", 0, 100, 50);
  if (!priority.is_ok()) return error_response(priority.status());
  // Its relation to the event's time is the event's check (400, naming expires_at_ms).
  Result<int64_t> expires = member_int64(b, "expires_at_ms", 0, INT64_MAX, 0);
  if (!expires.is_ok()) return error_response(expires.status());
  Result<std::string> reason = member_string(b, "reason", limits::text_field_bytes_max, std::nullopt);
  if (!reason.is_ok()) return error_response(reason.status());
  Result<std::string> op = member_string(b, "operator", limits::text_field_bytes_max, std::nullopt);
  if (!op.is_ok()) return error_response(op.status());
  const GrantTermsFields terms{static_cast<int32_t>(priority.value()), expires.value(), category.value()};
  std::string grant_id;
  return run_org_command(
      ctx, request, org.value(),
      [&](const EventHeader& h) {
        grant_id = std::string(h.idempotency_key);
        return make_credit_granted(h, credits.value(), terms, reason.value(), op.value());
      },
      [&](boost::json::object& out) { return render_grant(ctx, org.value(), grant_id)(out); });
}

ApiResponse post_void(ApiContext& ctx, const ApiRequest& request) {
  Result<std::string> org = org_param(request);
  if (!org.is_ok()) return error_response(org.status());
  const std::string grant_id(request.path_param("grant_id"));
  if (grant_id.size() > limits::idempotency_key_bytes_max) {
    return error_response(Status::invalid("grant_id", "longer than 255 bytes"));
  }
  Result<boost::json::object> body = body_object(request, true);
  if (!body.is_ok()) return error_response(body.status());
  if (Status s = no_unknown_members(body.value(), {"credits_micros", "reason"}); !s.is_ok()) return error_response(s);
  Result<int64_t> credits = member_int64(body.value(), "credits_micros", 0, INT64_MAX, 0);
  if (!credits.is_ok()) return error_response(credits.status());
  Result<std::string> reason = member_string(body.value(), "reason", limits::text_field_bytes_max, std::string());
  if (!reason.is_ok()) return error_response(reason.status());
  return run_org_command(
      ctx, request, org.value(),
      [&](const EventHeader& h) { return make_grant_voided(h, grant_id, credits.value(), reason.value()); },
      render_grant(ctx, org.value(), grant_id));
}

}  // namespace

std::vector<Route> grant_routes(ApiContext& ctx) {
  return {
      // Reads the org's whole history for the consumptions: on the blocking pool.
      Route{HttpMethod::get, "/api/v1/org/{org}/credits/grants", RouteAuth::org_read(),
            [&ctx](const ApiRequest& r) { return list_grants(ctx, r); }, true, false},
      Route{HttpMethod::post, "/api/v1/org/{org}/credits/grants", RouteAuth::admin(),
            [&ctx](const ApiRequest& r) { return post_grant(ctx, r); }, true, true},
      Route{HttpMethod::post, "/api/v1/org/{org}/credits/grants/{grant_id}/void", RouteAuth::admin(),
            [&ctx](const ApiRequest& r) { return post_void(ctx, r); }, true, true},
  };
}

}  // namespace tally::api
