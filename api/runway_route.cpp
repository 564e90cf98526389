// GET /api/v1/org/{org}/credits/runway (SPEC §11): what the org's available credits buy now at the
// current rate card — seconds of a sandbox class, or calls of a model at given token counts — and
// the burn of the last 24 h with the projected time of exhaustion.
//
// The burn comes from the daily usage roll-ups: today's debits plus yesterday's scaled by the part
// of yesterday inside the last 24 h (so usage is taken as even over yesterday). Exact arithmetic,
// no floating point: the counts round down, the costs up.
#include <algorithm>
#include <limits>

#include "api/handler_util.h"
#include "api/routes.h"
#include "api/view_json.h"
#include "engine/calendar.h"
#include "engine/limits.h"

namespace tally::api {
namespace {

constexpr int64_t ms_per_day = 86'400'000;
constexpr __int128 basis = 10'000;

int64_t clamp64(__int128 v) {
  return static_cast<int64_t>(std::clamp<__int128>(v, 0, std::numeric_limits<int64_t>::max()));
}

// Debits of the last 24 h from the roll-ups of yesterday and today (UTC).
Result<int64_t> burn_last_24h(ApiContext& ctx, OrgIdView org, int64_t now_ms) {
  const int64_t today = utc_day(now_ms);
  Result<std::vector<UsageRollup>> rollups = ctx.views.usage(org, (today - 1) * ms_per_day, now_ms + 1);
  if (!rollups.is_ok()) return rollups.status();
  __int128 today_micros = 0, yesterday_micros = 0;
  for (const UsageRollup& r : rollups.value()) {
    if (r.day == today) today_micros += r.debited_micros.value();
    if (r.day == today - 1) yesterday_micros += r.debited_micros.value();
  }
  const int64_t yesterday_share_ms = ms_per_day - (now_ms - today * ms_per_day);
  return clamp64(today_micros + yesterday_micros * yesterday_share_ms / ms_per_day);
}

// The unit priced: sets `out` fields; false (with `error`) for bad or unpriced input.
bool price_unit(const ApiRequest& request, const RateCard& card, int64_t available, boost::json::object& out,
                ApiResponse& error) {
  const std::string_view sandbox = request.query_param("sandbox_class").value_or("");
  const std::string_view model = request.query_param("model").value_or("");
  if (sandbox.empty() == model.empty()) {
    error = error_response(Status::invalid("sandbox_class", "give sandbox_class, or model with input_tokens and output_tokens"));
    return false;
  }
  const __int128 markup = card.markup_bp;
  if (!sandbox.empty()) {
    const auto price = card.sandbox_per_hour_micros.find(sandbox);
    if (price == card.sandbox_per_hour_micros.end()) {
      error = ApiResponse::error(422, "unpriced", "the rate card has no sandbox class " + std::string(sandbox), "sandbox_class");
      return false;
    }
    // seconds × per_hour × markup / (3600 × 10000) <= available
    const __int128 per_second_scaled = static_cast<__int128>(price->second) * markup;
    out["sandbox_class"] = sandbox;
    put_money(out, "unit_cost_per_hour", clamp64((per_second_scaled * 3600 + basis * 3600 - 1) / (basis * 3600)));
    out["seconds"] = per_second_scaled == 0 ? nullptr
                                             : boost::json::value(clamp64(available * basis * 3600 / per_second_scaled));
    return true;
  }
  const auto price = card.models.find(model);
  if (price == card.models.end()) {
    error = ApiResponse::error(422, "unpriced", "the rate card has no model " + std::string(model), "model");
    return false;
  }
  Result<std::optional<int64_t>> input = query_int64(request, "input_tokens", 0, INT64_MAX);
  if (!input.is_ok()) return (error = error_response(input.status()), false);
  Result<std::optional<int64_t>> output = query_int64(request, "output_tokens", 0, INT64_MAX);
  if (!output.is_ok()) return (error = error_response(output.status()), false);
  const __int128 provider_scaled = static_cast<__int128>(input->value_or(0)) * price->second.input_per_mtok_micros +
                                   static_cast<__int128>(output->value_or(0)) * price->second.output_per_mtok_micros;
  const __int128 denominator = basis * limits::tokens_per_price_unit;
  const int64_t call = clamp64((provider_scaled * markup + denominator - 1) / denominator);
  out["model"] = model;
  put_money(out, "unit_cost", call);
  out["calls"] = call == 0 ? nullptr : boost::json::value(available / call);
  return true;
}

ApiResponse get_runway(ApiContext& ctx, const ApiRequest& request) {
  Result<std::string> org = org_param(request);
  if (!org.is_ok()) return error_response(org.status());
  const OrgId id = OrgId::make(org.value()).value();  // org_param checked it
  Result<std::optional<OrgView>> view = ctx.views.org(id);
  if (!view.is_ok()) return error_response(view.status());
  if (!view.value()) return ApiResponse::error(404, "org_not_found", "no org " + org.value() + " in the ledger", "org");
  Result<std::vector<PartitionView>> partitions = ctx.views.partitions();
  if (!partitions.is_ok()) return error_response(partitions.status());
  const OrgState& s = view.value()->state;
  RateCard card;
  for (const PartitionView& p : partitions.value()) {
    if (p.partition == s.home_partition) card = p.rate_card;
  }
  const int64_t available = available_micros(s);
  boost::json::object out;
  out["org_id"] = org.value();
  put_money(out, "available", available);
  out["rate_card_version"] = card.version;
  ApiResponse error;
  if (!price_unit(request, card, available, out, error)) return error;
  const int64_t now_ms = now_unix_ms();
  Result<int64_t> burn = burn_last_24h(ctx, id, now_ms);
  if (!burn.is_ok()) return error_response(burn.status());
  put_money(out, "burn_24h", burn.value());
  out["exhausted_at_ms"] = burn.value() == 0 ? nullptr
                                             : boost::json::value(clamp64(now_ms + static_cast<__int128>(available) *
                                                                                       ms_per_day / burn.value()));
  return ApiResponse::json(200, to_json_text(out));
}

}  // namespace

Route runway_route(ApiContext& ctx) {
  return Route{HttpMethod::get, "/api/v1/org/{org}/credits/runway", RouteAuth::org_read(),
               [&ctx](const ApiRequest& request) { return get_runway(ctx, request); }, false, false};
}

}  // namespace tally::api
