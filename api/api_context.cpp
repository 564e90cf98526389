#include "api/api_context.h"

#include <chrono>
#include <cstdio>
#include <random>

namespace tally::api {

namespace {

submit::SubmitterOptions submitter_options(const HttpServerOptions& options) {
  submit::SubmitterOptions out;
  out.future_skew_max_ms = future_skew_max_ms;
  out.now_ms = now_unix_ms;
  out.wait_timeout_ms = options.wait_timeout_ms;
  return out;
}

}  // namespace

ApiContext::ApiContext(HttpServerOptions options_in, ViewReader& views_in, LogWriter& log_in, WaitOutcome wait_in,
                       MetricsSource metrics_in)
    : options(std::move(options_in)),
      views(views_in),
      log(log_in),
      metrics(std::move(metrics_in)),
      submitter(log_in, submitter_options(options), wait_in),
      wait(std::move(wait_in)) {
  std::random_device device;
  const uint64_t nonce = (static_cast<uint64_t>(device()) << 32) ^ device();
  char text[17];
  std::snprintf(text, sizeof text, "%016llx", static_cast<unsigned long long>(nonce));
  key_nonce = text;
}

std::string ApiContext::next_idempotency_key() {
  const uint64_t n = key_counter.fetch_add(1, std::memory_order_relaxed);
  return "api-" + std::to_string(now_unix_ms()) + "-" + key_nonce + "-" + std::to_string(n);
}

int64_t now_unix_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace tally::api
