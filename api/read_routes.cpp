// Read routes: each answers from the views in one or two read transactions, on an I/O thread.
#include <array>
#include <map>

#include "api/commerce_shared.h"
#include "api/handler_util.h"
#include "api/routes.h"
#include "api/view_json.h"
#include "engine/catalogue.h"
#include "projections/usage_groups.h"

namespace tally::api {
namespace {

ApiResponse org_not_found(std::string_view org) {
  return ApiResponse::error(404, "org_not_found", "no org " + std::string(org) + " in the ledger", "org");
}

// Reads the org, or an error response (bad id, unknown org, store failure).
Result<OrgView> find_org(ApiContext& ctx, const ApiRequest& request, ApiResponse& error) {
  Result<std::string> org = org_param(request);
  if (!org.is_ok()) {
    error = error_response(org.status());
    return org.status();
  }
  Result<std::optional<OrgView>> view = ctx.views.org(OrgId::make(org.value()).value());  // org_param checked it
  if (!view.is_ok()) {
    error = error_response(view.status());
    return view.status();
  }
  if (!view.value()) {
    error = org_not_found(org.value());
    return Status::error(Status::Code::not_found, "no such org");
  }
  return std::move(*view.value());
}

ApiResponse get_credits(ApiContext& ctx, const ApiRequest& request) {
  // Partitions first, the org second: the org state then includes at least everything before
  // `as_of`, so a client holding a position p knows its write is visible once as_of > p.
  Result<std::vector<PartitionView>> partitions = ctx.views.partitions();
  if (!partitions.is_ok()) return error_response(partitions.status());
  ApiResponse error;
  Result<OrgView> org = find_org(ctx, request, error);
  if (!org.is_ok()) return error;
  std::optional<LogPosition> as_of;
  for (const PartitionView& p : partitions.value()) {
    if (p.partition == org->state.home_partition) as_of = LogPosition{p.partition, p.next_offset};
  }
  return ApiResponse::json(200, to_json_text(credits_json(org.value(), as_of)));
}

Result<std::string> type_filter(const ApiRequest& request) {
  const std::optional<std::string_view> type = request.query_param("type");
  if (!type || type->empty()) return std::string();
  if (!is_event_type(*type)) return Status::invalid("type", "unknown event type (want e.g. usage, purchase, refund)");
  return std::string(*type);
}

ApiResponse get_transactions(ApiContext& ctx, const ApiRequest& request) {
  HistoryQuery query;
  Result<std::optional<int64_t>> limit = query_int64(request, "limit", 1, static_cast<int64_t>(http_transactions_page_max));
  if (!limit.is_ok()) return error_response(limit.status());
  query.limit = static_cast<std::size_t>(limit.value().value_or(static_cast<int64_t>(http_transactions_page_default)));
  if (Status s = apply_transactions_cursor(request.query_param("cursor"), query); !s.is_ok()) return error_response(s);
  Result<std::optional<int64_t>> from = query_int64(request, "from", 0, INT64_MAX);
  if (!from.is_ok()) return error_response(from.status());
  Result<std::optional<int64_t>> to = query_int64(request, "to", 0, INT64_MAX);
  if (!to.is_ok()) return error_response(to.status());
  query.from_ms = from.value().value_or(INT64_MIN);
  query.to_ms = to.value().value_or(INT64_MAX);
  if (query.from_ms > query.to_ms) return ApiResponse::error(400, "invalid_argument", "from is after to", "from");
  Result<std::string> type = type_filter(request);
  if (!type.is_ok()) return error_response(type.status());
  query.type = type.value();

  Result<std::string> org = org_param(request);
  if (!org.is_ok()) return error_response(org.status());
  query.org_id = OrgId::make(org.value()).value();  // org_param checked it
  Result<HistoryPage> page = ctx.views.history(query);
  if (!page.is_ok()) return error_response(page.status());
  // An org the ledger never created has no transactions, unless its first events were rejected
  // (early rejects): those are its transactions.
  if (page->entries.empty() && !request.query_param("cursor")) {
    Result<std::optional<OrgView>> view = ctx.views.org(query.org_id);
    if (!view.is_ok()) return error_response(view.status());
    Result<RejectPage> rejects = ctx.views.org_rejects(RejectQuery{org.value(), LogPosition{}, 1});
    if (!rejects.is_ok()) return error_response(rejects.status());
    if (!view.value() && rejects->rejects.empty()) return org_not_found(org.value());
  }
  boost::json::object out;
  out["org_id"] = query.org_id.str();
  boost::json::array entries;
  entries.reserve(page->entries.size());
  for (const HistoryEntry& entry : page->entries) entries.push_back(history_json(entry));
  out["transactions"] = std::move(entries);
  if (std::optional<std::string> next = next_transactions_cursor(page.value())) {
    out["next_cursor"] = *next;
  } else {
    out["next_cursor"] = nullptr;
  }
  return ApiResponse::json(200, to_json_text(out));
}

ApiResponse get_auto_refill(ApiContext& ctx, const ApiRequest& request) {
  ApiResponse error;
  Result<OrgView> org = find_org(ctx, request, error);
  if (!org.is_ok()) return error;
  if (is_unlimited(org.value())) return credits_unavailable(org->org_id.str());
  boost::json::object out = auto_refill_json(org->state, now_unix_ms());
  out["org_id"] = org->org_id.str();
  return ApiResponse::json(200, to_json_text(out));
}

ApiResponse get_member_limits(ApiContext& ctx, const ApiRequest& request) {
  ApiResponse error;
  Result<OrgView> org = find_org(ctx, request, error);
  if (!org.is_ok()) return error;
  Result<std::vector<MemberView>> members = ctx.views.members(org->org_id);
  if (!members.is_ok()) return error_response(members.status());
  boost::json::object out;
  out["org_id"] = org->org_id.str();
  boost::json::array list;
  for (const MemberView& member : members.value()) list.push_back(member_json(member));
  out["members"] = std::move(list);
  return ApiResponse::json(200, to_json_text(out));
}

struct UsageTotals {
  int64_t events = 0, debited = 0, tracked = 0, input = 0, output = 0, cache_read = 0, cache_write = 0, seconds = 0;
  bool overflow = false;
  void add(const UsageRollup& r) {
    auto sum = [this](int64_t& into, int64_t value) { overflow = __builtin_add_overflow(into, value, &into) || overflow; };
    sum(events, r.events);
    sum(debited, r.debited_micros.value());
    sum(tracked, r.tracked_cost_micros.value());
    sum(input, r.input_tokens);
    sum(output, r.output_tokens);
    sum(cache_read, r.cache_read_tokens);
    sum(cache_write, r.cache_write_tokens);
    sum(seconds, r.seconds);
  }
  boost::json::object json() const {
    boost::json::object out;
    out["events"] = events;
    put_money(out, "debited", debited);
    put_money(out, "tracked_cost", tracked);
    out["input_tokens"] = input;
    out["output_tokens"] = output;
    out["cache_read_tokens"] = cache_read;
    out["cache_write_tokens"] = cache_write;
    out["seconds"] = seconds;
    return out;
  }
};

ApiResponse get_usage(ApiContext& ctx, const ApiRequest& request) {
  const std::string_view group_by = request.query_param("group_by").value_or("model");
  if (!is_usage_dimension(group_by)) {
    return ApiResponse::error(400, "invalid_argument", "must be " + usage_dimension_choices(), "group_by");
  }
  Result<std::optional<int64_t>> from = query_int64(request, "from", 0, INT64_MAX);
  if (!from.is_ok()) return error_response(from.status());
  Result<std::optional<int64_t>> to = query_int64(request, "to", 0, INT64_MAX);
  if (!to.is_ok()) return error_response(to.status());
  const int64_t from_ms = from.value().value_or(0);
  const int64_t to_ms = to.value().value_or(INT64_MAX);
  if (from_ms > to_ms) return ApiResponse::error(400, "invalid_argument", "from is after to", "from");

  ApiResponse error;
  Result<OrgView> org = find_org(ctx, request, error);
  if (!org.is_ok()) return error;
  Result<std::vector<UsageRollup>> rollups = ctx.views.usage(org->org_id, from_ms, to_ms);
  if (!rollups.is_ok()) return error_response(rollups.status());
  std::map<std::string, UsageTotals> groups;
  UsageTotals total;
  for (const UsageRollup& r : rollups.value()) {
    groups[usage_group_key(r, group_by)].add(r);
    total.add(r);
  }
  if (total.overflow) return ApiResponse::error(500, "overflow", "usage totals overflow 64 bits; narrow from/to");
  boost::json::object out;
  out["org_id"] = org->org_id.str();
  out["group_by"] = group_by;
  out["from"] = from_ms;
  out["to"] = to_ms;
  out["granularity"] = "utc_day";  // roll-ups are per UTC day: from/to select whole days
  boost::json::array list;
  for (const auto& [key, totals] : groups) {
    boost::json::object item = totals.json();
    item["key"] = key;
    list.push_back(std::move(item));
  }
  out["groups"] = std::move(list);
  out["total"] = total.json();
  return ApiResponse::json(200, to_json_text(out));
}

Route read(std::string pattern, ApiResponse (*handler)(ApiContext&, const ApiRequest&), ApiContext& ctx) {
  return Route{HttpMethod::get, std::move(pattern), RouteAuth::org_read(),
               [handler, &ctx](const ApiRequest& request) { return handler(ctx, request); }, false, false};
}

}  // namespace

bool is_event_type(std::string_view type) {
  return catalogue::find_body(type) != nullptr;
}

std::vector<Route> read_routes(ApiContext& ctx) {
  return {
      read("/api/v1/org/{org}/credits", get_credits, ctx),
      read("/api/v1/org/{org}/credits/transactions", get_transactions, ctx),
      read("/api/v1/org/{org}/credits/auto-refill", get_auto_refill, ctx),
      read("/api/v1/org/{org}/credits/member-limits", get_member_limits, ctx),
      read("/api/v1/org/{org}/usage", get_usage, ctx),
  };
}

}  // namespace tally::api
