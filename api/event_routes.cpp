// POST /api/v1/events: canonical JSON events (engine/event_json.h), one object or an array, parsed
// and validated once by the submission path (submit/events.h), each event authorized by the role
// table (api/authorization.h), appended in one call, answered as api/outcome_json.h says. An
// org-scoped token leaves `occurred_at_ms` out and the server stamps it; every event is refused if
// its time runs more than future_skew_max_ms ahead of the server's clock.
#include "api/authorization.h"
#include "api/handler_util.h"
#include "api/outcome_json.h"
#include "api/routes.h"

namespace tally::api {
namespace {

std::string indexed(bool batch, std::size_t index, const std::string& field) {
  if (!batch) return field;
  return "[" + std::to_string(index) + "]" + (field.empty() ? "" : "." + field);
}

// 400/413 for events that could not be prepared (nothing appended).
ApiResponse unprepared(const Status& status) {
  if (status.code() == Status::Code::too_large) {
    const bool count = status.message().find(" events, more than ") != std::string::npos;
    return ApiResponse::error(413, count ? "too_many_events" : "event_too_large", status.message(),
                              status.field().empty() ? "body" : status.field());
  }
  if (status.field().empty()) {
    const bool syntax = status.message().rfind("invalid JSON", 0) == 0;
    return ApiResponse::error(400, syntax ? "invalid_json" : "invalid_argument", status.message(), "body");
  }
  return ApiResponse::error(400, "invalid_event", status.message(), status.field());
}

// The checks of a caller with a token, in this order: the role table (403), a time an org-scoped
// token may not set (400). 0 when both pass.
ApiResponse check_principal(const Principal& principal, const submit::PreparedEvents& events) {
  static const RouteAuth events_route = RouteAuth::append_events();
  const bool batch = events.batch;
  for (std::size_t i = 0; i < events.events.size(); ++i) {
    const submit::PreparedEvent& event = events.events[i];
    const Decision decision = authorize(principal, AccessRequest{events_route, event.org_id, event.type});
    if (!decision.allowed) return ApiResponse::error(403, "forbidden", decision.reason, indexed(batch, i, decision.field));
  }
  if (event_time_source(principal) != EventTimeSource::server) return ApiResponse::json(0, {});
  for (std::size_t i = 0; i < events.events.size(); ++i) {
    if (events.events[i].occurred_at_given) {
      return ApiResponse::error(400, "invalid_event",
                                "is set by the server for org-scoped tokens (org:<id>): leave it out",
                                indexed(batch, i, "occurred_at_ms"));
    }
  }
  return ApiResponse::json(0, {});
}

}  // namespace

void count_wait_timeout(ApiContext& ctx, const submit::Submitted& submitted) {
  for (const submit::SubmittedEvent& event : submitted.events) {
    for (const OutcomeWait& outcome : event.outcomes) {
      if (outcome.state == OutcomeWait::State::timed_out) {
        ctx.http_metrics.wait_timeouts.fetch_add(1, std::memory_order_relaxed);
        return;
      }
    }
  }
}

namespace {

// Prepared events onto the log, answered.
ApiResponse submit_prepared(ApiContext& ctx, submit::PreparedEvents events, bool wait) {
  if (events.events.empty()) return ApiResponse::error(400, "invalid_argument", "no events", "body");
  std::vector<std::string> keys;
  keys.reserve(events.events.size());
  for (const submit::PreparedEvent& event : events.events) keys.push_back(event.idempotency_key);
  const bool batch = events.batch;
  Result<submit::Submitted> submitted = ctx.submitter.submit(std::move(events), wait);
  if (!submitted.is_ok()) {
    const Status& status = submitted.status();
    if (status.code() == Status::Code::invalid_argument) {
      return ApiResponse::error(400, "clock_skew", status.message(), status.field());
    }
    ctx.http_metrics.append_failures.fetch_add(1, std::memory_order_relaxed);
    return ApiResponse::error(503, "log_unavailable", status.message());
  }
  std::size_t records = 0;
  for (const submit::SubmittedEvent& event : submitted->events) records += event.positions.size();
  ctx.http_metrics.events_appended.fetch_add(records, std::memory_order_relaxed);
  count_wait_timeout(ctx, submitted.value());
  return submission_answer(submitted.value(), keys, batch);
}

ApiResponse post_events(ApiContext& ctx, const ApiRequest& request) {
  Result<bool> wait = query_wait(request);
  if (!wait.is_ok()) return error_response(wait.status());
  submit::JsonOptions options;
  options.events_max = http_events_per_request_max;
  // An org-scoped token's events get the server's time (and may not bring their own).
  if (request.principal != nullptr && event_time_source(*request.principal) == EventTimeSource::server) {
    options.stamp_time_ms = now_unix_ms();
  }
  Result<submit::PreparedEvents> events = submit::prepare_json(request.body, options);
  if (!events.is_ok()) return unprepared(events.status());
  if (request.principal != nullptr) {
    if (ApiResponse refused = check_principal(*request.principal, events.value()); refused.status != 0) return refused;
  }
  return submit_prepared(ctx, std::move(events.value()), wait.value());
}

}  // namespace

ApiResponse submit_events(ApiContext& ctx, const std::vector<std::string>& canonical_json, const ApiRequest& request) {
  Result<bool> wait = query_wait(request);
  if (!wait.is_ok()) return error_response(wait.status());
  if (canonical_json.size() > http_events_per_request_max) {
    return unprepared(Status::error(Status::Code::too_large, std::to_string(canonical_json.size()) +
                                                                 " events, more than " +
                                                                 std::to_string(http_events_per_request_max)));
  }
  // Each text is one event object (never an array smuggled in), parsed once; errors name "[i].field".
  submit::PreparedEvents events;
  events.batch = true;
  submit::JsonOptions options;
  options.array_allowed = false;
  for (std::size_t i = 0; i < canonical_json.size(); ++i) {
    Result<submit::PreparedEvents> one = submit::prepare_json(canonical_json[i], options);
    if (!one.is_ok()) {
      const Status& s = one.status();
      const std::string field = s.field().empty() && s.message().rfind("invalid JSON", 0) != 0 ? "" : s.field();
      return unprepared(Status::error(s.code(), indexed(true, i, field), s.message()));
    }
    events.events.push_back(std::move(one->events.front()));
  }
  return submit_prepared(ctx, std::move(events), wait.value());
}

std::vector<Route> event_routes(ApiContext& ctx) {
  return {Route{HttpMethod::post, "/api/v1/events", RouteAuth::append_events(),
                [&ctx](const ApiRequest& request) { return post_events(ctx, request); }, true, true}};
}

}  // namespace tally::api
