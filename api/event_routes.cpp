// POST /api/v1/events: canonical JSON events (engine/event_json.h), one object or an array,
// validated all-or-nothing, each event authorized by the role table (api/authorization.h), and
// appended in one call. An org-scoped token leaves `occurred_at_ms` out and the server stamps it;
// every event is refused if its time runs more than future_skew_max_ms ahead of the server's clock.
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include "api/authorization.h"
#include "api/command.h"
#include "api/handler_util.h"
#include "api/json_body.h"
#include "api/routes.h"
#include "engine/event_json.h"
#include "engine/validate.h"
#include "tally/events_generated.h"

namespace tally::api {
namespace {

constexpr unsigned events_json_depth_max = 32;  // a rate card nests a few levels; nothing needs more

struct DecodedEvent {
  std::string bytes;
  std::string org;  // empty: global (rate card, partition tick) -> every partition
  std::string key;
  int64_t occurred_at_ms = 0;
  std::vector<LogPosition> positions;
};

// What a caller hands to submit(): the events and, for a request with a token, who sent them.
struct Submission {
  std::vector<std::string> jsons;
  bool batch = true;
  const Principal* principal = nullptr;  // nullptr: Tally's own connector (no role check)
  std::vector<std::string> types;        // with a principal: each event's `type`
  std::vector<bool> time_given;          // with a server-stamping principal: the body set occurred_at_ms
};

std::string indexed(bool batch, std::size_t index, const std::string& field) {
  if (!batch) return field;
  return "[" + std::to_string(index) + "]" + (field.empty() ? "" : "." + field);
}

// Decodes every event or answers the first failure (400 naming its index and field).
Result<std::vector<DecodedEvent>> decode_all(const std::vector<std::string>& jsons, bool batch) {
  std::vector<DecodedEvent> out;
  out.reserve(jsons.size());
  for (std::size_t i = 0; i < jsons.size(); ++i) {
    Result<std::string> bytes = event_from_json(jsons[i]);
    if (!bytes.is_ok()) {
      return Status::invalid(indexed(batch, i, bytes.status().field()), bytes.status().message());
    }
    const fb::Envelope* envelope = nullptr;
    if (Status status = validate_event(bytes.value(), &envelope); !status.is_ok()) {
      return Status::invalid(indexed(batch, i, status.field()), status.message());
    }
    DecodedEvent event;
    event.org = envelope->org_id() ? envelope->org_id()->str() : std::string();
    event.key = envelope->idempotency_key() ? envelope->idempotency_key()->str() : std::string();
    event.occurred_at_ms = envelope->occurred_at_ms();
    event.bytes = std::move(bytes.value());
    out.push_back(std::move(event));
  }
  return out;
}

// The checks after decoding, in this order: the role table (403), a time an org-scoped token may
// not set (400), a time too far ahead of the server's clock (400 clock_skew). 0 when all pass.
ApiResponse check_events(const Submission& submission, const std::vector<DecodedEvent>& events) {
  static const RouteAuth events_route = RouteAuth::append_events();
  const bool batch = submission.batch;
  for (std::size_t i = 0; submission.principal != nullptr && i < events.size(); ++i) {
    const Decision decision =
        authorize(*submission.principal, AccessRequest{events_route, events[i].org, submission.types.at(i)});
    if (!decision.allowed) return ApiResponse::error(403, "forbidden", decision.reason, indexed(batch, i, decision.field));
  }
  for (std::size_t i = 0; i < submission.time_given.size(); ++i) {
    if (submission.time_given[i]) {
      return ApiResponse::error(400, "invalid_event",
                                "is set by the server for org-scoped tokens (org:<id>): leave it out",
                                indexed(batch, i, "occurred_at_ms"));
    }
  }
  const int64_t now_ms = now_unix_ms();
  for (std::size_t i = 0; i < events.size(); ++i) {
    if (events[i].occurred_at_ms > now_ms && events[i].occurred_at_ms - now_ms > future_skew_max_ms) {
      return ApiResponse::error(400, "clock_skew",
                                "runs " + std::to_string(events[i].occurred_at_ms - now_ms) +
                                    " ms ahead of the server's clock; at most " + std::to_string(future_skew_max_ms) +
                                    " ms are allowed",
                                indexed(batch, i, "occurred_at_ms"));
    }
  }
  return ApiResponse::json(0, {});
}

// Appends every event in one call (a global one to every partition) and gives each its positions.
// Errors: unavailable, with a message for the 503.
Result<std::vector<LogPosition>> append_all(ApiContext& ctx, std::vector<DecodedEvent>& events) {
  std::vector<AppendRequest> records;
  records.reserve(events.size());
  for (DecodedEvent& event : events) records.push_back(AppendRequest{event.org, std::move(event.bytes), event.org.empty()});
  Result<std::vector<LogPosition>> appended = ctx.log.append(records);
  const std::size_t partitions = static_cast<std::size_t>(std::max(ctx.log.partition_count(), 1));
  std::size_t expected = 0;
  for (const DecodedEvent& event : events) expected += event.org.empty() ? partitions : 1;
  if (!appended.is_ok() || appended->size() != expected) {
    ctx.http_metrics.append_failures.fetch_add(1, std::memory_order_relaxed);
    const std::string why = appended.is_ok() ? "the log returned an unexpected number of positions"
                                             : appended.status().to_string();
    return Status::error(Status::Code::unavailable, "could not append to the log: " + why);
  }
  ctx.http_metrics.events_appended.fetch_add(expected, std::memory_order_relaxed);
  std::size_t next = 0;
  for (DecodedEvent& event : events) {
    const std::size_t count = event.org.empty() ? partitions : 1;
    event.positions.assign(appended->begin() + static_cast<std::ptrdiff_t>(next),
                           appended->begin() + static_cast<std::ptrdiff_t>(next + count));
    next += count;
  }
  return appended;
}

ApiResponse submit(ApiContext& ctx, const Submission& submission, const ApiRequest& request) {
  const std::vector<std::string>& jsons = submission.jsons;
  const bool batch = submission.batch;
  Result<bool> wait = query_wait(request);
  if (!wait.is_ok()) return error_response(wait.status());
  if (jsons.empty()) return ApiResponse::error(400, "invalid_argument", "no events", "body");
  if (jsons.size() > http_events_per_request_max) {
    return ApiResponse::error(413, "too_many_events",
                              "more than " + std::to_string(http_events_per_request_max) + " events in one request",
                              "body");
  }
  Result<std::vector<DecodedEvent>> decoded = decode_all(jsons, batch);
  if (!decoded.is_ok()) {
    return ApiResponse::error(400, "invalid_event", decoded.status().message(), decoded.status().field());
  }
  std::vector<DecodedEvent>& events = decoded.value();
  if (ApiResponse refused = check_events(submission, events); refused.status != 0) return refused;

  std::map<std::string, uint64_t> history_before;  // per org, for outcomes after ?wait=1
  if (wait.value()) {
    for (const DecodedEvent& event : events) {
      if (event.org.empty() || history_before.count(event.org) != 0) continue;
      Result<uint64_t> count = history_count(ctx.views, event.org);
      if (!count.is_ok()) return error_response(count.status());
      history_before.emplace(event.org, count.value());
    }
  }

  Result<std::vector<LogPosition>> appended = append_all(ctx, events);
  if (!appended.is_ok()) return ApiResponse::error(503, "log_unavailable", appended.status().message());

  const bool applied = wait.value() && wait_all(ctx, appended.value());
  std::map<LogPosition, HistoryEntry> outcomes;
  if (applied) {
    std::map<std::string, std::set<LogPosition>> wanted;
    for (const DecodedEvent& event : events) {
      if (!event.org.empty()) wanted[event.org].insert(event.positions.front());
    }
    for (const auto& [org, positions] : wanted) {
      Result<std::map<LogPosition, HistoryEntry>> found = find_entries(ctx.views, org, history_before[org], positions);
      if (!found.is_ok()) return error_response(found.status());
      outcomes.merge(found.value());
    }
  }

  auto describe = [&](const DecodedEvent& event, std::size_t index) {
    boost::json::object item;
    if (batch) item["index"] = index;
    item["position"] = event.positions.front().to_string();
    if (event.positions.size() > 1) {
      boost::json::array all;
      for (const LogPosition& p : event.positions) all.push_back(boost::json::value(p.to_string()));
      item["positions"] = std::move(all);
    }
    item["idempotency_key"] = event.key;
    if (auto it = outcomes.find(event.positions.front()); it != outcomes.end()) put_outcome(item, it->second);
    return item;
  };
  boost::json::object out;
  if (batch) {
    boost::json::array list;
    for (std::size_t i = 0; i < events.size(); ++i) list.push_back(describe(events[i], i));
    out["events"] = std::move(list);
  } else {
    out = describe(events.front(), 0);
  }
  out["applied"] = applied;
  return ApiResponse::json(applied ? 200 : 202, to_json_text(out));
}

// The events of the body as canonical JSON texts, with their types and, for an org-scoped token,
// the server's time stamped in (or a note that the body tried to set it).
ApiResponse post_events(ApiContext& ctx, const ApiRequest& request) {
  if (std::optional<std::string> repeated = duplicate_key_path(request.body, events_json_depth_max)) {
    return ApiResponse::error(400, "invalid_event", "appears more than once", *repeated);
  }
  boost::json::parse_options options;
  options.max_depth = events_json_depth_max;
  boost::system::error_code ec;
  boost::json::value body = boost::json::parse(request.body, ec, {}, options);
  if (ec) return ApiResponse::error(400, "invalid_json", "the body is not valid JSON: " + ec.message(), "body");
  if (!body.is_object() && !body.is_array()) {
    return ApiResponse::error(400, "invalid_argument", "must be an event object or an array of them", "body");
  }
  Submission submission;
  submission.batch = body.is_array();
  submission.principal = request.principal;
  const bool server_time = request.principal != nullptr && event_time_source(*request.principal) == EventTimeSource::server;
  boost::json::array single;
  if (body.is_object()) single.push_back(std::move(body));
  boost::json::array& array = submission.batch ? body.as_array() : single;
  if (array.size() > http_events_per_request_max) {
    return ApiResponse::error(413, "too_many_events",
                              "more than " + std::to_string(http_events_per_request_max) + " events in one request",
                              "body");
  }
  const int64_t now_ms = now_unix_ms();
  for (std::size_t i = 0; i < array.size(); ++i) {
    if (!array[i].is_object()) {
      return ApiResponse::error(400, "invalid_event", "must be an event object", "[" + std::to_string(i) + "]");
    }
    boost::json::object& event = array[i].as_object();
    const boost::json::value* type = event.if_contains("type");
    submission.types.push_back(type != nullptr && type->is_string() ? std::string(type->as_string()) : std::string());
    if (server_time) {
      submission.time_given.push_back(event.contains("occurred_at_ms"));
      if (!event.contains("occurred_at_ms")) event["occurred_at_ms"] = now_ms;
    }
    // A single event the server did not touch goes on as sent, byte for byte.
    const bool as_sent = !submission.batch && !server_time;
    submission.jsons.push_back(as_sent ? request.body : boost::json::serialize(event));
  }
  return submit(ctx, submission, request);
}

}  // namespace

ApiResponse submit_events(ApiContext& ctx, const std::vector<std::string>& canonical_json, const ApiRequest& request) {
  Submission submission;
  submission.jsons = canonical_json;
  return submit(ctx, submission, request);
}

std::vector<Route> event_routes(ApiContext& ctx) {
  return {Route{HttpMethod::post, "/api/v1/events", RouteAuth::append_events(),
                [&ctx](const ApiRequest& request) { return post_events(ctx, request); }, true, true}};
}

}  // namespace tally::api
