// Command routes: each builds one event of the org and runs it through run_org_command.
#include "api/command.h"
#include "api/commerce_shared.h"
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
    if (view.value()) out["auto_refill"] = auto_refill_json(view.value()->state, now_unix_ms());
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

// The refill amount: refill_credits_micros, or refill_bundles (1..10) of the configured bundle.
Status read_refill_amount(ApiContext& ctx, const boost::json::object& b, bool enabled, AutoRefillPolicy& policy) {
  if (b.contains("refill_bundles")) {
    if (b.contains("refill_credits_micros")) {
      return Status::invalid("refill_bundles", "give refill_bundles or refill_credits_micros, not both");
    }
    if (!ctx.options.commerce) return Status::invalid("refill_bundles", "this server has no bundle configured");
    Result<int64_t> bundles = member_int64(b, "refill_bundles", 1, limits::bundles_max, std::nullopt);
    if (!bundles.is_ok()) return bundles.status();
    Result<BundleQuote> q = quote(ctx.options.commerce->offer, bundles.value());
    if (!q.is_ok()) return q.status();
    policy.refill_bundles = q->bundles;
    policy.refill_credits_micros = q->credits;
    return Status::ok();
  }
  // Enabled needs an amount; a disabled policy may keep it or leave it out.
  Result<int64_t> refill = member_int64(b, "refill_credits_micros", enabled ? 1 : 0, INT64_MAX,
                                        enabled ? std::nullopt : std::optional<int64_t>(0));
  if (!refill.is_ok()) return refill.status();
  policy.refill_credits_micros = Micros{refill.value()};
  return Status::ok();
}

Result<AutoRefillPolicy> read_policy(ApiContext& ctx, const boost::json::object& b) {
  if (Status status = no_unknown_members(b, {"enabled", "threshold_micros", "refill_credits_micros", "refill_bundles",
                                             "max_per_day", "max_per_month", "payment_customer"});
      !status.is_ok()) {
    return status;
  }
  Result<bool> enabled = member_bool(b, "enabled", true);
  if (!enabled.is_ok()) return enabled.status();
  // Enabled needs a threshold; a disabled policy may keep it or leave it out.
  const std::optional<int64_t> amount_fallback = enabled.value() ? std::nullopt : std::optional<int64_t>(0);
  Result<int64_t> threshold = member_int64(b, "threshold_micros", enabled.value() ? 1 : 0, INT64_MAX, amount_fallback);
  if (!threshold.is_ok()) return threshold.status();
  AutoRefillPolicy policy;
  if (Status s = read_refill_amount(ctx, b, enabled.value(), policy); !s.is_ok()) return s;
  Result<int64_t> per_day = member_int64(b, "max_per_day", 0, INT32_MAX, 0);
  if (!per_day.is_ok()) return per_day.status();
  Result<int64_t> per_month = member_int64(b, "max_per_month", 0, INT32_MAX, 0);
  if (!per_month.is_ok()) return per_month.status();
  // Empty: the org's linked customer, whose card was saved at checkout (SPEC §14).
  Result<std::string> customer = member_string(b, "payment_customer", limits::text_field_bytes_max, std::string());
  if (!customer.is_ok()) return customer.status();
  policy.enabled = enabled.value();
  policy.threshold_micros = Micros{threshold.value()};
  policy.max_per_day = static_cast<int32_t>(per_day.value());
  policy.max_per_month = static_cast<int32_t>(per_month.value());
  policy.payment_customer = customer.value();
  return policy;
}

// Enterprise orgs are not limited by credits: no auto-refill (SPEC §14). `error` is the answer.
bool refills_unavailable(ApiContext& ctx, const std::string& org, ApiResponse& error) {
  Result<std::optional<OrgView>> view = read_org(ctx, org);
  if (!view.is_ok()) {
    error = error_response(view.status());
    return true;
  }
  if (!is_unlimited(view.value())) return false;
  error = credits_unavailable(org);
  return true;
}

ApiResponse put_auto_refill(ApiContext& ctx, const ApiRequest& request) {
  Result<std::string> org = org_param(request);
  if (!org.is_ok()) return error_response(org.status());
  Result<boost::json::object> body = body_object(request);
  if (!body.is_ok()) return error_response(body.status());
  Result<AutoRefillPolicy> policy = read_policy(ctx, body.value());
  if (!policy.is_ok()) return error_response(policy.status());
  if (ApiResponse error; refills_unavailable(ctx, org.value(), error)) return error;
  return run_org_command(
      ctx, request, org.value(), [&](const EventHeader& h) { return make_auto_refill_configured(h, policy.value()); },
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
  if (ApiResponse error; refills_unavailable(ctx, org.value(), error)) return error;
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
