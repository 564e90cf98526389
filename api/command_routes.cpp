// Command routes: each builds one event of the org and runs it through run_org_command.
#include "api/command.h"
#include "api/handler_util.h"
#include "api/routes.h"
#include "api/view_json.h"
#include "engine/limits.h"
#include "engine/validate.h"

namespace tally::api {
namespace {

// The resulting auto-refill policy, for a 200 answer.
std::function<Status(boost::json::object&)> render_auto_refill(ApiContext& ctx, const std::string& org) {
  return [&ctx, org](boost::json::object& out) {
    Result<std::optional<OrgView>> view = ctx.views.org(OrgId::make(org).value());  // org_param checked it
    if (!view.is_ok()) return view.status();
    if (view.value()) out["auto_refill"] = auto_refill_json(view.value()->state);
    return Status::ok();
  };
}

std::function<Status(boost::json::object&)> render_member(ApiContext& ctx, const std::string& org,
                                                          const std::string& member) {
  return [&ctx, org, member](boost::json::object& out) {
    Result<std::vector<MemberView>> members = ctx.views.members(OrgId::make(org).value());  // checked
    if (!members.is_ok()) return members.status();
    out["member"] = nullptr;
    for (const MemberView& m : members.value()) {
      if (m.member_id.str() == member) out["member"] = member_json(m);
    }
    return Status::ok();
  };
}

ApiResponse put_auto_refill(ApiContext& ctx, const ApiRequest& request) {
  Result<std::string> org = org_param(request);
  if (!org.is_ok()) return error_response(org.status());
  Result<boost::json::object> body = body_object(request);
  if (!body.is_ok()) return error_response(body.status());
  const boost::json::object& b = body.value();
  if (Status status = no_unknown_members(b, {"enabled", "threshold_micros", "refill_credits_micros", "max_per_day",
                                             "max_per_month", "payment_customer"});
      !status.is_ok()) {
    return error_response(status);
  }
  Result<bool> enabled = member_bool(b, "enabled", true);
  if (!enabled.is_ok()) return error_response(enabled.status());
  // Enabled needs both amounts; a disabled policy may keep them or leave them out.
  const std::optional<int64_t> amount_fallback = enabled.value() ? std::nullopt : std::optional<int64_t>(0);
  const int64_t amount_min = enabled.value() ? 1 : 0;
  Result<int64_t> threshold = member_int64(b, "threshold_micros", amount_min, INT64_MAX, amount_fallback);
  if (!threshold.is_ok()) return error_response(threshold.status());
  Result<int64_t> refill = member_int64(b, "refill_credits_micros", amount_min, INT64_MAX, amount_fallback);
  if (!refill.is_ok()) return error_response(refill.status());
  Result<int64_t> per_day = member_int64(b, "max_per_day", 0, INT32_MAX, 0);
  if (!per_day.is_ok()) return error_response(per_day.status());
  Result<int64_t> per_month = member_int64(b, "max_per_month", 0, INT32_MAX, 0);
  if (!per_month.is_ok()) return error_response(per_month.status());
  Result<std::string> customer = member_string(b, "payment_customer", limits::text_field_bytes_max, std::string());
  if (!customer.is_ok()) return error_response(customer.status());

  AutoRefillPolicy policy;
  policy.enabled = enabled.value();
  policy.threshold_micros = Micros{threshold.value()};
  policy.refill_credits_micros = Micros{refill.value()};
  policy.max_per_day = static_cast<int32_t>(per_day.value());
  policy.max_per_month = static_cast<int32_t>(per_month.value());
  policy.payment_customer = customer.value();
  return run_org_command(
      ctx, request, org.value(), [&](const EventHeader& h) { return make_auto_refill_configured(h, policy); },
      render_auto_refill(ctx, org.value()));
}

ApiResponse delete_auto_refill(ApiContext& ctx, const ApiRequest& request) {
  Result<std::string> org = org_param(request);
  if (!org.is_ok()) return error_response(org.status());
  Result<boost::json::object> body = body_object(request, true);
  if (!body.is_ok()) return error_response(body.status());
  if (Status status = no_unknown_members(body.value(), {"reason"}); !status.is_ok()) return error_response(status);
  Result<std::string> reason = member_string(body.value(), "reason", limits::text_field_bytes_max, std::string());
  if (!reason.is_ok()) return error_response(reason.status());
  return run_org_command(
      ctx, request, org.value(), [&](const EventHeader& h) { return make_auto_refill_disabled(h, reason.value()); },
      render_auto_refill(ctx, org.value()));
}

Result<std::string> user_param(const ApiRequest& request) {
  const std::string_view user = request.path_param("user_id");
  if (!is_valid_id(user)) return Status::invalid("user_id", "must be 1..128 bytes of [A-Za-z0-9._@+-]");
  return std::string(user);
}

ApiResponse put_member_limit(ApiContext& ctx, const ApiRequest& request) {
  Result<std::string> org = org_param(request);
  if (!org.is_ok()) return error_response(org.status());
  Result<std::string> user = user_param(request);
  if (!user.is_ok()) return error_response(user.status());
  Result<boost::json::object> body = body_object(request);
  if (!body.is_ok()) return error_response(body.status());
  if (Status status = no_unknown_members(body.value(), {"monthly_limit_micros"}); !status.is_ok()) {
    return error_response(status);
  }
  Result<int64_t> limit = member_int64(body.value(), "monthly_limit_micros", 1, INT64_MAX, std::nullopt);
  if (!limit.is_ok()) return error_response(limit.status());
  return run_org_command(
      ctx, request, org.value(),
      [&](const EventHeader& h) { return make_member_limit_set(h, user.value(), limit.value()); },
      render_member(ctx, org.value(), user.value()));
}

ApiResponse delete_member_limit(ApiContext& ctx, const ApiRequest& request) {
  Result<std::string> org = org_param(request);
  if (!org.is_ok()) return error_response(org.status());
  Result<std::string> user = user_param(request);
  if (!user.is_ok()) return error_response(user.status());
  return run_org_command(
      ctx, request, org.value(), [&](const EventHeader& h) { return make_member_limit_cleared(h, user.value()); },
      render_member(ctx, org.value(), user.value()));
}

Route command(HttpMethod method, std::string pattern, ApiResponse (*handler)(ApiContext&, const ApiRequest&),
              ApiContext& ctx) {
  return Route{method, std::move(pattern), RouteAuth::org_command(),
               [handler, &ctx](const ApiRequest& request) { return handler(ctx, request); }, true, true};
}

}  // namespace

std::vector<Route> command_routes(ApiContext& ctx) {
  return {
      command(HttpMethod::put, "/api/v1/org/{org}/credits/auto-refill", put_auto_refill, ctx),
      command(HttpMethod::delete_, "/api/v1/org/{org}/credits/auto-refill", delete_auto_refill, ctx),
      command(HttpMethod::put, "/api/v1/org/{org}/credits/member-limits/{user_id}", put_member_limit, ctx),
      command(HttpMethod::delete_, "/api/v1/org/{org}/credits/member-limits/{user_id}", delete_member_limit, ctx),
  };
}

}  // namespace tally::api
