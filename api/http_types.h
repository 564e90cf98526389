// The values a route handler sees and returns, and how a route says who may call it. No Boost.Beast
// types cross this header, so other folders (connectors) can register routes without including
// Beast or Asio.
//
// Thread safety: plain values. A handler may run on any server thread, several at once.
#pragma once

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

// Who is calling: the scopes of the bearer token that authenticated the request.
// Scopes: "admin" (everything), "org:<org id>" (reads and commands of that org), "ingest"
// (POST /api/v1/events), or any other name a registered route asks for (e.g. "litellm").
struct Principal {
  std::string token_name;  // for logs; never the secret
  std::vector<std::string> scopes;
  bool is_admin() const;
  // Admin, or the exact scope.
  bool has_scope(std::string_view scope) const;
  // Admin, or "org:<org>".
  bool allows_org(std::string_view org) const;
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
  // The authenticated caller; nullptr on routes with RouteAuth::none().
  const Principal* principal = nullptr;

  // First header of that name (case-insensitive), if any.
  std::optional<std::string_view> header(std::string_view name) const;
  // Last value of a query parameter (a repeated parameter: the last one wins), if any.
  std::optional<std::string_view> query_param(std::string_view name) const;
  // A path parameter of the matched pattern. REQUIRES: the pattern has `{name}`.
  std::string_view path_param(std::string_view name) const;
};

struct ApiResponse {
  int status = 200;
  std::string body;
  std::string content_type = "application/json";
  std::vector<std::pair<std::string, std::string>> headers;  // extra headers (e.g. Allow)

  static ApiResponse json(int status, std::string body);
  // {"error":{"code":…,"message":…[,"field":…]}}; `code` is a stable snake_case word.
  static ApiResponse error(int status, std::string_view code, std::string_view message,
                           std::string_view field = {});
};

// Who may call a route. The server checks it before the handler runs: no or an unknown bearer
// token is 401, a known token without the scope is 403.
struct RouteAuth {
  enum class Kind : uint8_t {
    none,           // no bearer token checked: the handler verifies its own credentials
                    // (a webhook signature, a shared secret) and answers 401 itself
    authenticated,  // any known token; the handler checks scopes further (request.principal)
    scope,          // a token with `scope`, or admin
    org,            // a token with "org:<value of path parameter `param`>", or admin
  };
  Kind kind = Kind::scope;
  std::string scope;  // Kind::scope: the scope; Kind::org: the path parameter naming the org

  static RouteAuth none() { return {Kind::none, {}}; }
  static RouteAuth authenticated() { return {Kind::authenticated, {}}; }
  static RouteAuth scoped(std::string scope) { return {Kind::scope, std::move(scope)}; }
  static RouteAuth admin() { return {Kind::scope, "admin"}; }
  static RouteAuth org(std::string param = "org") { return {Kind::org, std::move(param)}; }
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
};

}  // namespace tally::api
