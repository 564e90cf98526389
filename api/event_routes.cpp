// POST /api/v1/events: canonical JSON events (engine/event_json.h), one object or an array,
// validated all-or-nothing and appended in one call.
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include "api/command.h"
#include "api/handler_util.h"
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
  std::vector<LogPosition> positions;
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
    event.bytes = std::move(bytes.value());
    out.push_back(std::move(event));
  }
  return out;
}

ApiResponse submit(ApiContext& ctx, const std::vector<std::string>& jsons, const ApiRequest& request, bool batch,
                   const Principal* restrict_to) {
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
  if (restrict_to != nullptr) {
    for (std::size_t i = 0; i < events.size(); ++i) {
      const bool allowed = events[i].org.empty() ? restrict_to->has_scope("ingest") : restrict_to->allows_org(events[i].org);
      if (!allowed) {
        return ApiResponse::error(403, "forbidden",
                                  events[i].org.empty() ? "global events need an admin or ingest token"
                                                        : "this token may not write events of org " + events[i].org,
                                  indexed(batch, i, "org_id"));
      }
    }
  }

  std::map<std::string, uint64_t> history_before;  // per org, for outcomes after ?wait=1
  if (wait.value()) {
    for (const DecodedEvent& event : events) {
      if (event.org.empty() || history_before.count(event.org) != 0) continue;
      Result<uint64_t> count = history_count(ctx.views, event.org);
      if (!count.is_ok()) return error_response(count.status());
      history_before.emplace(event.org, count.value());
    }
  }

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
    return ApiResponse::error(503, "log_unavailable", "could not append to the log: " + why);
  }
  ctx.http_metrics.events_appended.fetch_add(expected, std::memory_order_relaxed);
  std::size_t next = 0;
  for (DecodedEvent& event : events) {
    const std::size_t count = event.org.empty() ? partitions : 1;
    event.positions.assign(appended->begin() + static_cast<std::ptrdiff_t>(next),
                           appended->begin() + static_cast<std::ptrdiff_t>(next + count));
    next += count;
  }

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

ApiResponse post_events(ApiContext& ctx, const ApiRequest& request) {
  boost::json::parse_options options;
  options.max_depth = events_json_depth_max;
  boost::system::error_code ec;
  boost::json::value body = boost::json::parse(request.body, ec, {}, options);
  if (ec) return ApiResponse::error(400, "invalid_json", "the body is not valid JSON: " + ec.message(), "body");
  // An org token writes its own org's events only; admin and ingest tokens write any.
  const Principal* restrict_to =
      request.principal != nullptr && !request.principal->has_scope("ingest") ? request.principal : nullptr;
  if (body.is_object()) return submit(ctx, {request.body}, request, false, restrict_to);
  if (!body.is_array()) return ApiResponse::error(400, "invalid_argument", "must be an event object or an array of them", "body");
  const boost::json::array& array = body.as_array();
  if (array.size() > http_events_per_request_max) {
    return ApiResponse::error(413, "too_many_events",
                              "more than " + std::to_string(http_events_per_request_max) + " events in one request",
                              "body");
  }
  std::vector<std::string> jsons;
  jsons.reserve(array.size());
  for (std::size_t i = 0; i < array.size(); ++i) {
    if (!array[i].is_object()) {
      return ApiResponse::error(400, "invalid_event", "must be an event object", "[" + std::to_string(i) + "]");
    }
    jsons.push_back(boost::json::serialize(array[i]));
  }
  return submit(ctx, jsons, request, true, restrict_to);
}

}  // namespace

ApiResponse submit_events(ApiContext& ctx, const std::vector<std::string>& canonical_json, const ApiRequest& request) {
  return submit(ctx, canonical_json, request, true, nullptr);
}

std::vector<Route> event_routes(ApiContext& ctx) {
  return {Route{HttpMethod::post, "/api/v1/events", RouteAuth::authenticated(),
                [&ctx](const ApiRequest& request) { return post_events(ctx, request); }, true}};
}

}  // namespace tally::api
