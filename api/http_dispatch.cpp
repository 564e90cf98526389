// Admission of a request on its headers (route, auth, query, body limits), then its handler.
#include <boost/asio/post.hpp>

#include "api/authorization.h"
#include "api/handler_util.h"
#include "api/http_session.h"
#include "api/server_core.h"
#include "api/json_body.h"
#include "api/routes.h"
#include "engine/limits.h"
#include "engine/partitioner.h"

namespace tally::api {

namespace http = beast_http;

namespace {

std::optional<HttpMethod> to_method(http::verb verb) {
  switch (verb) {
    case http::verb::get: return HttpMethod::get;
    case http::verb::head: return HttpMethod::head;
    case http::verb::post: return HttpMethod::post;
    case http::verb::put: return HttpMethod::put;
    case http::verb::patch: return HttpMethod::patch;
    case http::verb::delete_: return HttpMethod::delete_;
    default: return std::nullopt;
  }
}

std::string_view view(boost::beast::string_view text) { return {text.data(), text.size()}; }

ApiResponse unauthorized(std::string_view message) {
  ApiResponse denied = ApiResponse::error(401, "unauthorized", message);
  denied.headers.emplace_back("WWW-Authenticate", "Bearer");
  return denied;
}

ApiResponse method_not_allowed(const std::vector<HttpMethod>& allowed) {
  ApiResponse response = ApiResponse::error(405, "method_not_allowed", "this route does not take that method");
  std::string allow;
  for (HttpMethod m : allowed) allow += std::string(allow.empty() ? "" : ", ") + method_name(m);
  response.headers.emplace_back("Allow", allow);
  return response;
}

// ?min_position=P:O (P and O decimal): the position a command returned.
Result<std::optional<LogPosition>> min_position(const ApiRequest& request) {
  const std::optional<std::string_view> text = request.query_param("min_position");
  if (!text) return std::optional<LogPosition>{};
  const auto bad = [&] {
    return Status::invalid("min_position", "'" + cut_echo(*text) + "' is not a position P:O (a command's \"position\")");
  };
  const std::size_t colon = text->find(':');
  if (colon == std::string_view::npos || colon == 0 || colon + 1 == text->size() || colon > 9 ||
      text->size() - colon - 1 > 18) {
    return bad();
  }
  int64_t partition = 0, offset = 0;
  for (char c : text->substr(0, colon)) {
    if (c < '0' || c > '9') return bad();
    partition = partition * 10 + (c - '0');
  }
  for (char c : text->substr(colon + 1)) {
    if (c < '0' || c > '9') return bad();
    offset = offset * 10 + (c - '0');
  }
  if (partition >= limits::partitions_max) return bad();
  return std::optional<LogPosition>{LogPosition{PartitionId{static_cast<int32_t>(partition)}, Offset{offset}}};
}

ApiResponse retry_later(int status, std::string_view code, std::string_view message) {
  ApiResponse response = ApiResponse::error(status, code, message);
  response.headers.emplace_back("Retry-After", "1");
  return response;
}

}  // namespace

Admission ServerCore::admit(const http::request<http::string_body>& header, bool body_follows,
                                  std::optional<std::uint64_t> content_length) const {
  Admission a;
  a.meta.started = std::chrono::steady_clock::now();
  a.meta.version = header.version();
  a.meta.keep_alive = header.keep_alive();
  a.meta.head = header.method() == http::verb::head;
  a.meta.metrics_slot = ctx_.http_metrics.unmatched_slot();
  auto refused = [&a](ApiResponse response) {
    a.refusal = std::move(response);
    return std::move(a);
  };
  const std::string_view target = view(header.target());
  if (target.empty() || target.front() != '/') {
    return refused(ApiResponse::error(400, "bad_target", "the request target must be an absolute path"));
  }
  const std::size_t question = target.find('?');
  const std::string_view query = question == std::string_view::npos ? std::string_view{} : target.substr(question + 1);
  a.path = std::string(target.substr(0, question));
  const std::optional<HttpMethod> method = to_method(header.method());
  // An unknown verb matches no route: 405 if the path exists, else 404.
  RouteTable::Match match = table_.match(method.value_or(HttpMethod::patch), a.path);
  if (!method && match.kind == RouteTable::Match::Kind::found) match.kind = RouteTable::Match::Kind::wrong_method;
  switch (match.kind) {
    case RouteTable::Match::Kind::no_route: return refused(ApiResponse::error(404, "not_found", "no such route"));
    case RouteTable::Match::Kind::bad_path:
      return refused(ApiResponse::error(400, "bad_path", match.error.message(), "path"));
    case RouteTable::Match::Kind::wrong_method: return refused(method_not_allowed(match.allowed));
    case RouteTable::Match::Kind::found: break;
  }
  const Route& route = routes_[match.index];
  a.meta.metrics_slot = match.index;
  ApiResponse denied = authenticate(route, match.params, view(header[http::field::authorization]), a.principal);
  if (denied.status != 0) return refused(std::move(denied));

  Result<std::vector<std::pair<std::string, std::string>>> pairs = parse_query(query);
  if (!pairs.is_ok()) return refused(ApiResponse::error(400, "bad_query", pairs.status().message(), "query"));
  const std::size_t body_max = ctx_.options.body_bytes_max;
  if (content_length && *content_length > body_max) {
    return refused(ApiResponse::error(413, "body_too_large", "bodies are limited to " + std::to_string(body_max) + " bytes"));
  }
  const std::string_view content_type = view(header[http::field::content_type]);
  if (route.json_body && body_follows && !is_json_content_type(content_type)) {
    return refused(ApiResponse::error(
        415, "unsupported_media_type",
        "the body must be JSON: send Content-Type: application/json (charset utf-8 if any), not " +
            cut_echo(content_type, 64) + " (curl -d sends application/x-www-form-urlencoded; add -H 'Content-Type: application/json')",
        "Content-Type"));
  }
  a.route = &route;
  a.method = *method;
  a.path_params = std::move(match.params);
  a.query = std::move(pairs.value());
  return a;
}

ApiResponse ServerCore::authenticate(const Route& route, const std::map<std::string, std::string, std::less<>>& params,
                                           std::string_view authorization, const Principal*& principal) const {
  principal = nullptr;
  const std::string_view secret = bearer_secret(authorization);
  switch (route.auth.kind) {
    case RouteAuth::Kind::none: return ApiResponse::json(0, {});
    case RouteAuth::Kind::bearer_secret:
      if (secret.empty() || !constant_time_equal(secret, route.auth.secret)) {
        return unauthorized("a valid bearer token for this route is required");
      }
      return ApiResponse::json(0, {});
    default: break;
  }
  principal = secret.empty() ? nullptr : tokens_->find(secret);
  if (principal == nullptr) return unauthorized("a valid bearer token is required");
  std::string_view org;
  if (route.auth.kind == RouteAuth::Kind::org_read || route.auth.kind == RouteAuth::Kind::org_command ||
      route.auth.kind == RouteAuth::Kind::org_hold) {
    auto it = params.find(route.auth.param);
    if (it != params.end()) org = it->second;
  }
  const Decision decision = authorize(*principal, AccessRequest{route.auth, org, {}});
  if (!decision.allowed) return ApiResponse::error(403, "forbidden", decision.reason, decision.field);
  return ApiResponse::json(0, {});
}

void ServerCore::handle(const std::shared_ptr<Session>& session, Admission&& admission,
                              http::request<http::string_body>&& request) {
  const ReplyMeta meta = admission.meta;
  try {
    const Route& route = *admission.route;
    ApiRequest api;
    api.method = admission.method;
    api.path = std::move(admission.path);
    api.route = route.pattern;
    api.path_params = std::move(admission.path_params);
    api.query = std::move(admission.query);
    api.principal = admission.principal;
    for (const auto& field : request) {
      std::string name(field.name_string());
      for (char& c : name) c = (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
      api.headers.emplace_back(std::move(name), std::string(field.value()));
    }
    api.body = std::move(request.body());

    const bool read = api.method == HttpMethod::get || api.method == HttpMethod::head;
    std::optional<LogPosition> wait_for;
    if (read) {
      Result<std::optional<LogPosition>> position = min_position(api);
      if (!position.is_ok()) {
        return reply(session, ApiResponse::error(400, "bad_query", position.status().message(), "min_position"), meta);
      }
      wait_for = position.value();
    }
    // Several nodes: a read of an org is answered by its home partition's owner (SPEC §13).
    std::optional<std::string> owner;
    if (read && ctx_.options.routing && api.path_params.count("org") != 0) {
      const ReadRouting& routing = *ctx_.options.routing;
      owner = routing.owner(PartitionId{partition_for_key(api.path_param("org"), routing.partition_count)});
      if (owner && api.header(http_forwarded_header)) {
        return reply(session, retry_later(503, "not_owner", "this node does not own the org's partition now"), meta);
      }
      if (owner && owner->empty()) {
        return reply(session, retry_later(503, "no_owner", "no node owns the org's partition now (being moved)"), meta);
      }
    }
    const bool applied = !wait_for || ctx_.wait(*wait_for, 0).state != OutcomeWait::State::timed_out;
    if (!route.blocking && !owner && applied) return reply(session, route.handler(api), meta);
    net::post(*blocking_, [this, session, &route, api = std::move(api), meta, owner, wait_for, applied]() {
      ApiResponse response;
      try {
        if (owner) {
          response = ctx_.options.routing->forward(*owner, api);
        } else if (!applied && ctx_.wait(*wait_for, http_min_position_wait_ms).state == OutcomeWait::State::timed_out) {
          response = retry_later(503, "behind", "the record at min_position " + wait_for->to_string() +
                                                    " is not in these views yet");
        } else {
          response = route.handler(api);
        }      } catch (const std::exception& e) {
        response = ApiResponse::error(500, "internal", std::string("the handler failed: ") + e.what());
      } catch (...) {
        response = ApiResponse::error(500, "internal", "the handler failed");
      }
      net::post(session->executor(), [this, session, response = std::move(response), meta]() mutable {
        reply(session, std::move(response), meta);
      });
    });
  } catch (const std::exception& e) {
    reply(session, ApiResponse::error(500, "internal", std::string("the handler failed: ") + e.what()), meta);
  } catch (...) {
    reply(session, ApiResponse::error(500, "internal", "the handler failed"), meta);
  }
}

void ServerCore::reply(const std::shared_ptr<Session>& session, ApiResponse&& response, const ReplyMeta& meta) {
  if (response.status < 100 || response.status > 599) {
    response = ApiResponse::error(500, "internal", "the handler returned no valid status");
  }
  const auto elapsed = std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now() - meta.started);
  ctx_.http_metrics.count(meta.metrics_slot, response.status, elapsed.count());
  session->write(std::move(response), meta);
}

}  // namespace tally::api
