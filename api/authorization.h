// Who may do what over HTTP (SPEC §7): the role table, as one pure function.
//
// Caveats first:
//  - Only requests that come through HTTP auth are judged here. Tally's own producers (the Stripe
//    webhook and recharge connectors, the ticker, the CLI) append without a token: they are Tally.
//  - The decision covers permission only. Whether an event is well formed is validation's (400),
//    and is checked before permission for events, as the body must be read to know its type.
//  - Unknown event types are refused: a type gets a row below before any token may append it.
//
// Roles, from a token's scopes (a token with several scopes may do what any of them allows):
//
//   role            | reads                          | may append
//   ----------------|--------------------------------|--------------------------------------------
//   admin           | everything                     | every event type but tick, global events too
//   ingest          | outcomes of its own appends    | usage, hold place/extend/release; any org
//   org:<id>        | that org's views               | owner commands of that org: auto-refill
//                   |                                | configure/disable, low-balance threshold,
//                   |                                | member limits, workspace billing, holds,
//                   |                                | checkout
//   org:<id>:read   | that org's views               | nothing
//
// The billing page (api/billing_links.h) takes no bearer token: a signed link acts as org:<id>
// (an owner link, minted by admin or the org's owner) or org:<id>:read (a read-only link), and
// its form posts pass this table as that principal, exactly as the API routes they stand for.
//
// Money-moving and org-defining events (purchase, auto_refill, payment_failed, signup_allocation,
// refund, admin_adjustment, credit grants and voids, org_opened, billing_mode_changed,
// payment_customer_linked) only admin;
// `tick` nobody (Tally appends its own). An org-scoped token never sets `occurred_at_ms`: the server
// stamps it (event_time_source). Any other scope ([a-z0-9_-]{1,64}) is custom: a registered route
// may ask for it (RouteAuth::scoped) and admin passes too.
//
// Thread safety: pure functions over values.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "api/http_types.h"

namespace tally::api {

enum class Role : uint8_t { admin, ingest, org_owner, org_reader };

struct RoleGrant {
  Role role = Role::admin;
  std::string org;  // org_owner and org_reader: the org; empty otherwise
};

// The role a scope names: "admin", "ingest", "org:<id>", "org:<id>:read" (id: 1..128 bytes of
// [A-Za-z0-9._@+-]). nullopt for anything else (a custom scope, or a malformed org scope).
std::optional<RoleGrant> role_of(std::string_view scope);

// How an event type is guarded. Each class names who may append events of it.
enum class EventClass : uint8_t {
  metering,       // admin; ingest for any org
  hold,           // admin; ingest for any org; the org's owner
  owner_command,  // admin; the org's owner
  money,          // admin only: moves money or defines the org
  global,         // admin only: no org, written to every partition (rate cards)
  tally_only,     // nobody over HTTP: Tally appends these itself (ticks)
};

struct EventRule {
  std::string_view type;  // the canonical JSON type ("usage")
  EventClass guard;
};

// The table, one row per canonical event type (SPEC §3, §11, §12, §14).
std::span<const EventRule> event_rules();
// The row of `type`; nullopt for a type with no row.
std::optional<EventClass> event_class(std::string_view type);

// What the caller asks to do. For RouteAuth::Kind::append_events, an empty `event_type` asks at
// the route, before the body is read: may this token append any event at all?
struct AccessRequest {
  const RouteAuth& route;
  std::string_view org;         // org_read, org_command: the org of the path; events: the event's org
  std::string_view event_type;  // append_events: the canonical JSON type, or empty (see above)
};

struct Decision {
  bool allowed = false;
  std::string reason;  // denied: why, for the 403 body (names the token's role, never its secret)
  std::string field;   // denied events: "type" (the role may not append it) or "org_id" (not that org)
};

// The role table. REQUIRES: route.kind is neither none nor bearer_secret (the server checks those
// itself, without a principal).
Decision authorize(const Principal& principal, const AccessRequest& request);

// Who sets `occurred_at_ms` of the events a principal appends: the producer (admin, ingest: they
// report when metered work happened) or the server (org-scoped tokens: a tenant must not move the
// partition clock, SPEC §2).
enum class EventTimeSource : uint8_t { producer, server };
EventTimeSource event_time_source(const Principal& principal);

}  // namespace tally::api
