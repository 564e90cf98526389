// Hold routes (SPEC §11): place, extend and release a hold, list the active ones. Every hold
// command waits for the fold: admission is the fold's answer, so the caller learns it now.
//   POST .../credits/holds               201 {hold_id, granted_micros, expires_at_ms, available_micros, position}
//                                        402 {error, reason, available_micros} (insufficient_available, member_limit)
//   POST .../credits/holds/{id}/extend   200 as above (granted = what was added); 402 likewise
//   POST .../credits/holds/{id}/release  200 {hold_id, available_micros, position}
//   GET  .../credits/holds?status=active&member_id=  the org's active holds
// A command's body is its event's canonical JSON without type, org_id and occurred_at_ms (the
// server stamps the time); the idempotency key may come from the body or an Idempotency-Key header.
#include <boost/json/array.hpp>
#include <boost/json/serialize.hpp>

#include "api/handler_util.h"
#include "api/outcome_json.h"
#include "api/routes.h"
#include "api/view_json.h"
#include "engine/event_json.h"
#include "engine/limits.h"

namespace tally::api {
namespace {

using State = OutcomeWait::State;

enum class HoldCommand { place, extend, release };

const char* type_of(HoldCommand command) {
  switch (command) {
    case HoldCommand::place: return "hold_placed";
    case HoldCommand::extend: return "hold_extended";
    case HoldCommand::release: return "hold_released";
  }
  return "";
}

// The key: the body's, else the Idempotency-Key header's, else a fresh one.
Result<std::string> hold_key(ApiContext& ctx, const ApiRequest& request, boost::json::object& body) {
  if (const auto* given = body.if_contains("idempotency_key")) {
    if (!given->is_string()) return Status::invalid("idempotency_key", "must be a string");
    return std::string(given->as_string());
  }
  if (std::optional<std::string_view> header = request.header("idempotency-key")) {
    if (header->empty() || header->size() > limits::idempotency_key_bytes_max) {
      return Status::invalid("Idempotency-Key", "must be 1..255 bytes");
    }
    return std::string(*header);
  }
  return ctx.next_idempotency_key();
}

// The event of a hold command: the body, completed by the route. Bad fields are named (400).
Result<std::string> hold_event(ApiContext& ctx, const ApiRequest& request, HoldCommand command,
                               const std::string& org, std::string& key) {
  Result<boost::json::object> parsed = body_object(request, command == HoldCommand::release);
  if (!parsed.is_ok()) return parsed.status();
  boost::json::object body = std::move(parsed.value());
  for (std::string_view set_here : {"type", "org_id", "occurred_at_ms", "hold_id"}) {
    if (body.contains(set_here)) return Status::invalid(std::string(set_here), "is set by the route, not the body");
  }
  Result<std::string> idempotency_key = hold_key(ctx, request, body);
  if (!idempotency_key.is_ok()) return idempotency_key.status();
  key = idempotency_key.value();
  if (command != HoldCommand::place) {
    const std::string_view hold_id = request.path_param("hold_id");
    body["hold_id"] = hold_id;
  }
  body["type"] = type_of(command);
  body["org_id"] = org;
  body["occurred_at_ms"] = now_unix_ms();
  body["idempotency_key"] = key;
  if (!ctx.options.event_source.empty()) body["source"] = ctx.options.event_source;
  return event_from_json(boost::json::serialize(body));
}

bool refused_for_funds(const RecordOutcome& o) {
  if (o.outcome == Outcome::rejected) {
    return o.reason == RejectReason::insufficient_available || o.reason == RejectReason::member_limit;
  }
  // A retry of a refused place is a duplicate of the rejection: the same answer.
  return o.outcome == Outcome::duplicate && (o.detail.find("(insufficient_available)") != std::string::npos ||
                                             o.detail.find("(member_limit)") != std::string::npos);
}

ApiResponse hold_answer(const submit::Submitted& submitted, const std::string& key, const std::string& hold_id,
                        HoldCommand command) {
  const submit::SubmittedEvent& event = submitted.events.at(0);
  if (event.outcomes.empty() || event.outcomes.front().state != State::ready) {
    return submission_answer(submitted, {key}, false);  // 202: not folded in time (or not known here)
  }
  const RecordOutcome& o = event.outcomes.front().outcome;
  boost::json::object out;
  out["hold_id"] = hold_id;
  out["position"] = event.positions.front().to_string();
  out["idempotency_key"] = key;
  if (refused_for_funds(o)) {
    const std::string reason = o.outcome == Outcome::rejected
                                   ? reject_reason_name(o.reason)
                                   : (o.detail.find("member_limit") != std::string::npos ? "member_limit"
                                                                                         : "insufficient_available");
    boost::json::object error;
    error["code"] = reason;
    error["message"] = reason == "member_limit" ? "the member's monthly limit does not leave that much"
                                                : "the org does not have that much available";
    out["error"] = std::move(error);
    out["reason"] = reason;
    put_money(out, "available", o.available_micros);
    return ApiResponse::json(402, to_json_text(out));
  }
  if (o.outcome != Outcome::applied && o.outcome != Outcome::duplicate) return submission_answer(submitted, {key}, false);
  out["outcome"] = outcome_name(o.outcome);
  out["applied"] = true;
  if (command != HoldCommand::release && o.outcome == Outcome::applied) {
    put_money(out, "granted", o.hold_granted_micros);
    out["expires_at_ms"] = o.hold_expires_at_ms;
  }
  put_money(out, "available", o.available_micros);
  const bool created = command == HoldCommand::place && o.outcome == Outcome::applied;
  return ApiResponse::json(created ? 201 : 200, to_json_text(out));
}

ApiResponse run_hold(ApiContext& ctx, const ApiRequest& request, HoldCommand command) {
  Result<std::string> org = org_param(request);
  if (!org.is_ok()) return error_response(org.status());
  std::string key;
  Result<std::string> bytes = hold_event(ctx, request, command, org.value(), key);
  if (!bytes.is_ok()) return error_response(bytes.status());
  Result<submit::PreparedEvents> event = submit::prepare_built({std::move(bytes.value())});
  if (!event.is_ok()) return error_response(event.status());
  Result<submit::Submitted> submitted = ctx.submitter.submit(std::move(event.value()), true);  // always waits
  if (!submitted.is_ok()) {
    ctx.http_metrics.append_failures.fetch_add(1, std::memory_order_relaxed);
    return ApiResponse::error(503, "log_unavailable", submitted.status().message());
  }
  ctx.http_metrics.events_appended.fetch_add(1, std::memory_order_relaxed);
  count_wait_timeout(ctx, submitted.value());
  const std::string hold_id = command == HoldCommand::place ? key : std::string(request.path_param("hold_id"));
  return hold_answer(submitted.value(), key, hold_id, command);
}

ApiResponse place_hold(ApiContext& ctx, const ApiRequest& request) { return run_hold(ctx, request, HoldCommand::place); }
ApiResponse extend_hold(ApiContext& ctx, const ApiRequest& request) {
  return run_hold(ctx, request, HoldCommand::extend);
}
ApiResponse release_hold(ApiContext& ctx, const ApiRequest& request) {
  return run_hold(ctx, request, HoldCommand::release);
}

ApiResponse list_holds(ApiContext& ctx, const ApiRequest& request) {
  Result<std::string> org = org_param(request);
  if (!org.is_ok()) return error_response(org.status());
  const std::string_view status = request.query_param("status").value_or("active");
  if (status != "active") return error_response(Status::invalid("status", "only active holds are kept: status=active"));
  const std::string_view member = request.query_param("member_id").value_or("");
  Result<std::optional<OrgView>> view = ctx.views.org(OrgId::make(org.value()).value());  // org_param checked it
  if (!view.is_ok()) return error_response(view.status());
  if (!view.value()) {
    return ApiResponse::error(404, "org_not_found", "no org " + org.value() + " in the ledger", "org");
  }
  const OrgState& s = view.value()->state;
  boost::json::object out;
  out["org_id"] = org.value();
  put_money(out, "balance", s.balance_micros);
  put_money(out, "held", s.held_micros);
  put_money(out, "available", available_micros(s));
  boost::json::array holds;
  for (const auto& [id, hold] : s.holds) {
    if (!member.empty() && hold.member_id != member) continue;
    holds.push_back(hold_json(id, hold));
  }
  out["holds"] = std::move(holds);
  return ApiResponse::json(200, to_json_text(out));
}

Route hold_route(HttpMethod method, std::string pattern, ApiResponse (*handler)(ApiContext&, const ApiRequest&),
                 ApiContext& ctx, bool blocking) {
  return Route{method, std::move(pattern), blocking ? RouteAuth::org_hold() : RouteAuth::org_read(),
               [handler, &ctx](const ApiRequest& request) { return handler(ctx, request); }, blocking, blocking};
}

}  // namespace

std::vector<Route> hold_routes(ApiContext& ctx) {
  return {
      hold_route(HttpMethod::post, "/api/v1/org/{org}/credits/holds", place_hold, ctx, true),
      hold_route(HttpMethod::post, "/api/v1/org/{org}/credits/holds/{hold_id}/extend", extend_hold, ctx, true),
      hold_route(HttpMethod::post, "/api/v1/org/{org}/credits/holds/{hold_id}/release", release_hold, ctx, true),
      hold_route(HttpMethod::get, "/api/v1/org/{org}/credits/holds", list_holds, ctx, false),
      runway_route(ctx),
  };
}

}  // namespace tally::api
