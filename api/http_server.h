// The HTTP query and command API (SPEC §7): Boost.Beast over Asio, HTTP/1.1 with keep-alive.
//
// Caveats first:
//  - Reads go to the ViewReader (LMDB read txns) on the I/O threads; they never block the
//    projector. Commands (PUT/DELETE/POST) append through the submission path (submit/) onto the
//    LogWriter on a separate blocking pool, because an append waits for an fsync and ?wait=1 waits
//    for the projector's outcome: neither may stall the readers.
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

#include "api/http_types.h"
#include "api/server_options.h"
#include "engine/status.h"
#include "engine/types.h"

namespace tally {
class ViewReader;
class LogWriter;
}  // namespace tally

namespace tally::api {

class ServerCore;

class HttpServer {
 public:
  // `wait` gives ?wait=1 the outcome of each appended record (Projector::wait_for_outcome); in a
  // process that does not project, one that answers expired once the record is committed.
  HttpServer(HttpServerOptions options, ViewReader& views, LogWriter& log, WaitOutcome wait,
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
  using RouteSummary = api::RouteSummary;
  std::vector<RouteSummary> routes() const;

  // Stops accepting, closes connections, joins every thread. Idempotent.
  void stop();

  // What POST /api/v1/events does with an array, for handlers of extra routes that map a payload
  // to canonical JSON events (engine/event_json.h, ingest/canonical_event.h), through the one
  // submission path (submit/): parses and validates every event once (a bad one -> 400
  // "invalid_event" with field "[i].<field>", nothing appended), appends all of them in one call
  // (events of no org to every partition) and answers (an event more than future_skew_max_ms
  // ahead of the server's clock -> 400 "clock_skew", nothing appended)
  //   202 {"events":[{"index","position"[,"positions"],"idempotency_key"}...],"applied":false}
  // or, with ?wait=1 in `request`, 200 {"events":[…each with its "outcome"…],"applied":true} (the
  // outcomes of api/outcome_json.h). 503 "log_unavailable" if the append fails. No role check:
  // the caller is Tally's own connector, admitted by the route's own auth.
  // Thread-safe; blocks (call it from a blocking route).
  ApiResponse submit_events(const std::vector<std::string>& canonical_json, const ApiRequest& request);

 private:
  std::unique_ptr<ServerCore> core_;
};

}  // namespace tally::api
