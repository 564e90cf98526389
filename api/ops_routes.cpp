// GET /healthz and GET /metrics (Prometheus text exposition format 0.0.4).
#include <map>

#include "api/handler_util.h"
#include "api/routes.h"

namespace tally::api {
namespace {

// 200 {"status":"ok"} or, while a role keeps failing and retrying (a full disk), 200
// {"status":"degraded","degraded":["projector: …"]}: the node still serves reads, so a load
// balancer keeps it; 503 when the views cannot be read.
ApiResponse get_healthz(ApiContext& ctx) {
  Result<std::vector<PartitionView>> partitions = ctx.views.partitions();
  if (!partitions.is_ok()) {
    return ApiResponse::error(503, "unavailable", "views unreadable: " + partitions.status().to_string());
  }
  const std::vector<std::string> degraded = ctx.metrics.degraded ? ctx.metrics.degraded() : std::vector<std::string>();
  boost::json::object out;
  out["status"] = degraded.empty() ? "ok" : "degraded";
  out["partitions"] = partitions->size();
  if (!degraded.empty()) {
    boost::json::array reasons;
    for (const std::string& reason : degraded) reasons.emplace_back(reason);
    out["degraded"] = std::move(reasons);
  }
  return ApiResponse::json(200, to_json_text(out));
}

void family(std::string& out, const char* name, const char* type, const char* help) {
  out += std::string("# HELP ") + name + " " + help + "\n# TYPE " + name + " " + type + "\n";
}

ApiResponse get_metrics(ApiContext& ctx) {
  std::string out;
  out.reserve(8192);
  Result<ProjectionStats> stats = ctx.views.stats();
  if (stats.is_ok()) {
    family(out, "tally_events_total", "counter", "Events folded by the projector, by outcome.");
    for (const char* outcome : {"applied", "duplicate", "conflict", "rejected"}) {
      auto it = stats->outcomes.find(outcome);
      const uint64_t n = it == stats->outcomes.end() ? 0 : it->second;
      out += std::string("tally_events_total{outcome=\"") + outcome + "\"} " + std::to_string(n) + "\n";
    }
    family(out, "tally_hold_late_captures_total", "counter",
           "Usage events applied as captures of a hold that had already expired, closed or been released (hold_late).");
    out += "tally_hold_late_captures_total " + std::to_string(stats->hold_late) + "\n";
    family(out, "tally_projector_batches_total", "counter", "LMDB write transactions committed by the projector.");
    out += "tally_projector_batches_total " + std::to_string(stats->batches) + "\n";
    family(out, "tally_outbox_sent_total", "counter", "Outbox signals the emitter has recorded as sent.");
    out += "tally_outbox_sent_total " + std::to_string(stats->outbox_sent) + "\n";
  }
  Result<std::vector<PartitionView>> partitions = ctx.views.partitions();
  if (partitions.is_ok()) {
    family(out, "tally_projector_next_offset", "gauge", "Next log offset the projector will fold, per partition.");
    for (const PartitionView& p : partitions.value()) {
      out += "tally_projector_next_offset{partition=\"" + std::to_string(p.partition.value) + "\"} " +
             std::to_string(p.next_offset.value) + "\n";
    }
    family(out, "tally_partition_records_total", "counter", "Records folded, per partition (any outcome).");
    for (const PartitionView& p : partitions.value()) {
      out += "tally_partition_records_total{partition=\"" + std::to_string(p.partition.value) + "\"} " +
             std::to_string(p.records) + "\n";
    }
    if (ctx.metrics.log_end_offset) {
      // Every partition of the log, also those the projector has not seen a record of yet.
      std::map<int32_t, int64_t> next;
      for (const PartitionView& p : partitions.value()) next[p.partition.value] = p.next_offset.value;
      family(out, "tally_consumer_lag", "gauge", "Records in the log not yet folded, per partition.");
      for (int32_t partition = 0; partition < ctx.log.partition_count(); ++partition) {
        Result<Offset> end = ctx.metrics.log_end_offset(PartitionId{partition});
        if (!end.is_ok()) continue;
        const int64_t lag = std::max<int64_t>(end->value - (next.count(partition) ? next[partition] : 0), 0);
        out += "tally_consumer_lag{partition=\"" + std::to_string(partition) + "\"} " + std::to_string(lag) + "\n";
      }
    }
  }
  family(out, "tally_views_readable", "gauge", "1 if the views could be read for this scrape.");
  out += std::string("tally_views_readable ") + (stats.is_ok() && partitions.is_ok() ? "1" : "0") + "\n";
  ctx.http_metrics.render(out);
  if (ctx.metrics.append_prometheus) ctx.metrics.append_prometheus(out);
  ApiResponse response = ApiResponse::json(200, std::move(out));
  response.content_type = "text/plain; version=0.0.4; charset=utf-8";
  return response;
}

}  // namespace

std::vector<Route> ops_routes(ApiContext& ctx) {
  return {
      Route{HttpMethod::get, "/healthz", RouteAuth::none(), [&ctx](const ApiRequest&) { return get_healthz(ctx); }, false, false},
      // Blocking: a Kafka log_end_offset may ask a broker.
      Route{HttpMethod::get, "/metrics", RouteAuth::none(), [&ctx](const ApiRequest&) { return get_metrics(ctx); }, true, false},
  };
}

}  // namespace tally::api
