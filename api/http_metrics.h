// Counters of the HTTP server for GET /metrics: requests by route and status, request latency
// by route, connections, events appended. Lock-free (relaxed atomics); thread-safe after
// set_routes().
#pragma once

#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace tally::api {

// Latency buckets, µs, upper bounds (Prometheus `le`), +Inf implied.
inline constexpr std::array<int64_t, 14> http_latency_buckets_us = {
    100, 250, 500, 1'000, 2'500, 5'000, 10'000, 25'000, 50'000, 100'000, 250'000, 1'000'000, 5'000'000, 10'000'000};
// Statuses counted by name; any other lands in "other".
inline constexpr std::array<int, 19> http_counted_statuses = {200, 202, 400, 401, 403, 404, 405, 408, 409, 413,
                                                               415, 422, 429, 431, 500, 503, 504, 100, 201};

class HttpMetrics {
 public:
  // Names the route slots ("GET /api/v1/org/{org}/credits"); one more slot, "unmatched", counts
  // requests that matched no route or failed before routing. REQUIRES: once, before count().
  void set_routes(std::vector<std::string> names);
  std::size_t unmatched_slot() const { return names_.size() - 1; }

  void count(std::size_t slot, int status, int64_t duration_us);
  // Appends the Prometheus text of every counter.
  void render(std::string& out) const;

  std::atomic<uint64_t> connections_accepted{0};
  std::atomic<uint64_t> connections_refused{0};         // over connections_max (503)
  std::atomic<uint64_t> connections_refused_client{0};  // over connections_per_client_max (429)
  std::atomic<int64_t> connections_open{0};
  std::atomic<uint64_t> events_appended{0};       // records the API appended (after fan-out)
  std::atomic<uint64_t> append_failures{0};
  std::atomic<uint64_t> wait_timeouts{0};         // ?wait=1 that gave up (answered 202)

 private:
  static constexpr std::size_t status_slots = http_counted_statuses.size() + 1;
  static constexpr std::size_t bucket_slots = http_latency_buckets_us.size() + 1;
  struct Slot {
    std::array<std::atomic<uint64_t>, status_slots> by_status{};
    std::array<std::atomic<uint64_t>, bucket_slots> buckets{};
    std::atomic<uint64_t> duration_us_sum{0};
  };
  std::vector<std::string> names_;
  std::unique_ptr<Slot[]> slots_;
};

}  // namespace tally::api
