// Outbound HTTP for the connectors (Stripe, enforcement webhooks): a small libcurl wrapper, and the
// retry policy every connector uses between attempts.
//
// Caveats first:
//   - An HttpClient is NOT thread-safe: it owns one curl easy handle (and its connection cache).
//     Use one per thread. Distinct clients may be used from distinct threads.
//   - Only http:// and https:// URLs; redirects are not followed (an API that redirects a POST is
//     misconfigured, and following it could resend a payment request elsewhere).
//   - The client never retries by itself: a POST that timed out may have been applied, so whether
//     to resend is the caller's decision (Stripe: resend with the same Idempotency-Key).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "engine/status.h"

namespace tally::connectors {

inline constexpr int64_t http_timeout_ms_default = 10'000;
inline constexpr int64_t http_connect_timeout_ms_default = 3'000;
inline constexpr std::size_t http_response_bytes_max = 8 * 1024 * 1024;  // larger bodies are an error
inline constexpr std::size_t http_response_headers_max = 256;

struct HttpHeader {
  std::string name;
  std::string value;
};

struct HttpRequest {
  std::string method = "POST";  // "GET" or "POST"
  std::string url;
  std::vector<HttpHeader> headers;
  std::string body;  // sent for POST (even when empty)
  int64_t timeout_ms = http_timeout_ms_default;                  // whole exchange
  int64_t connect_timeout_ms = http_connect_timeout_ms_default;  // TCP + TLS handshake
};

struct HttpResponse {
  int32_t status_code = 0;
  std::string body;
  // Final response's headers in order received; names lower-cased.
  std::vector<HttpHeader> headers;

  // The first header named `name` (case-insensitive), or nullptr.
  const std::string* header(std::string_view name) const;
};

// Why an exchange produced no HTTP response. All of these may be worth a retry except
// invalid_request; timed_out after the request was sent means "maybe applied".
enum class HttpFailure { none, connection_refused, timed_out, network, invalid_request, response_too_large };

class HttpClient {
 public:
  HttpClient();
  ~HttpClient();
  HttpClient(const HttpClient&) = delete;
  HttpClient& operator=(const HttpClient&) = delete;

  // Performs one exchange. Returns the response for ANY status code (a 500 is a response, not an
  // error). Errors: unavailable (connection refused, timeout, DNS/TLS/network failure; the message
  // says which and last_failure() classifies it), invalid_argument (bad URL or method, header with
  // CR/LF), too_large (response over http_response_bytes_max).
  Result<HttpResponse> send(const HttpRequest& request);

  // Shorthands for send().
  Result<HttpResponse> post(std::string url, std::vector<HttpHeader> headers, std::string body,
                            int64_t timeout_ms = http_timeout_ms_default);
  Result<HttpResponse> get(std::string url, std::vector<HttpHeader> headers,
                           int64_t timeout_ms = http_timeout_ms_default);

  // Classification of the last send()'s failure; none after a response.
  HttpFailure last_failure() const { return last_failure_; }

 private:
  struct Handle;
  std::unique_ptr<Handle> handle_;
  HttpFailure last_failure_ = HttpFailure::none;
};

// Percent-encodes `text` for application/x-www-form-urlencoded and URL query strings: everything
// but [A-Za-z0-9-._~] becomes %XX.
std::string url_encode(std::string_view text);

// When to try again after a failed attempt: capped exponential backoff with jitter.
//   delay(n) for the n-th retry (n = 1 after the first failed attempt):
//     ceiling = min(backoff_ms_max, backoff_ms_initial × 2^(n-1))
//     delay   = ceiling/2 + jitter in [0, ceiling/2], jitter drawn from (jitter_seed, n)
// Jitter spreads retries of many connectors apart after a shared outage; deriving it from a seed
// (not a global RNG) keeps a run reproducible. Pure value; thread-safe to share read-only.
struct RetryPolicy {
  int32_t attempts_max = 5;            // total attempts including the first; >= 1
  int64_t backoff_ms_initial = 200;    // ceiling of the first retry's delay
  int64_t backoff_ms_max = 10'000;     // no delay is longer
  uint64_t jitter_seed = 0;

  // True if attempt number `attempts_done + 1` is allowed.
  bool may_retry(int32_t attempts_done) const { return attempts_done < attempts_max; }
  // Delay before retry `retry` (1-based). REQUIRES: retry >= 1.
  int64_t backoff_ms(int32_t retry) const;
};

}  // namespace tally::connectors
