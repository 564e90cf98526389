// Rejects and signals, readable (SPEC §7): an org's rejected events, the records no org can claim
// (admin), an org's signals. Each answers from the views in one read transaction, on an I/O thread.
//
//   GET /api/v1/org/{org}/rejects?cursor&limit   {"org_id","rejects":[…],"next_cursor":"p:o"|null}
//       every rejected event of the org in log position order: business rejections, invalid
//       fields, those folded before the org existed ("placement":"before_org"), wrong partitions
//       (an org that has only rejects is still an org here: never 404)
//   GET /api/v1/rejects?cursor&limit             {"rejects":[…],"next_cursor"} (admin): records
//       with no readable org: undecodable bytes, damaged journal frames, a bad org id
//   GET /api/v1/org/{org}/signals?cursor&limit&kind
//       {"org_id","signals":[…],"next_cursor":"<sequence>"|null}: the org's signals in emission
//       order, as the projector wrote them to the outbox (the emitter sends the same to the
//       signals log); `kind` keeps one kind (balance_low, …). A page reads at most
//       org_signals_scan_max index entries, so with a rare kind it may be short (or empty) and
//       still have a next_cursor. 404 for an org the ledger does not have.
// limit: 1..org_rejects_page_max / org_signals_page_max (100).
#include "api/handler_util.h"
#include "api/routes.h"
#include "api/view_json.h"

namespace tally::api {
namespace {

constexpr int64_t page_default = 100;

Result<std::size_t> page_limit(const ApiRequest& request, std::size_t max) {
  Result<std::optional<int64_t>> limit = query_int64(request, "limit", 1, static_cast<int64_t>(max));
  if (!limit.is_ok()) return limit.status();
  return static_cast<std::size_t>(limit.value().value_or(page_default));
}

ApiResponse rejects_page(ApiContext& ctx, const ApiRequest& request, const std::string& org) {
  RejectQuery query;
  query.org_id = org;
  Result<std::size_t> limit = page_limit(request, org_rejects_page_max);
  if (!limit.is_ok()) return error_response(limit.status());
  query.limit = limit.value();
  if (std::optional<std::string_view> cursor = request.query_param("cursor")) {
    Result<LogPosition> from = position_from_text(*cursor, "cursor");
    if (!from.is_ok()) return error_response(from.status());
    query.from = from.value();
  }
  Result<RejectPage> page = ctx.views.org_rejects(query);
  if (!page.is_ok()) return error_response(page.status());
  boost::json::object out;
  if (!org.empty()) out["org_id"] = org;
  boost::json::array list;
  for (const OrgReject& reject : page->rejects) list.push_back(reject_json(reject, org));
  out["rejects"] = std::move(list);
  out["next_cursor"] = page->next ? boost::json::value(page->next->to_string()) : boost::json::value(nullptr);
  return ApiResponse::json(200, to_json_text(out));
}

ApiResponse get_org_rejects(ApiContext& ctx, const ApiRequest& request) {
  Result<std::string> org = org_param(request);
  if (!org.is_ok()) return error_response(org.status());
  return rejects_page(ctx, request, org.value());
}

ApiResponse get_rejects(ApiContext& ctx, const ApiRequest& request) { return rejects_page(ctx, request, {}); }

Result<std::optional<SignalKind>> kind_filter(const ApiRequest& request) {
  const std::optional<std::string_view> kind = request.query_param("kind");
  if (!kind || kind->empty()) return std::optional<SignalKind>();
  std::string known;
  for (int k = 0; k < signal_kind_count; ++k) {
    const auto candidate = static_cast<SignalKind>(k);
    if (*kind == signal_kind_name(candidate)) return std::optional<SignalKind>(candidate);
    known += std::string(known.empty() ? "" : ", ") + signal_kind_name(candidate);
  }
  return Status::invalid("kind", "unknown signal kind (one of " + known + ")");
}

ApiResponse get_org_signals(ApiContext& ctx, const ApiRequest& request) {
  Result<std::string> org = org_param(request);
  if (!org.is_ok()) return error_response(org.status());
  SignalQuery query;
  query.org_id = OrgId::make(org.value()).value();  // org_param checked it
  Result<std::size_t> limit = page_limit(request, org_signals_page_max);
  if (!limit.is_ok()) return error_response(limit.status());
  query.limit = limit.value();
  Result<std::optional<int64_t>> cursor = query_int64(request, "cursor", 0, INT64_MAX);
  if (!cursor.is_ok()) return error_response(cursor.status());
  query.after_sequence = static_cast<uint64_t>(cursor.value().value_or(0));
  Result<std::optional<SignalKind>> kind = kind_filter(request);
  if (!kind.is_ok()) return error_response(kind.status());
  query.kind = kind.value();
  Result<std::optional<OrgView>> view = ctx.views.org(query.org_id);
  if (!view.is_ok()) return error_response(view.status());
  if (!view.value()) {
    return ApiResponse::error(404, "org_not_found", "no org " + org.value() + " in the ledger", "org");
  }
  Result<SignalPage> page = ctx.views.org_signals(query);
  if (!page.is_ok()) return error_response(page.status());
  boost::json::object out;
  out["org_id"] = org.value();
  boost::json::array list;
  for (const OutboxEntry& entry : page->signals) {
    Result<boost::json::object> signal = signal_json(entry);
    if (!signal.is_ok()) return error_response(signal.status());
    list.push_back(std::move(signal.value()));
  }
  out["signals"] = std::move(list);
  out["next_cursor"] = page->next_after ? boost::json::value(std::to_string(*page->next_after)) : boost::json::value(nullptr);
  return ApiResponse::json(200, to_json_text(out));
}

Route get(std::string pattern, RouteAuth auth, ApiResponse (*handler)(ApiContext&, const ApiRequest&), ApiContext& ctx) {
  return Route{HttpMethod::get, std::move(pattern), std::move(auth),
               [handler, &ctx](const ApiRequest& request) { return handler(ctx, request); }, false, false};
}

}  // namespace

std::vector<Route> reject_routes(ApiContext& ctx) {
  return {
      get("/api/v1/org/{org}/rejects", RouteAuth::org_read(), get_org_rejects, ctx),
      get("/api/v1/rejects", RouteAuth::admin(), get_rejects, ctx),
      get("/api/v1/org/{org}/signals", RouteAuth::org_read(), get_org_signals, ctx),
  };
}

}  // namespace tally::api
