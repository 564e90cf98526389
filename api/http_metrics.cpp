#include "api/http_metrics.h"

#include <cassert>
#include <cstdio>

namespace tally::api {
namespace {

std::string label_escape(const std::string& text) {
  std::string out;
  for (char c : text) {
    if (c == '\\' || c == '"') out.push_back('\\');
    if (c == '\n') {
      out += "\\n";
      continue;
    }
    out.push_back(c);
  }
  return out;
}

std::string seconds_text(int64_t micros) {
  char buffer[32];
  std::snprintf(buffer, sizeof buffer, "%lld.%06lld", static_cast<long long>(micros / 1'000'000),
                static_cast<long long>(micros % 1'000'000));
  return buffer;
}

}  // namespace

void HttpMetrics::set_routes(std::vector<std::string> names) {
  assert(!slots_ && "set_routes() is called once");
  names_ = std::move(names);
  names_.emplace_back("unmatched");
  slots_ = std::make_unique<Slot[]>(names_.size());
}

void HttpMetrics::count(std::size_t slot, int status, int64_t duration_us) {
  assert(slots_ && slot < names_.size());
  Slot& s = slots_[slot];
  std::size_t status_index = http_counted_statuses.size();
  for (std::size_t i = 0; i < http_counted_statuses.size(); ++i) {
    if (http_counted_statuses[i] == status) status_index = i;
  }
  s.by_status[status_index].fetch_add(1, std::memory_order_relaxed);
  std::size_t bucket = http_latency_buckets_us.size();
  for (std::size_t i = 0; i < http_latency_buckets_us.size(); ++i) {
    if (duration_us <= http_latency_buckets_us[i]) {
      bucket = i;
      break;
    }
  }
  s.buckets[bucket].fetch_add(1, std::memory_order_relaxed);
  s.duration_us_sum.fetch_add(static_cast<uint64_t>(duration_us < 0 ? 0 : duration_us), std::memory_order_relaxed);
}

void HttpMetrics::render(std::string& out) const {
  out += "# HELP tally_http_requests_total HTTP requests answered, by route and status.\n";
  out += "# TYPE tally_http_requests_total counter\n";
  for (std::size_t r = 0; r < names_.size(); ++r) {
    const std::string route = label_escape(names_[r]);
    for (std::size_t i = 0; i < status_slots; ++i) {
      const uint64_t n = slots_[r].by_status[i].load(std::memory_order_relaxed);
      if (n == 0) continue;
      const std::string status = i < http_counted_statuses.size() ? std::to_string(http_counted_statuses[i]) : "other";
      out += "tally_http_requests_total{route=\"" + route + "\",status=\"" + status + "\"} " + std::to_string(n) + "\n";
    }
  }
  out += "# HELP tally_http_request_duration_seconds Time from a complete request to its response.\n";
  out += "# TYPE tally_http_request_duration_seconds histogram\n";
  for (std::size_t r = 0; r < names_.size(); ++r) {
    const Slot& s = slots_[r];
    uint64_t cumulative = 0;
    for (std::size_t b = 0; b < bucket_slots; ++b) cumulative += s.buckets[b].load(std::memory_order_relaxed);
    if (cumulative == 0) continue;
    const std::string route = label_escape(names_[r]);
    cumulative = 0;
    for (std::size_t b = 0; b < bucket_slots; ++b) {
      cumulative += s.buckets[b].load(std::memory_order_relaxed);
      const std::string le = b < http_latency_buckets_us.size() ? seconds_text(http_latency_buckets_us[b]) : "+Inf";
      out += "tally_http_request_duration_seconds_bucket{route=\"" + route + "\",le=\"" + le + "\"} " +
             std::to_string(cumulative) + "\n";
    }
    out += "tally_http_request_duration_seconds_sum{route=\"" + route + "\"} " +
           seconds_text(static_cast<int64_t>(s.duration_us_sum.load(std::memory_order_relaxed))) + "\n";
    out += "tally_http_request_duration_seconds_count{route=\"" + route + "\"} " + std::to_string(cumulative) + "\n";
  }
  auto counter = [&](const char* name, const char* help, uint64_t value, const char* type = "counter") {
    out += std::string("# HELP ") + name + " " + help + "\n# TYPE " + name + " " + type + "\n" + name + " " +
           std::to_string(value) + "\n";
  };
  counter("tally_http_connections_accepted_total", "Connections accepted.", connections_accepted.load());
  counter("tally_http_connections_refused_total", "Connections refused at once because too many were open.",
          connections_refused.load());
  counter("tally_http_connections_refused_client_total",
          "Connections refused at once because their client address had too many open.",
          connections_refused_client.load());
  const int64_t open = connections_open.load();
  counter("tally_http_connections_open", "Connections open now.", static_cast<uint64_t>(open < 0 ? 0 : open), "gauge");
  counter("tally_api_events_appended_total", "Log records appended by the API (commands and ingest).",
          events_appended.load());
  counter("tally_api_append_failures_total", "Appends to the log that failed (answered 503).", append_failures.load());
  counter("tally_api_wait_timeouts_total", "Requests with ?wait=1 answered before the projector applied them.",
          wait_timeouts.load());
}

}  // namespace tally::api
