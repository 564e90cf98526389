// The billing page's routes: POST …/billing-links (mint a link), GET /billing/{org} (the page),
// GET /billing/{org}/transactions.csv, and the page's form posts. A form post is turned into the
// API request it stands for and run by that API route's own handler, after the same role check
// the server makes (api/authorization.h) for the link's principal: one path for every change.
#include <memory>
#include <sstream>

#include "api/billing_links.h"
#include "api/billing_page.h"
#include "api/handler_util.h"
#include "api/html_util.h"
#include "api/routes.h"
#include "api/authorization.h"
#include "audit/statement_export.h"
#include "engine/limits.h"

#include <boost/json/parse.hpp>

namespace tally::api {
namespace {

// Only the page's own resources: inline style, no script, no request to any host (SPEC: the page
// loads with the network off). Forms post to the page's routes; checkout then redirects off-site.
constexpr std::string_view page_csp =
    "default-src 'none'; style-src 'unsafe-inline'; img-src data:; base-uri 'none'; frame-ancestors *";

using ApiRoutes = std::shared_ptr<const std::vector<Route>>;

struct PageAccess {
  BillingLink link;
  std::string token;
  Principal principal;
};

// The link of ?link=, checked for the org of the path. `error` is the 401 (or 400) to answer.
Result<PageAccess> page_access(ApiContext& ctx, const ApiRequest& request, ApiResponse& error) {
  Result<std::string> org = org_param(request);
  if (!org.is_ok()) {
    error = error_response(org.status());
    return org.status();
  }
  const std::string token(request.query_param("link").value_or(""));
  Result<BillingLink> link = verify_billing_link(ctx.options.billing_link_secret, org.value(), token, now_unix_ms());
  if (!link.is_ok()) {
    const bool expired = link.status().message().starts_with("expired");
    error = ApiResponse::error(401, expired ? "link_expired" : "invalid_link",
                               token.empty() ? "this page needs ?link=<token> from POST /api/v1/org/{org}/billing-links"
                                             : link.status().message(),
                               "link");
    return link.status();
  }
  return PageAccess{link.value(), token, link_principal(link.value())};
}

ApiResponse html_answer(int status, std::string body) {
  ApiResponse out{status, std::move(body), "text/html; charset=utf-8", {}};
  out.headers = {{"Content-Security-Policy", std::string(page_csp)},
                 {"Referrer-Policy", "no-referrer"},
                 {"Cache-Control", "no-store"},
                 {"X-Content-Type-Options", "nosniff"}};
  return out;
}

ApiResponse redirect(std::string location) {
  ApiResponse out{303, "", "text/plain; charset=utf-8", {}};
  out.headers = {{"Location", std::move(location)}, {"Cache-Control", "no-store"}, {"Referrer-Policy", "no-referrer"}};
  return out;
}

ApiResponse get_page(ApiContext& ctx, const ApiRequest& request) {
  ApiResponse error;
  Result<PageAccess> access = page_access(ctx, request, error);
  if (!access.is_ok()) return error;
  Result<BillingPageData> data =
      read_billing_page(ctx, access->link, access->token, request.query_param("cursor").value_or(""));
  if (!data.is_ok()) {
    if (data.status().code() == Status::Code::not_found) {
      return ApiResponse::error(404, "org_not_found", data.status().message(), "org");
    }
    return error_response(data.status());
  }
  return html_answer(200, render_billing_page(data.value()));
}

ApiResponse get_csv(ApiContext& ctx, const ApiRequest& request) {
  ApiResponse error;
  Result<PageAccess> access = page_access(ctx, request, error);
  if (!access.is_ok()) return error;
  audit::StatementOptions options;
  options.org_id = access->link.org;
  options.format = audit::StatementFormat::csv;
  std::ostringstream out;
  Result<audit::StatementSummary> summary = audit::write_statement(ctx.views, options, out);
  if (!summary.is_ok()) return error_response(summary.status());
  ApiResponse answer{200, std::move(out).str(), "text/csv; charset=utf-8", {}};
  answer.headers = {{"Content-Disposition", "attachment; filename=\"" + access->link.org + "-transactions.csv\""},
                    {"Cache-Control", "no-store"}};
  return answer;
}

// Runs the API route `method pattern` for the link's principal, as the server would: the role
// table first (a read-only link is refused here with the API's 403), then the route's handler,
// waiting for the outcome so the page shows the change when the browser comes back.
ApiResponse call_api(const ApiRoutes& api, HttpMethod method, std::string_view pattern, const PageAccess& access,
                     const std::map<std::string, std::string, std::less<>>& params, std::string body) {
  const Route* route = nullptr;
  for (const Route& candidate : *api) {
    if (candidate.method == method && candidate.pattern == pattern) route = &candidate;
  }
  if (route == nullptr) return ApiResponse::error(500, "internal", "no API route " + std::string(pattern));
  ApiRequest inner;
  inner.method = method;
  inner.route = route->pattern;
  inner.path = route->pattern;
  for (const auto& [name, value] : params) {
    inner.path.replace(inner.path.find("{" + name + "}"), name.size() + 2, value);
  }
  inner.path_params = params;
  inner.query = {{"wait", "1"}};
  inner.headers = {{"content-type", "application/json"}};
  inner.body = std::move(body);
  inner.principal = &access.principal;
  const Decision decision = authorize(access.principal, AccessRequest{route->auth, access.link.org, {}});
  if (!decision.allowed) return ApiResponse::error(403, "forbidden", decision.reason, decision.field);
  return route->handler(inner);
}

// After a change: back to the page (POST-redirect-GET), or the API's error as it is.
ApiResponse back_to_page(const ApiResponse& answer, const PageAccess& access) {
  if (answer.status != 200 && answer.status != 202) return answer;
  return redirect(billing_page_path(access.link.org, access.token));
}

using Form = std::vector<std::pair<std::string, std::string>>;

// Reads the link and the form; `error` is the answer when either is bad.
Result<Form> read_form(ApiContext& ctx, const ApiRequest& request, PageAccess& access, ApiResponse& error) {
  Result<PageAccess> checked = page_access(ctx, request, error);
  if (!checked.is_ok()) return checked.status();
  access = std::move(checked.value());
  Result<Form> form = parse_form(request.body);
  if (!form.is_ok()) error = error_response(form.status());
  return form;
}

// A whole-number form field in [min, max]; absent or empty: `fallback`.
Result<int64_t> form_count(const Form& form, std::string_view name, int64_t min, int64_t max, int64_t fallback) {
  const std::optional<std::string> text = form_value(form, name);
  if (!text || text->empty()) return fallback;
  return parse_int64(*text, name, min, max);
}

// The auto-recharge form as the body of PUT …/credits/auto-refill.
Result<boost::json::object> auto_refill_body(const Form& form) {
  boost::json::object body;
  const bool enabled = form_value(form, "enabled").has_value();  // an unchecked box is not sent
  body["enabled"] = enabled;
  const std::string threshold = form_value(form, "threshold").value_or("");
  Result<int64_t> threshold_micros = threshold.empty() && !enabled ? Result<int64_t>(0)
                                                                   : parse_form_credits(threshold, "threshold", 0, INT64_MAX / 2);
  if (!threshold_micros.is_ok()) return threshold_micros.status();
  body["threshold_micros"] = threshold_micros.value();
  if (form_value(form, "refill_bundles")) {
    Result<int64_t> bundles = form_count(form, "refill_bundles", 1, limits::bundles_max, 1);
    if (!bundles.is_ok()) return bundles.status();
    body["refill_bundles"] = bundles.value();
  } else {
    const std::string refill = form_value(form, "refill_credits").value_or("");
    Result<int64_t> refill_micros = refill.empty() && !enabled ? Result<int64_t>(0)
                                                               : parse_form_credits(refill, "refill_credits", 0, INT64_MAX / 2);
    if (!refill_micros.is_ok()) return refill_micros.status();
    body["refill_credits_micros"] = refill_micros.value();
  }
  for (const std::string_view cap : {"max_per_day", "max_per_month"}) {
    Result<int64_t> value = form_count(form, cap, 0, INT32_MAX, 0);
    if (!value.is_ok()) return value.status();
    body[cap] = value.value();
  }
  return body;
}

ApiResponse post_auto_refill(ApiContext& ctx, const ApiRoutes& api, const ApiRequest& request) {
  PageAccess access;
  ApiResponse error;
  Result<Form> form = read_form(ctx, request, access, error);
  if (!form.is_ok()) return error;
  Result<boost::json::object> body = auto_refill_body(form.value());
  if (!body.is_ok()) return error_response(body.status());
  return back_to_page(call_api(api, HttpMethod::put, "/api/v1/org/{org}/credits/auto-refill", access,
                               {{"org", access.link.org}}, to_json_text(body.value())),
                      access);
}

ApiResponse post_member_limit(ApiContext& ctx, const ApiRoutes& api, const ApiRequest& request) {
  PageAccess access;
  ApiResponse error;
  Result<Form> form = read_form(ctx, request, access, error);
  if (!form.is_ok()) return error;
  const std::string member = form_value(form.value(), "member_id").value_or("");
  const std::string action = form_value(form.value(), "action").value_or("set");
  const std::map<std::string, std::string, std::less<>> params = {{"org", access.link.org}, {"user_id", member}};
  constexpr std::string_view pattern = "/api/v1/org/{org}/credits/member-limits/{user_id}";
  if (action == "clear") return back_to_page(call_api(api, HttpMethod::delete_, pattern, access, params, ""), access);
  if (action != "set") return ApiResponse::error(400, "invalid_argument", "must be set or clear", "action");
  Result<int64_t> limit =
      parse_form_credits(form_value(form.value(), "monthly_limit").value_or(""), "monthly_limit", 1, INT64_MAX / 2);
  if (!limit.is_ok()) return error_response(limit.status());
  boost::json::object body{{"monthly_limit_micros", limit.value()}};
  return back_to_page(call_api(api, HttpMethod::put, pattern, access, params, to_json_text(body)), access);
}

// "http://<Host>" of the request: where the provider sends the buyer back.
std::string request_origin(const ApiRequest& request) {
  const std::string host(request.header("host").value_or("127.0.0.1"));
  const bool https = request.header("x-forwarded-proto").value_or("") == "https";
  return (https ? "https://" : "http://") + host;
}

ApiResponse post_checkout(ApiContext& ctx, const ApiRoutes& api, const ApiRequest& request) {
  PageAccess access;
  ApiResponse error;
  Result<Form> form = read_form(ctx, request, access, error);
  if (!form.is_ok()) return error;
  Result<int64_t> quantity = form_count(form.value(), "quantity", 1, limits::bundles_max, 1);
  if (!quantity.is_ok()) return error_response(quantity.status());
  const std::string back = request_origin(request) + billing_page_path(access.link.org, access.token);
  boost::json::object body{{"quantity", quantity.value()}, {"success_url", back + "&checkout=done"},
                           {"cancel_url", back + "&checkout=cancelled"}};
  ApiResponse answer = call_api(api, HttpMethod::post, "/api/v1/org/{org}/credits/checkout", access,
                                {{"org", access.link.org}}, to_json_text(body));
  if (answer.status != 200) return answer;
  boost::system::error_code ec;
  const boost::json::value parsed = boost::json::parse(answer.body, ec);
  const boost::json::value* url = ec || !parsed.is_object() ? nullptr : parsed.as_object().if_contains("checkout_url");
  if (url == nullptr || !url->is_string()) return ApiResponse::error(502, "payment_provider_error", "no checkout_url");
  return redirect(std::string(url->as_string()));
}

ApiResponse post_billing_link(ApiContext& ctx, const ApiRequest& request) {
  Result<std::string> org = org_param(request);
  if (!org.is_ok()) return error_response(org.status());
  if (ctx.options.billing_link_secret.size() < billing_link_secret_bytes_min) {
    return ApiResponse::error(503, "billing_links_not_configured",
                              "this server has no billing link secret (billing_link_secret, 16 bytes or more)");
  }
  Result<boost::json::object> body = body_object(request, true);
  if (!body.is_ok()) return error_response(body.status());
  if (Status s = no_unknown_members(body.value(), {"minutes", "read_only"}); !s.is_ok()) return error_response(s);
  Result<int64_t> minutes = member_int64(body.value(), "minutes", 1, billing_link_minutes_max, billing_link_minutes_default);
  if (!minutes.is_ok()) return error_response(minutes.status());
  Result<bool> read_only = member_bool(body.value(), "read_only", false);
  if (!read_only.is_ok()) return error_response(read_only.status());
  const BillingLink link{org.value(), read_only.value() ? LinkScope::read : LinkScope::owner,
                         now_unix_ms() + minutes.value() * 60'000};
  const std::string token = mint_billing_link(ctx.options.billing_link_secret, link);
  const std::string path = billing_page_path(link.org, token);
  boost::json::object out{{"org_id", link.org},   {"url", request_origin(request) + path}, {"path", path},
                          {"link", token},        {"expires_at_ms", link.expires_at_ms},
                          {"read_only", read_only.value()}};
  return ApiResponse::json(200, to_json_text(out));
}

}  // namespace

std::vector<Route> billing_routes(ApiContext& ctx) {
  std::vector<Route> inner = command_routes(ctx);
  for (Route& route : commerce_routes(ctx)) inner.push_back(std::move(route));
  const ApiRoutes api = std::make_shared<const std::vector<Route>>(std::move(inner));
  using FormHandler = ApiResponse (*)(ApiContext&, const ApiRoutes&, const ApiRequest&);
  const auto form_route = [&](std::string pattern, FormHandler handler) {
    return Route{HttpMethod::post, std::move(pattern), RouteAuth::none(),
                 [&ctx, api, handler](const ApiRequest& request) { return handler(ctx, api, request); }, true, false};
  };
  const auto page_route = [&](std::string pattern, ApiResponse (*handler)(ApiContext&, const ApiRequest&)) {
    return Route{HttpMethod::get, std::move(pattern), RouteAuth::none(),
                 [&ctx, handler](const ApiRequest& request) { return handler(ctx, request); }, true, false};
  };
  return {
      Route{HttpMethod::post, "/api/v1/org/{org}/billing-links", RouteAuth::org_command(),
            [&ctx](const ApiRequest& request) { return post_billing_link(ctx, request); }, false, true},
      page_route("/billing/{org}", get_page),
      page_route("/billing/{org}/transactions.csv", get_csv),
      form_route("/billing/{org}/auto-refill", post_auto_refill),
      form_route("/billing/{org}/member-limits", post_member_limit),
      form_route("/billing/{org}/checkout", post_checkout),
  };
}

}  // namespace tally::api
