// The settings and inputs of the HTTP server (api/http_server.h) that the rest of api/ shares:
// limits (each a named constant), tokens, options, the metrics sources. No Beast type crosses it.
// Thread safety: plain values.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "api/commerce.h"
#include "api/http_types.h"
#include "engine/limits.h"
#include "engine/status.h"
#include "engine/types.h"
#include "submit/submitter.h"

namespace tally::api {

inline constexpr std::size_t http_body_bytes_max = std::size_t{1} << 20;     // 1 MiB, then 413
inline constexpr std::size_t http_header_bytes_max = 16 * 1024;              // then 431
inline constexpr std::size_t http_connections_max = 4096;                    // then refused (503)
inline constexpr std::size_t http_connections_per_client_max = 128;          // per remote address, then 429
inline constexpr int http_idle_timeout_ms = 30'000;                          // headers and keep-alive, then closed
inline constexpr int http_body_timeout_ms = 30'000;                          // the whole body, then 408
inline constexpr int http_wait_timeout_ms = 10'000;                          // ?wait=1, then 202
inline constexpr std::size_t http_events_per_request_max = submit::submit_events_max;  // POST /api/v1/events
inline constexpr std::size_t http_transactions_page_max = 500;
inline constexpr std::size_t http_transactions_page_default = 100;
inline constexpr std::size_t http_tokens_max = 1024;
inline constexpr std::size_t http_token_bytes_min = 16;                      // a guessable token is no token
inline constexpr std::size_t http_token_bytes_max = 512;
inline constexpr int http_threads_max = 64;
// An event whose occurred_at_ms runs further ahead of the server's clock is refused (400
// `clock_skew`) before it is appended (SPEC §2): the fold's own bound against the log's append
// time (engine/limits.h), checked first where the server's clock is known.
inline constexpr int64_t future_skew_max_ms = limits::future_skew_max_ms;

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

// Several nodes (SPEC §13): which node answers the reads of an org and how a read gets there. A
// GET (or HEAD) of a route with an `{org}` path parameter is answered by the node that owns the
// org's home partition: here, or forwarded there (with the caller's headers, and
// `Tally-Forwarded`, so a forwarded read is never forwarded again).
struct ReadRouting {
  int32_t partition_count = 0;  // of the events log: an org's home partition
  // The base URL ("http://10.1.2.3:8080") of the node that owns `partition`; nullopt when this
  // node owns it; "" when no node is known to own it now (the read answers 503 `no_owner` with
  // Retry-After). Thread-safe, quick.
  std::function<std::optional<std::string>(PartitionId partition)> owner;
  // Sends `request` to the node at `base_url` and returns its answer as it is (502 `owner_unreachable`
  // when it cannot be reached). Thread-safe; blocks (called on the blocking pool).
  std::function<ApiResponse(const std::string& base_url, const ApiRequest& request)> forward;
};
inline constexpr std::string_view http_forwarded_header = "tally-forwarded";
// A read with ?min_position=P:O (the position a command returned) waits this long for that record
// to be committed here, then answers 503 `behind` with Retry-After.
inline constexpr int http_min_position_wait_ms = 2'000;

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
  // Signs the billing page's links (api/billing_links.h), 16 bytes or more; empty: no links are
  // minted (POST …/billing-links answers 503) and the page answers 401.
  std::string billing_link_secret;
  // Several nodes: reads of orgs this node does not own are forwarded (ReadRouting). Empty: one
  // node owns every partition.
  std::optional<ReadRouting> routing;
};

// Waits for the outcome the fold gave the record at a position (the projector's
// wait_for_outcome; submit/submitter.h). Thread-safe; called from the blocking pool.
using WaitOutcome = submit::WaitOutcome;

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

}  // namespace tally::api
