// What the built-in route handlers share: the server's inputs, the submission path every route
// that appends goes through, and the idempotency-key source. Internal to api/. Thread-safe: every
// member is immutable after start, atomic or thread-safe itself (the Submitter).
#pragma once

#include <atomic>
#include <cstdint>
#include <string>

#include "api/http_metrics.h"
#include "api/server_options.h"
#include "log/log.h"
#include "projections/views.h"
#include "submit/submitter.h"

namespace tally::api {

struct ApiContext {
  ApiContext(HttpServerOptions options_in, ViewReader& views_in, LogWriter& log_in, WaitOutcome wait_in,
             MetricsSource metrics_in);

  HttpServerOptions options;
  ViewReader& views;
  LogWriter& log;
  MetricsSource metrics;
  // Every event the API appends goes through it: the clock check (future_skew_max_ms), one append,
  // the outcomes (options.wait_timeout_ms).
  submit::Submitter submitter;
  // The projector's wait (?wait=1, ?min_position): whether a record is committed here.
  WaitOutcome wait;
  HttpMetrics http_metrics;
  // Generated idempotency keys: "api-<unix ms>-<instance nonce>-<counter>": unique across restarts and
  // replicas because the nonce is random per server instance (randomness is fine in the shell; the
  // fold never sees it, only the key it produced).
  std::string key_nonce;
  std::atomic<uint64_t> key_counter{0};

  std::string next_idempotency_key();
};

// Unix ms now (the shell's clock: `occurred_at_ms` of the events the API builds).
int64_t now_unix_ms();

}  // namespace tally::api
