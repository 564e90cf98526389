// The Beast/Asio shell of the API: accept, read with limits, route, authenticate, run the handler
// (inline or on the blocking pool), write, keep alive. Everything a client sends ends in a response
// or a closed connection, never in a crash: parse errors are 400, oversized bodies 413, oversized
// headers 431, handler exceptions 500.
#include "api/http_server.h"

#include <cassert>
#include <chrono>
#include <mutex>
#include <optional>
#include <thread>

#include <boost/asio/dispatch.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include "api/api_context.h"
#include "api/auth.h"
#include "api/router.h"
#include "api/routes.h"

namespace tally::api {

namespace beast = boost::beast;
namespace http = beast::http;
namespace net = boost::asio;
using tcp = net::ip::tcp;

namespace {

// After an error answer on a connection we close, read and drop what the client is still sending
// (up to this much, for this long) so the kernel does not reset the connection before the client
// has read the answer.
constexpr std::size_t drain_bytes_max = 4 * 1024 * 1024;
constexpr int drain_timeout_ms = 1000;
constexpr std::size_t body_bytes_limit_max = std::size_t{64} << 20;

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

bool safe_header_value(std::string_view text) {
  return text.find_first_of(std::string_view("\r\n\0", 3)) == std::string_view::npos;
}

struct ReplyMeta {
  unsigned version = 11;
  bool keep_alive = false;
  bool head = false;
  std::size_t metrics_slot = 0;
  std::chrono::steady_clock::time_point started;
};

}  // namespace

class Session;

class HttpServer::Impl {
 public:
  Impl(HttpServerOptions options, ViewReader& views, LogWriter& log, WaitApplied wait, MetricsSource metrics)
      : ctx_(std::move(options), views, log, std::move(wait), std::move(metrics)) {
    for (auto group : {ops_routes(ctx_), read_routes(ctx_), command_routes(ctx_), event_routes(ctx_)}) {
      for (Route& route : group) {
        Status status = add_route(std::move(route));
        assert(status.is_ok() && "built-in routes are valid");
      }
    }
  }
  ~Impl() { stop(); }

  Status add_route(Route route);
  Status start();
  void stop();
  uint16_t port() const { return port_; }
  ApiContext& context() { return ctx_; }
  const HttpServerOptions& options() const { return ctx_.options; }
  HttpMetrics& metrics() { return ctx_.http_metrics; }

  // Routes one complete request and answers it through `session`. On the session's strand.
  void handle(const std::shared_ptr<Session>& session, http::request<http::string_body>&& request);
  // Counts a request and sends the answer. On the session's strand.
  void reply(const std::shared_ptr<Session>& session, ApiResponse&& response, const ReplyMeta& meta);

 private:
  void do_accept();
  ApiResponse authorize(const Route& route, const RouteTable::Match& match, std::string_view authorization,
                        const Principal*& principal) const;

  ApiContext ctx_;
  std::vector<Route> routes_;
  RouteTable table_;
  std::optional<TokenTable> tokens_;
  std::mutex lifecycle_mutex_;
  bool started_ = false;
  bool stopped_ = false;
  uint16_t port_ = 0;
  // Created by start(), destroyed by stop() in this order: pool, acceptor, io_context (the last one
  // destroys the sessions still waiting on it).
  std::unique_ptr<net::io_context> ioc_;
  std::unique_ptr<tcp::acceptor> acceptor_;
  std::unique_ptr<net::thread_pool> blocking_;
  std::vector<std::thread> threads_;
};

// One connection. Lives as long as an operation or a pending handler holds it.
class Session : public std::enable_shared_from_this<Session> {
 public:
  Session(HttpServer::Impl& server, tcp::socket&& socket)
      : server_(server),
        stream_(std::move(socket)),
        buffer_(server.options().header_bytes_max + 64 * 1024) {
    server_.metrics().connections_open.fetch_add(1, std::memory_order_relaxed);
  }
  ~Session() { server_.metrics().connections_open.fetch_sub(1, std::memory_order_relaxed); }

  void start() {
    beast::error_code ec;
    stream_.socket().set_option(tcp::no_delay(true), ec);
    net::dispatch(stream_.get_executor(), beast::bind_front_handler(&Session::read_header, shared_from_this()));
  }

  auto executor() { return stream_.get_executor(); }

  // Sends `response`; then reads the next request, or closes. On the strand.
  void write(ApiResponse&& response, const ReplyMeta& meta) {
    response_ = {};
    response_.version(meta.version);
    response_.result(static_cast<unsigned>(response.status));
    response_.set(http::field::server, "tally");
    response_.set(http::field::content_type, response.content_type);
    response_.set(http::field::cache_control, "no-store");
    for (const auto& [name, value] : response.headers) {
      if (safe_header_value(name) && safe_header_value(value) && !name.empty()) response_.set(name, value);
    }
    close_after_write_ = close_after_write_ || !meta.keep_alive;
    response_.keep_alive(!close_after_write_);
    response_.body() = std::move(response.body);
    response_.prepare_payload();
    if (meta.head) response_.body().clear();  // Content-Length stays that of the GET answer
    stream_.expires_after(std::chrono::milliseconds(server_.options().idle_timeout_ms));
    http::async_write(stream_, response_, beast::bind_front_handler(&Session::on_write, shared_from_this()));
  }

 private:
  void read_header() {
    parser_.emplace();
    parser_->header_limit(static_cast<uint32_t>(server_.options().header_bytes_max));
    parser_->body_limit(server_.options().body_bytes_max);
    stream_.expires_after(std::chrono::milliseconds(server_.options().idle_timeout_ms));
    http::async_read_header(stream_, buffer_, *parser_,
                            beast::bind_front_handler(&Session::on_header, shared_from_this()));
  }

  void on_header(beast::error_code ec, std::size_t) {
    if (ec) return on_read_error(ec);
    const auto length = parser_->content_length();
    if (length && *length > server_.options().body_bytes_max) {
      return fail(413, "body_too_large",
                  "bodies are limited to " + std::to_string(server_.options().body_bytes_max) + " bytes");
    }
    const auto& request = parser_->get();
    if (beast::iequals(request[http::field::expect], "100-continue") && !parser_->is_done()) {
      continue_ = {};
      continue_.version(request.version());
      continue_.result(http::status::continue_);
      http::async_write(stream_, continue_, beast::bind_front_handler(&Session::on_continue, shared_from_this()));
      return;
    }
    read_body();
  }

  void on_continue(beast::error_code ec, std::size_t) {
    if (ec) return close();
    read_body();
  }

  void read_body() {
    http::async_read(stream_, buffer_, *parser_, beast::bind_front_handler(&Session::on_read, shared_from_this()));
  }

  void on_read(beast::error_code ec, std::size_t) {
    if (ec) return on_read_error(ec);
    server_.handle(shared_from_this(), parser_->release());
  }

  void on_read_error(beast::error_code ec) {
    if (ec == http::error::end_of_stream || ec == http::error::partial_message || ec == beast::error::timeout ||
        ec == net::error::eof || ec == net::error::operation_aborted || ec == net::error::connection_reset) {
      return close();
    }
    if (ec == http::error::body_limit) {
      return fail(413, "body_too_large",
                  "bodies are limited to " + std::to_string(server_.options().body_bytes_max) + " bytes");
    }
    if (ec == http::error::header_limit || ec == http::error::buffer_overflow) {
      return fail(431, "headers_too_large",
                  "request headers are limited to " + std::to_string(server_.options().header_bytes_max) + " bytes");
    }
    if (ec.category() == http::make_error_code(http::error::bad_method).category()) {
      return fail(400, "malformed_request", "malformed HTTP request: " + ec.message());
    }
    close();
  }

  // Answers an error that ends the connection (the stream may be mid-request).
  void fail(int status, std::string_view code, std::string message) {
    close_after_write_ = true;
    ReplyMeta meta;
    meta.version = 11;
    meta.keep_alive = false;
    meta.metrics_slot = server_.metrics().unmatched_slot();
    meta.started = std::chrono::steady_clock::now();
    server_.reply(shared_from_this(), ApiResponse::error(status, code, message), meta);
  }

  void on_write(beast::error_code ec, std::size_t) {
    if (ec) return close();
    if (close_after_write_) return drain();
    read_header();
  }

  void drain() {
    beast::error_code ec;
    stream_.socket().shutdown(tcp::socket::shutdown_send, ec);
    if (ec) return close();
    stream_.expires_after(std::chrono::milliseconds(drain_timeout_ms));
    drain_buffer_.resize(16 * 1024);
    stream_.async_read_some(net::buffer(drain_buffer_), beast::bind_front_handler(&Session::on_drain, shared_from_this()));
  }

  void on_drain(beast::error_code ec, std::size_t bytes) {
    drained_ += bytes;
    if (ec || drained_ > drain_bytes_max) return close();
    stream_.async_read_some(net::buffer(drain_buffer_), beast::bind_front_handler(&Session::on_drain, shared_from_this()));
  }

  void close() {
    beast::error_code ec;
    stream_.socket().shutdown(tcp::socket::shutdown_both, ec);
    stream_.close();
  }

  HttpServer::Impl& server_;
  beast::tcp_stream stream_;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  http::response<http::string_body> response_;
  http::response<http::empty_body> continue_;
  bool close_after_write_ = false;
  std::vector<char> drain_buffer_;
  std::size_t drained_ = 0;
};

Status HttpServer::Impl::add_route(Route route) {
  std::lock_guard lock(lifecycle_mutex_);
  if (started_) return Status::invalid("route", "routes must be added before start()");
  if (!route.handler) return Status::invalid("handler", "is empty");
  if (route.auth.kind == RouteAuth::Kind::scope && check_scope(route.auth.scope, "auth.scope").is_ok() == false) {
    return Status::invalid("auth.scope", "must be admin, ingest, org:<org id> or [a-z0-9_-]{1,64}");
  }
  if (route.auth.kind == RouteAuth::Kind::org &&
      route.pattern.find("{" + route.auth.scope + "}") == std::string::npos) {
    return Status::invalid("auth.scope", "the pattern has no parameter {" + route.auth.scope + "}");
  }
  Result<std::size_t> index = table_.add(route.method, route.pattern);
  if (!index.is_ok()) return index.status();
  assert(index.value() == routes_.size());
  routes_.push_back(std::move(route));
  return Status::ok();
}

Status HttpServer::Impl::start() {
  std::lock_guard lock(lifecycle_mutex_);
  assert(!started_ && "start() is called once");
  const HttpServerOptions& o = ctx_.options;
  if (o.io_threads < 1 || o.io_threads > http_threads_max) return Status::invalid("io_threads", "must be 1..64");
  if (o.blocking_threads < 1 || o.blocking_threads > http_threads_max) {
    return Status::invalid("blocking_threads", "must be 1..64");
  }
  if (o.body_bytes_max < 1 || o.body_bytes_max > body_bytes_limit_max) {
    return Status::invalid("body_bytes_max", "must be 1..64 MiB");
  }
  if (o.header_bytes_max < 1024 || o.header_bytes_max > (std::size_t{1} << 20)) {
    return Status::invalid("header_bytes_max", "must be 1 KiB..1 MiB");
  }
  if (o.connections_max < 1) return Status::invalid("connections_max", "must be >= 1");
  if (o.idle_timeout_ms < 1) return Status::invalid("idle_timeout_ms", "must be > 0");
  if (o.wait_timeout_ms < 0) return Status::invalid("wait_timeout_ms", "must be >= 0");
  Result<TokenTable> tokens = TokenTable::make(o.tokens);
  if (!tokens.is_ok()) return tokens.status();
  tokens_.emplace(std::move(tokens.value()));
  beast::error_code ec;
  const net::ip::address address = net::ip::make_address(o.host, ec);
  if (ec) return Status::invalid("host", "not an IP address: " + o.host);

  std::vector<std::string> names;
  for (const Route& route : routes_) names.push_back(std::string(method_name(route.method)) + " " + route.pattern);
  ctx_.http_metrics.set_routes(std::move(names));

  ioc_ = std::make_unique<net::io_context>(o.io_threads);
  acceptor_ = std::make_unique<tcp::acceptor>(net::make_strand(*ioc_));
  const tcp::endpoint endpoint(address, o.port);
  auto io_failure = [&](const char* what) {
    const Status status = Status::error(Status::Code::io_error, std::string(what) + " " + o.host + ":" +
                                                                    std::to_string(o.port) + ": " + ec.message());
    acceptor_.reset();
    ioc_.reset();
    return status;
  };
  if (acceptor_->open(endpoint.protocol(), ec); ec) return io_failure("open");
  if (acceptor_->set_option(net::socket_base::reuse_address(true), ec); ec) return io_failure("setsockopt");
  if (acceptor_->bind(endpoint, ec); ec) return io_failure("bind");
  if (acceptor_->listen(net::socket_base::max_listen_connections, ec); ec) return io_failure("listen");
  port_ = acceptor_->local_endpoint(ec).port();
  if (ec) return io_failure("getsockname");

  blocking_ = std::make_unique<net::thread_pool>(static_cast<std::size_t>(o.blocking_threads));
  started_ = true;
  do_accept();
  threads_.reserve(static_cast<std::size_t>(o.io_threads));
  for (int i = 0; i < o.io_threads; ++i) threads_.emplace_back([this] { ioc_->run(); });
  return Status::ok();
}

void HttpServer::Impl::stop() {
  std::lock_guard lock(lifecycle_mutex_);
  if (!started_ || stopped_) return;
  stopped_ = true;
  ioc_->stop();
  for (std::thread& thread : threads_) thread.join();
  threads_.clear();
  beast::error_code ec;
  acceptor_->close(ec);
  blocking_->join();  // handlers in flight finish; their answers are queued on the stopped io_context
  blocking_.reset();
  acceptor_.reset();
  ioc_.reset();  // destroys the queued handlers and with them the sessions
}

void HttpServer::Impl::do_accept() {
  acceptor_->async_accept(net::make_strand(*ioc_), [this](beast::error_code ec, tcp::socket socket) {
    if (ec == net::error::operation_aborted || !acceptor_->is_open()) return;
    if (!ec) {
      HttpMetrics& m = ctx_.http_metrics;
      if (static_cast<std::size_t>(m.connections_open.load(std::memory_order_relaxed)) >= ctx_.options.connections_max) {
        m.connections_refused.fetch_add(1, std::memory_order_relaxed);
        socket.close(ec);
      } else {
        m.connections_accepted.fetch_add(1, std::memory_order_relaxed);
        std::make_shared<Session>(*this, std::move(socket))->start();
      }
    }
    // Errors such as EMFILE: go on accepting; the next connection may succeed.
    do_accept();
  });
}

ApiResponse HttpServer::Impl::authorize(const Route& route, const RouteTable::Match& match,
                                        std::string_view authorization, const Principal*& principal) const {
  principal = nullptr;
  if (route.auth.kind == RouteAuth::Kind::none) return ApiResponse::json(0, {});
  const std::string_view secret = bearer_secret(authorization);
  principal = secret.empty() ? nullptr : tokens_->find(secret);
  if (principal == nullptr) {
    ApiResponse denied = ApiResponse::error(401, "unauthorized", "a valid bearer token is required");
    denied.headers.emplace_back("WWW-Authenticate", "Bearer");
    return denied;
  }
  bool allowed = true;
  if (route.auth.kind == RouteAuth::Kind::scope) allowed = principal->has_scope(route.auth.scope);
  if (route.auth.kind == RouteAuth::Kind::org) {
    auto it = match.params.find(route.auth.scope);
    allowed = it != match.params.end() && principal->allows_org(it->second);
  }
  if (!allowed) return ApiResponse::error(403, "forbidden", "this token's scopes do not allow this request");
  return ApiResponse::json(0, {});
}

void HttpServer::Impl::handle(const std::shared_ptr<Session>& session, http::request<http::string_body>&& request) {
  ReplyMeta meta;
  meta.started = std::chrono::steady_clock::now();
  meta.version = request.version();
  meta.keep_alive = request.keep_alive();
  meta.head = request.method() == http::verb::head;
  meta.metrics_slot = ctx_.http_metrics.unmatched_slot();
  try {
    const std::string_view target(request.target().data(), request.target().size());
    if (target.empty() || target.front() != '/') {
      return reply(session, ApiResponse::error(400, "bad_target", "the request target must be an absolute path"), meta);
    }
    const std::size_t question = target.find('?');
    const std::string_view path = target.substr(0, question);
    const std::string_view query = question == std::string_view::npos ? std::string_view{} : target.substr(question + 1);
    const std::optional<HttpMethod> method = to_method(request.method());
    // An unknown verb matches no route: 405 if the path exists, else 404.
    RouteTable::Match match = table_.match(method.value_or(HttpMethod::patch), path);
    if (!method && match.kind == RouteTable::Match::Kind::found) match.kind = RouteTable::Match::Kind::wrong_method;
    switch (match.kind) {
      case RouteTable::Match::Kind::no_route:
        return reply(session, ApiResponse::error(404, "not_found", "no such route"), meta);
      case RouteTable::Match::Kind::bad_path:
        return reply(session, ApiResponse::error(400, "bad_path", match.error.message(), "path"), meta);
      case RouteTable::Match::Kind::wrong_method: {
        ApiResponse response = ApiResponse::error(405, "method_not_allowed", "this route does not take that method");
        std::string allow;
        for (HttpMethod m : match.allowed) allow += std::string(allow.empty() ? "" : ", ") + method_name(m);
        response.headers.emplace_back("Allow", allow);
        return reply(session, std::move(response), meta);
      }
      case RouteTable::Match::Kind::found: break;
    }
    const Route& route = routes_[match.index];
    meta.metrics_slot = match.index;
    const auto authorization = request[http::field::authorization];
    const Principal* principal = nullptr;
    ApiResponse denied = authorize(route, match, std::string_view(authorization.data(), authorization.size()), principal);
    if (denied.status != 0) return reply(session, std::move(denied), meta);

    Result<std::vector<std::pair<std::string, std::string>>> pairs = parse_query(query);
    if (!pairs.is_ok()) {
      return reply(session, ApiResponse::error(400, "bad_query", pairs.status().message(), "query"), meta);
    }
    ApiRequest api;
    api.method = *method;
    api.path = std::string(path);
    api.route = route.pattern;
    api.path_params = std::move(match.params);
    api.query = std::move(pairs.value());
    api.principal = principal;
    for (const auto& field : request) {
      std::string name(field.name_string());
      for (char& c : name) c = (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
      api.headers.emplace_back(std::move(name), std::string(field.value()));
    }
    api.body = std::move(request.body());

    if (!route.blocking) {
      return reply(session, route.handler(api), meta);
    }
    net::post(*blocking_, [this, session, &route, api = std::move(api), meta]() {
      ApiResponse response;
      try {
        response = route.handler(api);
      } catch (const std::exception& e) {
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

void HttpServer::Impl::reply(const std::shared_ptr<Session>& session, ApiResponse&& response, const ReplyMeta& meta) {
  if (response.status < 100 || response.status > 599) {
    response = ApiResponse::error(500, "internal", "the handler returned no valid status");
  }
  const auto elapsed = std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now() - meta.started);
  ctx_.http_metrics.count(meta.metrics_slot, response.status, elapsed.count());
  session->write(std::move(response), meta);
}

HttpServer::HttpServer(HttpServerOptions options, ViewReader& views, LogWriter& log, WaitApplied wait_applied,
                       MetricsSource metrics)
    : impl_(std::make_unique<Impl>(std::move(options), views, log, std::move(wait_applied), std::move(metrics))) {}

HttpServer::~HttpServer() = default;

Status HttpServer::add_route(Route route) { return impl_->add_route(std::move(route)); }
Status HttpServer::start() { return impl_->start(); }
uint16_t HttpServer::port() const { return impl_->port(); }
void HttpServer::stop() { impl_->stop(); }

ApiResponse HttpServer::submit_events(const std::vector<std::string>& canonical_json, const ApiRequest& request) {
  try {
    return api::submit_events(impl_->context(), canonical_json, request);
  } catch (const std::exception& e) {
    return ApiResponse::error(500, "internal", std::string("ingest failed: ") + e.what());
  }
}

}  // namespace tally::api
