#include "api/command.h"

#include "api/handler_util.h"
#include "api/outcome_json.h"
#include "api/routes.h"
#include "engine/limits.h"

namespace tally::api {

ApiResponse run_org_command(ApiContext& ctx, const ApiRequest& request, const std::string& org,
                            const std::function<std::string(const EventHeader&)>& build,
                            const std::function<Status(boost::json::object&)>& render) {
  Result<bool> wait = query_wait(request);
  if (!wait.is_ok()) return error_response(wait.status());
  std::string key;
  if (std::optional<std::string_view> header = request.header("idempotency-key")) {
    if (header->empty() || header->size() > limits::idempotency_key_bytes_max) {
      return ApiResponse::error(400, "invalid_argument", "must be 1..255 bytes", "Idempotency-Key");
    }
    key = std::string(*header);
  } else {
    key = ctx.next_idempotency_key();
  }
  EventHeader header;
  header.idempotency_key = key;
  header.org_id = org;
  header.occurred_at_ms = now_unix_ms();
  header.source = ctx.options.event_source;
  // The fold would reject a bad field too, but the caller deserves a 400 now, not a reject later.
  Result<submit::PreparedEvents> event = submit::prepare_built({build(header)});
  if (!event.is_ok()) return error_response(event.status());
  Result<submit::Submitted> submitted = ctx.submitter.submit(std::move(event.value()), wait.value());
  if (!submitted.is_ok()) {
    ctx.http_metrics.append_failures.fetch_add(1, std::memory_order_relaxed);
    return ApiResponse::error(503, "log_unavailable", submitted.status().message());
  }
  ctx.http_metrics.events_appended.fetch_add(1, std::memory_order_relaxed);
  count_wait_timeout(ctx, submitted.value());
  return submission_answer(submitted.value(), {key}, false, render);
}

}  // namespace tally::api
