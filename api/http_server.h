// The HTTP query and command API (SPEC §7): Boost.Beast over Asio, HTTP/1.1 with keep-alive.
//
// Caveats first:
//  - Reads go to the ViewReader (LMDB read txns) on the I/O threads; they never block the
//    projector. Commands (PUT/DELETE/POST) append through the LogWriter on a separate blocking pool,
//    because an append waits for an fsync and ?wait=1 waits for the projector: neither may stall
//    the readers.
//  - The server reads views, it does not own them: `views`, `log` and the callbacks must outlive
//    the server (stop() or the destructor joins every thread that uses them).
//  - /healthz and /metrics need no token (bind the server to a private interface or put a proxy in
//    front if that matters). Every other built-in route needs a bearer token; what each token may
//    do is the role table of api/authorization.h.
//  - stop() waits for handlers in flight, so it may take up to options.wait_timeout_ms.
//  - Connections are capped in total (connections_max) and per client address
//    (connections_per_client_max): behind a proxy every client has the proxy's address, so raise
//    the per-client cap to the proxy's connection pool. A connection over a cap gets one error
//    answer at once (503 or 429, JSON, `Connection: close`) and is closed.
//
// Request handling order, everything up to the body decided on the headers alone, so nothing is
// buffered for a caller who will be refused:
//   route match (404 unknown path, 405 wrong method with Allow, 400 bad percent-encoding),
//   auth (401 no/unknown token, 403 the role table says no), the query string (400),
//   body limits (413 by Content-Length, 415 a body that must be JSON and is declared otherwise),
//   then the body (408 if it has not arrived within body_timeout_ms, 413 past body_bytes_max),
//   then the handler. A refusal before the body closes the connection if a body was announced.
// Errors are {"error":{"code","message"[,"field"]}} (echoed input cut to http_echo_bytes_max).
// Timeouts: the headers of each request (also the wait for the next request on a kept-alive
// connection) within idle_timeout_ms, else the connection is closed; the body within
// body_timeout_ms, else 408.
//
// Lifecycle: construct, add_route() any extra routes, start(), port(), ..., stop().
// Thread safety: add_route() and start() from one thread before serving; stop() from any thread
// except a handler; submit_events(), routes() and port() from any thread.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "api/commerce.h"
#include "api/http_types.h"
#include "engine/status.h"
#include "engine/types.h"

namespace tally {
class ViewReader;
class LogWriter;
}  // namespace tally

namespace tally::api {

inline constexpr std::size_t http_body_bytes_max = std::size_t{1} << 20;     // 1 MiB, then 413
inline constexpr std::size_t http_header_bytes_max = 16 * 1024;              // then 431
inline constexpr std::size_t http_connections_max = 4096;                    // then refused (503)
inline constexpr std::size_t http_connections_per_client_max = 128;          // per remote address, then 429
inline constexpr int http_idle_timeout_ms = 30'000;                          // headers and keep-alive, then closed
inline constexpr int http_body_timeout_ms = 30'000;                          // the whole body, then 408
inline constexpr int http_wait_timeout_ms = 10'000;                          // ?wait=1, then 202
inline constexpr std::size_t http_events_per_request_max = 10'000;           // POST /api/v1/events
inline constexpr std::size_t http_transactions_page_max = 500;
inline constexpr std::size_t http_transactions_page_default = 100;
inline constexpr std::size_t http_tokens_max = 1024;
inline constexpr std::size_t http_token_bytes_min = 16;                      // a guessable token is no token
inline constexpr std::size_t http_token_bytes_max = 512;
inline constexpr int http_threads_max = 64;
// An event whose occurred_at_ms runs further ahead of the server's clock is refused (400
// `clock_skew`) before it is appended (SPEC §2). The fold's own check against the log's append
// time uses the same default.
inline constexpr int64_t future_skew_max_ms = 300'000;

// A bearer token and its scopes (see Principal in api/http_types.h).
struct ApiToken {
  std::string name;    // for logs and metrics; never shown to clients
  std::string secret;  // what the client sends: "Authorization: Bearer <secret>"
  std::vector<std::string> scopes;
};

// Parses "name:secret:scope[,scope...]" (the form of the --token flag and of TALLY_API_TOKENS
// entries); scopes are "admin", "ingest", "org:<org id>", "org:<org id>:read" (the role table
// of api/authorization.h) or a custom name of [a-z0-9_-].
// Errors: invalid_argument naming the part at fault.
Result<ApiToken> parse_api_token(std::string_view spec);

struct HttpServerOptions {
  std::string host = "127.0.0.1";   // an IPv4 or IPv6 literal
  uint16_t port = 0;                // 0: the system picks a free port; see HttpServer::port()
  int io_threads = 2;               // 1..http_threads_max: parse, auth, reads
  int blocking_threads = 4;         // 1..http_threads_max: commands and blocking routes
  std::vector<ApiToken> tokens;     // at most http_tokens_max
  std::size_t body_bytes_max = http_body_bytes_max;
  std::size_t header_bytes_max = http_header_bytes_max;
  std::size_t connections_max = http_connections_max;
  std::size_t connections_per_client_max = http_connections_per_client_max;  // 1..connections_max
  int idle_timeout_ms = http_idle_timeout_ms;
  int body_timeout_ms = http_body_timeout_ms;
  int wait_timeout_ms = http_wait_timeout_ms;
  std::string event_source = "api";  // `source` of the events the API builds
  // Buying credits (SPEC §14): the bundle, its price and the payment provider. Without it, price,
  // checkout and payment-method answer 503 payments_not_configured and auto-refill takes no
  // refill_bundles.
  std::optional<CommerceOptions> commerce;
};

// Returns true once the projector has applied the event at `position` (and so every earlier one of
// its partition), false if `timeout_ms` passed first. Thread-safe; called from the blocking pool.
using WaitApplied = std::function<bool(LogPosition position, int timeout_ms)>;

// Optional inputs of GET /metrics. Each callback is thread-safe and quick; empty = not reported.
struct MetricsSource {
  // The end of the log for a partition (the offset the next record will get): consumer lag is
  // end - the projector's next offset.
  std::function<Result<Offset>(PartitionId)> log_end_offset;
  // Appends Prometheus text (e.g. the projector's batch commit latency histogram).
  std::function<void(std::string& out)> append_prometheus;
  // Why the node is degraded (a role that keeps failing and retrying: "projector: mdb_txn_commit:
  // No space left on device, retrying since …"); empty when it is not. GET /healthz then answers
  // 200 {"status":"degraded","degraded":[…]}: reads are still served.
  std::function<std::vector<std::string>()> degraded;
};

class HttpServer {
 public:
  HttpServer(HttpServerOptions options, ViewReader& views, LogWriter& log, WaitApplied wait_applied,
             MetricsSource metrics = {});
  ~HttpServer();  // stop()
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  // Adds a route to the built-in ones (e.g. POST /api/v1/internal/litellm/usage).
  // REQUIRES: before start(). Errors: invalid_argument (bad pattern, empty handler, a method and
  // pattern already registered — field "pattern").
  Status add_route(Route route);

  // Validates the options, binds host:port and starts the threads.
  // Errors: invalid_argument (options, tokens: field "tokens[i]…"), io_error (address in use, …).
  // REQUIRES: called once.
  Status start();

  // The bound port; REQUIRES: start() returned ok.
  uint16_t port() const;

  // Every registered route (built-in and added), in the order registered.
  struct RouteSummary {
    HttpMethod method;
    std::string pattern;
    RouteAuth::Kind auth;
  };
  std::vector<RouteSummary> routes() const;

  // Stops accepting, closes connections, joins every thread. Idempotent.
  void stop();

  // What POST /api/v1/events does, for handlers of extra routes that map a payload to canonical
  // JSON events (engine/event_json.h, connectors/canonical_event.h): validates every event (a bad
  // one -> 400 "invalid_event" with field "[i].<field>", nothing appended), appends all of them in
  // one call (global events — no org — to every partition) and answers (an event more than
  // future_skew_max_ms ahead of the server's clock -> 400 "clock_skew", nothing appended)
  //   202 {"events":[{"index","position"[,"positions"],"idempotency_key"}...],"applied":false}
  // or, with ?wait=1 in `request`, waits for the projector and answers 200 with each event's
  // "outcome" ("applied", "duplicate", "conflict", "rejected" + "reason") and "applied":true.
  // 503 "log_unavailable" if the append fails. No role check: the caller is Tally's own connector,
  // admitted by the route's own auth.
  // Thread-safe; blocks (call it from a blocking route).
  ApiResponse submit_events(const std::vector<std::string>& canonical_json, const ApiRequest& request);

  class Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace tally::api
