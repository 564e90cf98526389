// The values a route handler sees and returns, and how a route says who may call it. No Boost.Beast
// types cross this header, so other folders (connectors) can register routes without including
// Beast or Asio.
//
// Thread safety: plain values. A handler may run on any server thread, several at once.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace tally::api {

enum class HttpMethod : uint8_t { get, head, post, put, patch, delete_ };
const char* method_name(HttpMethod method);

// Who is calling: the bearer token that authenticated the request. What its scopes allow is
// decided by authorize() (api/authorization.h): "admin", "ingest", "org:<org id>",
// "org:<org id>:read", or a custom name a registered route asks for (e.g. "litellm").
struct Principal {
  std::string token_name;  // for logs; never the secret
  std::vector<std::string> scopes;
};

// One request, parsed. Strings are decoded (percent-decoding of path segments and query pairs).
struct ApiRequest {
  HttpMethod method = HttpMethod::get;
  std::string path;    // as sent, without the query
  std::string route;   // the pattern that matched, e.g. "/api/v1/org/{org}/credits"
  std::map<std::string, std::string, std::less<>> path_params;
  std::vector<std::pair<std::string, std::string>> query;    // in order; duplicates kept
  std::vector<std::pair<std::string, std::string>> headers;  // names lower-cased
  std::string body;
  // The authenticated caller; nullptr on routes with RouteAuth::none() or RouteAuth::bearer().
  const Principal* principal = nullptr;

  // First header of that name (case-insensitive), if any.
  std::optional<std::string_view> header(std::string_view name) const;
  // Last value of a query parameter (a repeated parameter: the last one wins), if any.
  std::optional<std::string_view> query_param(std::string_view name) const;
  // A path parameter of the matched pattern. REQUIRES: the pattern has `{name}`.
  std::string_view path_param(std::string_view name) const;
};

// Client bytes echoed in an error body (a field name, a value) are cut to this many bytes, and a
// whole error message to http_error_message_bytes_max: an error never grows with the input.
inline constexpr std::size_t http_echo_bytes_max = 128;
inline constexpr std::size_t http_error_message_bytes_max = 512;

// `text` cut to at most `bytes_max` bytes at a UTF-8 character boundary, ending in "…" when cut.
std::string cut_echo(std::string_view text, std::size_t bytes_max = http_echo_bytes_max);

struct ApiResponse {
  int status = 200;
  std::string body;
  std::string content_type = "application/json";
  std::vector<std::pair<std::string, std::string>> headers;  // extra headers (e.g. Allow)

  static ApiResponse json(int status, std::string body);
  // {"error":{"code":…,"message":…[,"field":…]}}; `code` is a stable snake_case word. `field` is
  // cut to http_echo_bytes_max, `message` to http_error_message_bytes_max; both made valid UTF-8.
  static ApiResponse error(int status, std::string_view code, std::string_view message,
                           std::string_view field = {});
};

// Who may call a route. The server checks it after the headers and before reading the body: no
// or an unknown bearer token is 401, a known token the role table (api/authorization.h) does not
// allow is 403.
struct RouteAuth {
  enum class Kind : uint8_t {
    none,           // no token checked: public (health, metrics), or the handler verifies its own
                    // credential over the body (a webhook signature) and answers 401 itself
    bearer_secret,  // "Authorization: Bearer <secret>" with this route's own shared `secret`
                    // (a callback that cannot hold a Tally token); no principal
    org_read,       // the views of the org named by path parameter `param`
    org_command,    // an owner command of the org named by path parameter `param`
    org_hold,       // a hold command (SPEC §11) of the org named by `param`: admin, ingest or its owner
    append_events,  // appends canonical events: at the route, may this token append any event at
                    // all; then the handler asks authorize() for each event's type and org
    scope,          // a token with the custom `scope`, or admin
  };
  Kind kind = Kind::scope;
  std::string scope;          // Kind::scope
  std::string param = "org";  // Kind::org_read, org_command
  std::string secret;         // Kind::bearer_secret

  static RouteAuth none() { return {Kind::none, {}, {}, {}}; }
  static RouteAuth bearer(std::string secret) { return {Kind::bearer_secret, {}, {}, std::move(secret)}; }
  static RouteAuth org_read(std::string param = "org") { return {Kind::org_read, {}, std::move(param), {}}; }
  static RouteAuth org_command(std::string param = "org") { return {Kind::org_command, {}, std::move(param), {}}; }
  static RouteAuth org_hold(std::string param = "org") { return {Kind::org_hold, {}, std::move(param), {}}; }
  static RouteAuth append_events() { return {Kind::append_events, {}, {}, {}}; }
  static RouteAuth scoped(std::string scope) { return {Kind::scope, std::move(scope), {}, {}}; }
  static RouteAuth admin() { return {Kind::scope, "admin", {}, {}}; }
};

// A handler answers every request it is given; it must not throw (if it does, the client gets a
// 500 and the server goes on). It may block (append to the log, wait for the projector, call out)
// only if its route says so.
using RouteHandler = std::function<ApiResponse(const ApiRequest&)>;

struct Route {
  HttpMethod method = HttpMethod::get;
  // "/api/v1/org/{org}/credits/member-limits/{user_id}": literal segments and `{name}` segments,
  // each `{name}` matching one non-empty path segment. A literal segment wins over a parameter.
  std::string pattern;
  RouteAuth auth;
  RouteHandler handler;
  // True: the handler runs on the server's blocking pool and may take long (appending fsyncs the
  // journal; ?wait=1 waits for the projector). False: it runs on an I/O thread and must be quick
  // (LMDB reads).
  bool blocking = true;
  // True: a body must be JSON. A request with a body and a Content-Type other than
  // application/json (charset utf-8 if any) is 415 before the body is read; no Content-Type is
  // taken as JSON (the body is then judged strictly as JSON anyway).
  bool json_body = false;
};

// A registered route, as HttpServer::routes() lists it.
struct RouteSummary {
  HttpMethod method = HttpMethod::get;
  std::string pattern;
  RouteAuth::Kind auth = RouteAuth::Kind::scope;
};

}  // namespace tally::api
