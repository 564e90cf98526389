// The ingest routes of the connectors (SPEC §7, §9), registered on the HTTP server:
//
//   POST /api/v1/internal/litellm/usage   LiteLLM's usage callback (one payload, a JSON array or
//        ndjson). `Authorization: Bearer <litellm secret>` compared in constant time; anything
//        else is 401. The body is mapped with ingest/litellm.h and appended through
//        HttpServer::submit_events (202 with positions; 200 with outcomes on ?wait=1). A retried
//        callback maps to the same idempotency keys, so the ledger counts it as a duplicate.
//        All or nothing: one unreadable payload is 400 naming it ("[2].model"), nothing appended.
//        A body whose payloads are all ignored (failed calls) is 200 {"ignored":N}.
//
//   POST /api/v1/webhooks/stripe          Stripe webhooks. `Stripe-Signature` is verified against
//        the raw body (ingest/stripe_signature.h, tolerance 300 s both ways, clock read here):
//        missing or malformed header 400, bad signature or timestamp outside tolerance 401, each
//        with a JSON error. A verified event is mapped with ingest/stripe_events.h: a purchase
//        or refund is appended (keyed by the Stripe event id, so Stripe's resends are
//        duplicates); a type Tally does not consume is 200 {"received":true,"ignored":true};
//        an event that cannot be mapped is 400 naming the field (Stripe shows it and retries).
//
// The LiteLLM route's secret is checked by the server before the body is read
// (RouteAuth::bearer); the Stripe route checks its signature over the body (RouteAuth::none()).
// A route is registered only when its secret is configured.
// Thread safety: handlers run on the server's blocking pool, several at once; they share only
// immutable options.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>

#include "api/http_server.h"
#include "engine/status.h"
#include "ingest/litellm.h"
#include "ingest/stripe_events.h"
#include "ingest/stripe_signature.h"

namespace tally::connectors {

inline constexpr std::string_view litellm_usage_route = "/api/v1/internal/litellm/usage";
inline constexpr std::string_view stripe_webhook_route = "/api/v1/webhooks/stripe";
inline constexpr std::size_t ingest_secret_bytes_min = 16;

struct LitellmIngestOptions {
  std::string secret;  // the shared bearer secret (LITELLM_CALLBACK_SECRET), >= 16 bytes
  LitellmMapping mapping;
};

struct StripeIngestOptions {
  std::string webhook_secret;  // "whsec_…"
  StripeMappingConfig mapping;
  int64_t tolerance_s = stripe_signature_tolerance_s;
};

struct IngestOptions {
  std::optional<LitellmIngestOptions> litellm;
  std::optional<StripeIngestOptions> stripe;
  // Unix seconds for the Stripe-Signature tolerance. Empty: the system clock.
  std::function<int64_t()> now_s;
};

// Checks secrets and tolerance (field named: "litellm.secret", "stripe.webhook_secret", …).
Status validate(const IngestOptions& options);

// Registers the configured routes on `server`. REQUIRES: before server.start(); `server`
// outlives the routes (they call its submit_events). Errors: validate()'s, add_route's.
Status add_ingest_routes(api::HttpServer& server, IngestOptions options);

}  // namespace tally::connectors
