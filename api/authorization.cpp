#include "api/authorization.h"

#include <algorithm>
#include <array>

#include "engine/validate.h"

namespace tally::api {
namespace {

// One row per event type. A new body gets its row here in the same change that adds it to the
// schema (authorization_test fails until it has one); until then no token may append it.
constexpr std::array<EventRule, 23> rules = {{
    {"org_opened", EventClass::money},
    {"billing_mode_changed", EventClass::money},
    {"signup_allocation", EventClass::money},
    {"purchase", EventClass::money},
    {"auto_refill", EventClass::money},
    {"payment_failed", EventClass::money},
    {"refund", EventClass::money},
    {"admin_adjustment", EventClass::money},
    {"usage", EventClass::metering},
    {"rate_card_published", EventClass::global},
    {"auto_refill_configured", EventClass::owner_command},
    {"auto_refill_disabled", EventClass::owner_command},
    {"low_balance_threshold_set", EventClass::owner_command},
    {"member_limit_set", EventClass::owner_command},
    {"member_limit_cleared", EventClass::owner_command},
    {"tick", EventClass::tally_only},
    // SPEC §14. A linked customer is whose card auto-refill charges: only admin (and Tally's own
    // checkout route) may link one, or an owner could charge another org's saved card.
    {"payment_customer_linked", EventClass::money},
    {"workspace_billing_set", EventClass::owner_command},
    // SPEC §11: admission sits in the request path of every metered call.
    {"hold_placed", EventClass::hold},
    {"hold_extended", EventClass::hold},
    {"hold_released", EventClass::hold},
    // SPEC §12: credit grants and voids move money.
    {"credit_granted", EventClass::money},
    {"grant_voided", EventClass::money},
}};

bool may_append(const RoleGrant& grant, EventClass guard, std::string_view org) {
  const bool admin = grant.role == Role::admin;
  const bool ingest = grant.role == Role::ingest;
  const bool owner = grant.role == Role::org_owner && grant.org == org;
  switch (guard) {
    case EventClass::metering: return admin || ingest;
    case EventClass::hold: return admin || ingest || owner;
    case EventClass::owner_command: return admin || owner;
    case EventClass::money:
    case EventClass::global: return admin;
    case EventClass::tally_only: return false;
  }
  return false;
}

template <class Predicate>
bool any_grant(const Principal& principal, Predicate&& predicate) {
  return std::any_of(principal.scopes.begin(), principal.scopes.end(), [&](const std::string& scope) {
    const std::optional<RoleGrant> grant = role_of(scope);
    return grant.has_value() && predicate(*grant);
  });
}

Decision allow() { return Decision{true, {}, {}}; }
Decision deny(std::string reason, std::string field = {}) { return Decision{false, std::move(reason), std::move(field)}; }

std::string quoted(std::string_view text) { return "`" + std::string(text) + "`"; }

Decision decide_event(const Principal& principal, std::string_view type, std::string_view org) {
  const std::optional<EventClass> guard = event_class(type);
  if (!guard) return deny("no token may append events of type " + quoted(type), "type");
  if (any_grant(principal, [&](const RoleGrant& g) { return may_append(g, *guard, org); })) return allow();
  // An owner of another org could append this type for its own org: the org is what is wrong.
  const bool owners_may = *guard == EventClass::owner_command || *guard == EventClass::hold;
  if (owners_may && any_grant(principal, [](const RoleGrant& g) { return g.role == Role::org_owner; })) {
    return deny("this token may write events of its own org only, not of org " + std::string(org), "org_id");
  }
  const std::string what = quoted(type) + " events ";
  switch (*guard) {
    case EventClass::metering: return deny(what + "need an admin or ingest token", "type");
    case EventClass::hold: return deny(what + "need an admin, ingest or org owner token", "type");
    case EventClass::owner_command:
      return deny(what + "need an admin token or the owner token of org " + std::string(org), "type");
    case EventClass::money: return deny(what + "move money or define the org: only an admin token may append them", "type");
    case EventClass::global: return deny(what + "are global: only an admin token may append them", "type");
    case EventClass::tally_only: return deny(what + "are appended by Tally itself, never over HTTP", "type");
  }
  return deny(what + "are not allowed", "type");
}

}  // namespace

std::optional<RoleGrant> role_of(std::string_view scope) {
  if (scope == "admin") return RoleGrant{Role::admin, {}};
  if (scope == "ingest") return RoleGrant{Role::ingest, {}};
  if (!scope.starts_with("org:")) return std::nullopt;
  std::string_view org = scope.substr(4);
  Role role = Role::org_owner;
  // Org ids hold no ':', so "org:<id>:read" cannot be read as an org named "<id>:read".
  if (org.ends_with(":read")) {
    org.remove_suffix(5);
    role = Role::org_reader;
  }
  if (!is_valid_id(org)) return std::nullopt;
  return RoleGrant{role, std::string(org)};
}

std::span<const EventRule> event_rules() { return rules; }

std::optional<EventClass> event_class(std::string_view type) {
  for (const EventRule& rule : rules) {
    if (rule.type == type) return rule.guard;
  }
  return std::nullopt;
}

Decision authorize(const Principal& principal, const AccessRequest& request) {
  const RouteAuth& route = request.route;
  const std::string org(request.org);
  switch (route.kind) {
    case RouteAuth::Kind::none:
    case RouteAuth::Kind::bearer_secret: return allow();  // not the role table's: see REQUIRES
    case RouteAuth::Kind::scope:
      if (any_grant(principal, [](const RoleGrant& g) { return g.role == Role::admin; })) return allow();
      if (std::find(principal.scopes.begin(), principal.scopes.end(), route.scope) != principal.scopes.end()) return allow();
      return deny("this route needs a token with scope " + quoted(route.scope));
    case RouteAuth::Kind::org_read:
      if (any_grant(principal, [&](const RoleGrant& g) {
            return g.role == Role::admin || ((g.role == Role::org_owner || g.role == Role::org_reader) && g.org == org);
          })) {
        return allow();
      }
      return deny("this token may not read the views of org " + org);
    case RouteAuth::Kind::org_command:
      if (any_grant(principal, [&](const RoleGrant& g) {
            return g.role == Role::admin || (g.role == Role::org_owner && g.org == org);
          })) {
        return allow();
      }
      if (any_grant(principal, [&](const RoleGrant& g) { return g.role == Role::org_reader && g.org == org; })) {
        return deny("a read-only token (org:" + org + ":read) may not run commands");
      }
      return deny("this token may not run commands of org " + org);
    case RouteAuth::Kind::org_hold:
      if (any_grant(principal, [&](const RoleGrant& g) { return may_append(g, EventClass::hold, org); })) return allow();
      if (any_grant(principal, [&](const RoleGrant& g) { return g.role == Role::org_reader && g.org == org; })) {
        return deny("a read-only token (org:" + org + ":read) may not place or change holds");
      }
      return deny("holds of org " + org + " need an admin, ingest or org:" + org + " token");
    case RouteAuth::Kind::append_events:
      if (!request.event_type.empty()) return decide_event(principal, request.event_type, request.org);
      if (any_grant(principal, [](const RoleGrant& g) { return g.role != Role::org_reader; })) return allow();
      return deny("this token may not append events (read-only)");
  }
  return deny("unknown route kind");
}

EventTimeSource event_time_source(const Principal& principal) {
  const bool producer = any_grant(principal, [](const RoleGrant& g) { return g.role == Role::admin || g.role == Role::ingest; });
  return producer ? EventTimeSource::producer : EventTimeSource::server;
}

}  // namespace tally::api
