// Buying credits (SPEC §14): GET credits/price, POST credits/checkout, GET credits/payment-method.
// The provider (Stripe) is api/commerce.h's PaymentProvider; the Purchase itself arrives with the
// provider's completion webhook (ingest/), not from here.
#include "api/command.h"
#include "api/commerce_shared.h"
#include "api/handler_util.h"
#include "api/routes.h"
#include "engine/digest.h"
#include "engine/event_factory.h"
#include "engine/limits.h"

namespace tally::api {
namespace {

constexpr std::size_t redirect_url_bytes_max = 2048;

Status check_redirect_url(const std::string& url, std::string_view field) {
  if (url.size() > redirect_url_bytes_max) return Status::invalid(std::string(field), "longer than 2048 bytes");
  if (!url.starts_with("https://") && !url.starts_with("http://")) {
    return Status::invalid(std::string(field), "must be an http:// or https:// URL");
  }
  if (url.find_first_of(" \t\r\n") != std::string::npos) return Status::invalid(std::string(field), "must not hold spaces");
  return Status::ok();
}

boost::json::object quote_json(const BundleQuote& q, const std::string& currency) {
  boost::json::object out;
  out["quantity"] = q.bundles;
  put_money(out, "credits", q.credits);
  out["paid_minor"] = q.paid_minor;
  out["fee_minor"] = q.fee_minor;
  out["total_minor"] = q.total_minor;
  out["currency"] = currency;
  return out;
}

ApiResponse get_price(ApiContext& ctx, const ApiRequest& request) {
  Result<std::string> org = org_param(request);
  if (!org.is_ok()) return error_response(org.status());
  Result<std::optional<int64_t>> quantity = query_int64(request, "quantity", 1, limits::bundles_max);
  if (!quantity.is_ok()) return error_response(quantity.status());
  Result<std::optional<OrgView>> view = read_org(ctx, org.value());
  if (!view.is_ok()) return error_response(view.status());
  if (is_unlimited(view.value())) return credits_unavailable(org.value());
  if (!ctx.options.commerce) return payments_not_configured();
  const CommerceOptions& commerce = *ctx.options.commerce;
  Result<BundleQuote> q = quote(commerce.offer, quantity.value().value_or(1));
  if (!q.is_ok()) return error_response(q.status());
  boost::json::object out;
  out["org_id"] = org.value();
  out["price_id"] = commerce.price_id;
  out["currency"] = commerce.offer.currency;
  boost::json::object bundle;
  put_money(bundle, "credits", commerce.offer.credits_per_bundle);
  bundle["unit_amount_minor"] = commerce.offer.unit_amount_minor;
  out["bundle"] = std::move(bundle);
  out["quantity"] = boost::json::object{{"min", 1}, {"max", limits::bundles_max}};
  out["platform_fee"] = boost::json::object{{"percent_bp", commerce.offer.fee_bp}, {"fixed_minor", commerce.offer.fee_fixed_minor}};
  out["quote"] = quote_json(q.value(), commerce.offer.currency);
  return ApiResponse::json(200, to_json_text(out));
}

// The org's customer at the provider: the remembered one, else a new one, remembered by a
// PaymentCustomerLinked appended through the command path (so it replays). `error` is the answer
// when it fails.
Result<std::string> org_customer(ApiContext& ctx, const ApiRequest& request, const std::string& org,
                                 const std::optional<OrgView>& view, ApiResponse& error) {
  if (view && !view->state.payment_customer.empty()) return view->state.payment_customer;
  const CommerceOptions& commerce = *ctx.options.commerce;
  Result<std::string> customer = commerce.provider->create_customer(org, "tally-customer:" + commerce.key_scope + ":" + org);
  if (!customer.is_ok()) {
    error = provider_error(customer.status());
    return customer.status();
  }
  ApiRequest link = request;
  link.query = {{"wait", "1"}};
  std::erase_if(link.headers, [](const auto& header) { return header.first == "idempotency-key"; });
  link.headers.emplace_back("idempotency-key", "payment-customer:" + customer.value());
  ApiResponse linked = run_org_command(
      ctx, link, org, [&](const EventHeader& h) { return make_payment_customer_linked(h, customer.value()); },
      [](boost::json::object&) { return Status::ok(); });
  // 202: appended but not applied within the wait; the next checkout links it again (a duplicate).
  if (linked.status != 200 && linked.status != 202) {
    error = linked;
    return Status::error(Status::Code::unavailable, "the customer could not be remembered");
  }
  return customer;
}

Result<CheckoutOrder> checkout_order(ApiContext& ctx, const ApiRequest& request, const std::string& org) {
  Result<boost::json::object> body = body_object(request);
  if (!body.is_ok()) return body.status();
  const boost::json::object& b = body.value();
  if (Status s = no_unknown_members(b, {"quantity", "success_url", "cancel_url"}); !s.is_ok()) return s;
  Result<int64_t> quantity = member_int64(b, "quantity", 1, limits::bundles_max, 1);
  if (!quantity.is_ok()) return quantity.status();
  CheckoutOrder order;
  for (auto [key, into] : {std::pair<std::string_view, std::string*>{"success_url", &order.success_url},
                           std::pair<std::string_view, std::string*>{"cancel_url", &order.cancel_url}}) {
    Result<std::string> url = member_string(b, key, redirect_url_bytes_max, std::nullopt);
    if (!url.is_ok()) return url.status();
    if (Status s = check_redirect_url(url.value(), key); !s.is_ok()) return s;
    *into = url.value();
  }
  const CommerceOptions& commerce = *ctx.options.commerce;
  Result<BundleQuote> q = quote(commerce.offer, quantity.value());
  if (!q.is_ok()) return q.status();
  order.org_id = org;
  order.price_id = commerce.price_id;
  order.quote = q.value();
  order.currency = commerce.offer.currency;
  order.metadata = {{"org_id", org},
                    {"bundles", std::to_string(order.quote.bundles)},
                    {"credits_micros", std::to_string(order.quote.credits.value())},
                    {"paid_minor", std::to_string(order.quote.paid_minor)},
                    {"fee_minor", std::to_string(order.quote.fee_minor)}};
  // A client's Idempotency-Key makes its retries one session; without one, every call is new.
  // Stripe's keys are at most 255 bytes: the client's key goes in as a digest.
  const std::optional<std::string_view> key = request.header("idempotency-key");
  if (key && (key->empty() || key->size() > limits::idempotency_key_bytes_max)) {
    return Status::invalid("Idempotency-Key", "must be 1..255 bytes");
  }
  const std::string client_key = key ? std::string(*key) : ctx.next_idempotency_key();
  order.idempotency_key = "tally-checkout:" + commerce.key_scope + ":" + org + ":" +
                          murmur3_128(client_key.data(), client_key.size()).to_hex();
  return order;
}

ApiResponse post_checkout(ApiContext& ctx, const ApiRequest& request) {
  Result<std::string> org = org_param(request);
  if (!org.is_ok()) return error_response(org.status());
  Result<std::optional<OrgView>> view = read_org(ctx, org.value());
  if (!view.is_ok()) return error_response(view.status());
  if (is_unlimited(view.value())) return credits_unavailable(org.value());
  if (!ctx.options.commerce) return payments_not_configured();
  Result<CheckoutOrder> order = checkout_order(ctx, request, org.value());
  if (!order.is_ok()) return error_response(order.status());
  ApiResponse error;
  Result<std::string> customer = org_customer(ctx, request, org.value(), view.value(), error);
  if (!customer.is_ok()) return error;
  order->customer = customer.value();
  Result<CheckoutLink> link = ctx.options.commerce->provider->create_checkout(order.value());
  if (!link.is_ok()) return provider_error(link.status());
  boost::json::object out = quote_json(order->quote, order->currency);
  out["org_id"] = org.value();
  out["checkout_url"] = link->url;
  out["session_id"] = link->session_id;
  out["payment_customer"] = customer.value();
  return ApiResponse::json(200, to_json_text(out));
}

ApiResponse get_payment_method(ApiContext& ctx, const ApiRequest& request) {
  Result<std::string> org = org_param(request);
  if (!org.is_ok()) return error_response(org.status());
  Result<std::optional<OrgView>> view = read_org(ctx, org.value());
  if (!view.is_ok()) return error_response(view.status());
  if (!ctx.options.commerce) return payments_not_configured();
  const std::string customer = view.value() ? charged_customer(view.value()->state) : std::string();
  const auto none = [&] {
    return ApiResponse::error(404, "no_payment_method",
                              "org " + org.value() + " has no saved payment method: buy credits once through checkout");
  };
  if (customer.empty()) return none();
  Result<std::optional<PaymentCard>> card = ctx.options.commerce->provider->saved_card(customer);
  if (!card.is_ok()) return provider_error(card.status());
  if (!card->has_value()) return none();
  const PaymentCard& c = card->value();
  boost::json::object out{{"org_id", org.value()},  {"payment_customer", customer}, {"payment_method", c.payment_method},
                          {"brand", c.brand},         {"last4", c.last4},            {"exp_month", c.exp_month},
                          {"exp_year", c.exp_year}};
  return ApiResponse::json(200, to_json_text(out));
}

// `blocking`: the handler calls the provider or appends (the blocking pool), or only reads views.
Route route(HttpMethod method, std::string pattern, RouteAuth auth, ApiResponse (*handler)(ApiContext&, const ApiRequest&),
            bool blocking, ApiContext& ctx) {
  return Route{method, std::move(pattern), std::move(auth),
               [handler, &ctx](const ApiRequest& request) { return handler(ctx, request); }, blocking,
               method != HttpMethod::get};
}

}  // namespace

std::vector<Route> commerce_routes(ApiContext& ctx) {
  return {
      route(HttpMethod::get, "/api/v1/org/{org}/credits/price", RouteAuth::org_read(), get_price, false, ctx),
      route(HttpMethod::post, "/api/v1/org/{org}/credits/checkout", RouteAuth::org_command(), post_checkout, true, ctx),
      route(HttpMethod::get, "/api/v1/org/{org}/credits/payment-method", RouteAuth::org_read(), get_payment_method, true,
            ctx),
  };
}

}  // namespace tally::api
