#include "api/command.h"

#include <chrono>

#include "api/handler_util.h"
#include "engine/limits.h"
#include "engine/validate.h"

namespace tally::api {

Result<uint64_t> history_count(ViewReader& views, const std::string& org) {
  Result<std::optional<OrgView>> view = views.org(OrgId::make(org).value());  // org_param checked it
  if (!view.is_ok()) return view.status();
  return view.value() ? view.value()->state.history_entries : uint64_t{0};
}

Result<std::map<LogPosition, HistoryEntry>> find_entries(ViewReader& views, const std::string& org,
                                                         uint64_t from_sequence, const std::set<LogPosition>& positions) {
  std::map<LogPosition, HistoryEntry> found;
  HistoryQuery query;
  query.org_id = OrgId::make(org).value();
  query.after_sequence = from_sequence;
  query.limit = http_transactions_page_max;
  std::size_t scanned = 0;
  while (found.size() < positions.size() && scanned < command_history_scan_max) {
    Result<HistoryPage> page = views.history(query);
    if (!page.is_ok()) return page.status();
    for (HistoryEntry& entry : page->entries) {
      if (positions.count(entry.position) != 0) found.emplace(entry.position, std::move(entry));
    }
    scanned += page->entries.size();
    if (!page->next_sequence || page->entries.empty()) break;
    query.after_sequence = *page->next_sequence;
  }
  return found;
}

bool wait_all(ApiContext& ctx, const std::vector<LogPosition>& positions) {
  if (!ctx.wait_applied) return false;
  // Only the last position of each partition matters: the projector applies a partition in order.
  std::map<int32_t, LogPosition> last;
  for (const LogPosition& p : positions) {
    auto [it, inserted] = last.emplace(p.partition.value, p);
    if (!inserted && it->second < p) it->second = p;
  }
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(ctx.options.wait_timeout_ms);
  for (const auto& [partition, position] : last) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    const int left_ms = static_cast<int>(std::max<int64_t>(left.count(), 0));
    if (!ctx.wait_applied(position, left_ms)) {
      ctx.http_metrics.wait_timeouts.fetch_add(1, std::memory_order_relaxed);
      return false;
    }
  }
  return true;
}

void put_outcome(boost::json::object& out, const HistoryEntry& entry) {
  out["outcome"] = outcome_name(entry.outcome);
  if (entry.reason != RejectReason::none) out["reason"] = reject_reason_name(entry.reason);
  if (!entry.detail.empty()) out["detail"] = entry.detail;
}

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
  std::string bytes = build(header);
  // The fold would reject a bad field too, but the caller deserves a 400 now, not a reject later.
  if (Status status = validate_event(bytes); !status.is_ok()) return error_response(status);

  uint64_t history_before = 0;
  if (wait.value()) {
    Result<uint64_t> count = history_count(ctx.views, org);
    if (!count.is_ok()) return error_response(count.status());
    history_before = count.value();
  }
  const AppendRequest record{org, std::move(bytes), false};
  Result<std::vector<LogPosition>> appended = ctx.log.append(std::span<const AppendRequest>(&record, 1));
  if (!appended.is_ok() || appended->size() != 1) {
    ctx.http_metrics.append_failures.fetch_add(1, std::memory_order_relaxed);
    const std::string why = appended.is_ok() ? "the log returned no position" : appended.status().to_string();
    return ApiResponse::error(503, "log_unavailable", "could not append to the log: " + why);
  }
  ctx.http_metrics.events_appended.fetch_add(1, std::memory_order_relaxed);
  const LogPosition position = appended->front();

  boost::json::object out;
  out["position"] = position.to_string();
  out["idempotency_key"] = key;
  if (!wait.value() || !wait_all(ctx, {position})) {
    out["applied"] = false;
    return ApiResponse::json(202, to_json_text(out));
  }
  out["applied"] = true;
  Result<std::map<LogPosition, HistoryEntry>> entries = find_entries(ctx.views, org, history_before, {position});
  if (!entries.is_ok()) return error_response(entries.status());
  auto entry = entries->find(position);
  if (entry != entries->end()) {
    put_outcome(out, entry->second);
    if (entry->second.outcome == Outcome::conflict || entry->second.outcome == Outcome::rejected) {
      const bool conflict = entry->second.outcome == Outcome::conflict;
      boost::json::object error;
      error["code"] = conflict ? "idempotency_conflict" : "rejected";
      error["message"] = conflict ? "this Idempotency-Key was used before with a different request"
                                  : std::string("the ledger rejected the event: ") + reject_reason_name(entry->second.reason) +
                                        (entry->second.detail.empty() ? "" : " (" + entry->second.detail + ")");
      out["error"] = std::move(error);
      return ApiResponse::json(409, to_json_text(out));
    }
  }
  if (Status status = render(out); !status.is_ok()) return error_response(status);
  return ApiResponse::json(200, to_json_text(out));
}

}  // namespace tally::api
