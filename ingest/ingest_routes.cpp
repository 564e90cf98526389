#include "ingest/ingest_routes.h"

#include <chrono>
#include <memory>
#include <vector>

#include <boost/json/serialize.hpp>

#include "api/auth.h"
#include "crypto/hmac.h"

namespace tally::connectors {
namespace {

int64_t system_now_s() {
  return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}

// "Bearer <token>" (scheme in any case) -> token; empty when the header is absent or another scheme.
std::string_view bearer_token(const api::ApiRequest& request) {
  const auto header = request.header("authorization");
  return header.has_value() ? api::bearer_secret(*header) : std::string_view{};
}

api::ApiResponse handle_litellm(api::HttpServer& server, const LitellmIngestOptions& options,
                                const api::ApiRequest& request) {
  const std::string_view token = bearer_token(request);
  // Compared as digests so neither the contents nor the length of the secret leak through timing.
  if (token.empty() || !constant_time_equals(hmac_sha256_hex(options.secret, token),
                                             hmac_sha256_hex(options.secret, options.secret))) {
    api::ApiResponse denied = api::ApiResponse::error(401, "unauthorized", "a valid LiteLLM callback bearer token is required",
                                                      "Authorization");
    denied.headers.emplace_back("WWW-Authenticate", "Bearer");
    return denied;
  }
  auto mapped = map_litellm_body(request.body, options.mapping);
  if (!mapped.is_ok()) {
    return api::ApiResponse::error(400, "invalid_payload", mapped.status().message(), mapped.status().field());
  }
  std::vector<std::string> events;
  std::size_t ignored = 0;
  std::size_t invalid = 0;
  const Status* first_invalid = nullptr;
  for (const Result<MappedEvent>& payload : mapped.value()) {
    if (!payload.is_ok()) {
      if (first_invalid == nullptr) first_invalid = &payload.status();
      ++invalid;
    } else if (payload->ignored) {
      ++ignored;
    } else {
      events.push_back(boost::json::serialize(payload->event));
    }
  }
  if (first_invalid != nullptr) {
    return api::ApiResponse::error(400, "invalid_payload",
                                   first_invalid->message() + " (" + std::to_string(invalid) +
                                       " invalid payload(s); nothing was recorded)",
                                   first_invalid->field());
  }
  if (events.empty()) return api::ApiResponse::json(200, "{\"ignored\":" + std::to_string(ignored) + "}");
  return server.submit_events(events, request);
}

api::ApiResponse handle_stripe(api::HttpServer& server, const StripeIngestOptions& options,
                               const std::function<int64_t()>& now_s, const api::ApiRequest& request) {
  const auto header = request.header("stripe-signature");
  if (!header.has_value() || header->empty()) {
    return api::ApiResponse::error(400, "missing_signature", "the Stripe-Signature header is required",
                                   "Stripe-Signature");
  }
  const Status verified =
      verify_stripe_signature(request.body, *header, options.webhook_secret, now_s(), options.tolerance_s);
  if (!verified.is_ok()) {
    const bool malformed = verified.message() == "malformed header";
    return api::ApiResponse::error(malformed ? 400 : 401, malformed ? "malformed_signature" : "invalid_signature",
                                   verified.message(), "Stripe-Signature");
  }
  auto mapped = map_stripe_event(request.body, options.mapping);
  if (!mapped.is_ok()) {
    return api::ApiResponse::error(400, "invalid_event", mapped.status().message(), mapped.status().field());
  }
  if (mapped->ignored) {
    boost::json::object body;
    body["received"] = true;
    body["ignored"] = true;
    body["reason"] = mapped->reason;
    return api::ApiResponse::json(200, boost::json::serialize(body));
  }
  return server.submit_events({boost::json::serialize(mapped->event)}, request);
}

}  // namespace

Status validate(const IngestOptions& options) {
  if (options.litellm.has_value() && options.litellm->secret.size() < ingest_secret_bytes_min) {
    return Status::invalid("litellm.secret", "must be at least " + std::to_string(ingest_secret_bytes_min) + " bytes");
  }
  if (options.stripe.has_value()) {
    if (options.stripe->webhook_secret.empty()) return Status::invalid("stripe.webhook_secret", "is required");
    if (options.stripe->tolerance_s < 0) return Status::invalid("stripe.tolerance_s", "must be >= 0");
  }
  return Status::ok();
}

Status add_ingest_routes(api::HttpServer& server, IngestOptions options) {
  if (Status s = validate(options); !s.is_ok()) return s;
  std::function<int64_t()> now_s = options.now_s ? options.now_s : std::function<int64_t()>(system_now_s);
  if (options.litellm.has_value()) {
    auto litellm = std::make_shared<const LitellmIngestOptions>(std::move(*options.litellm));
    api::Route route;
    route.method = api::HttpMethod::post;
    route.pattern = std::string(litellm_usage_route);
    route.auth = api::RouteAuth::bearer(litellm->secret);  // 401 before the body is read
    route.blocking = true;
    route.handler = [&server, litellm](const api::ApiRequest& request) { return handle_litellm(server, *litellm, request); };
    if (Status s = server.add_route(std::move(route)); !s.is_ok()) return s;
  }
  if (options.stripe.has_value()) {
    auto stripe = std::make_shared<const StripeIngestOptions>(std::move(*options.stripe));
    api::Route route;
    route.method = api::HttpMethod::post;
    route.pattern = std::string(stripe_webhook_route);
    route.auth = api::RouteAuth::none();
    route.blocking = true;
    route.handler = [&server, stripe, now_s](const api::ApiRequest& request) {
      return handle_stripe(server, *stripe, now_s, request);
    };
    if (Status s = server.add_route(std::move(route)); !s.is_ok()) return s;
  }
  return Status::ok();
}

}  // namespace tally::connectors
