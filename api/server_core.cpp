// The Beast/Asio shell of the API: accept (with connection caps), admit a request on its headers
// (route, auth, limits), run the handler (inline or on the blocking pool), answer. One connection
// is api/http_session.cpp.
#include "api/server_core.h"

#include <cassert>

#include <boost/asio/post.hpp>
#include <boost/asio/strand.hpp>
#include <boost/beast/core.hpp>

#include "api/http_session.h"
#include "api/routes.h"

namespace tally::api {

namespace http = beast_http;

namespace {

constexpr std::size_t body_bytes_limit_max = std::size_t{64} << 20;

// Answers a connection over a cap and closes it, without ever blocking the acceptor: the answer
// is small enough for a fresh socket's empty send buffer. What the client already sent is read
// first, so that closing sends a FIN the client can read the answer before, not a reset.
void refuse(tcp::socket& socket, int status, std::string_view code, std::string_view message) {
  const ApiResponse answer = ApiResponse::error(status, code, message);
  const std::string text = "HTTP/1.1 " + std::to_string(status) + " " +
                           std::string(http::obsolete_reason(static_cast<http::status>(status))) +
                           "\r\nServer: tally\r\nContent-Type: application/json\r\nContent-Length: " +
                           std::to_string(answer.body.size()) + "\r\nConnection: close\r\n\r\n" + answer.body;
  beast::error_code ec;
  socket.non_blocking(true, ec);
  char scratch[4096];
  socket.read_some(net::buffer(scratch), ec);
  socket.write_some(net::buffer(text), ec);
  socket.shutdown(tcp::socket::shutdown_both, ec);
  socket.close(ec);
}

}  // namespace

ServerCore::ServerCore(HttpServerOptions options, ViewReader& views, LogWriter& log, WaitOutcome wait,
                       MetricsSource metrics)
    : ctx_(std::move(options), views, log, std::move(wait), std::move(metrics)) {
  for (auto group : {ops_routes(ctx_), openapi_routes(ctx_), read_routes(ctx_), command_routes(ctx_), event_routes(ctx_),
                     reject_routes(ctx_), commerce_routes(ctx_), workspace_routes(ctx_), hold_routes(ctx_),
                     grant_routes(ctx_), billing_routes(ctx_)}) {
    for (Route& route : group) {
      Status status = add_route(std::move(route));
      assert(status.is_ok() && "built-in routes are valid");
    }
  }
}

Status ServerCore::add_route(Route route) {
  std::lock_guard lock(lifecycle_mutex_);
  if (started_) return Status::invalid("route", "routes must be added before start()");
  if (!route.handler) return Status::invalid("handler", "is empty");
  const RouteAuth& auth = route.auth;
  if (auth.kind == RouteAuth::Kind::scope && !check_scope(auth.scope, "auth.scope").is_ok()) {
    return Status::invalid("auth.scope", "must be admin, ingest, org:<id>, org:<id>:read or [a-z0-9_-]{1,64}");
  }
  const bool org_route = auth.kind == RouteAuth::Kind::org_read || auth.kind == RouteAuth::Kind::org_command ||
                         auth.kind == RouteAuth::Kind::org_hold;
  if (org_route && route.pattern.find("{" + auth.param + "}") == std::string::npos) {
    return Status::invalid("auth.param", "the pattern has no parameter {" + auth.param + "}");
  }
  if (auth.kind == RouteAuth::Kind::bearer_secret &&
      (auth.secret.size() < http_token_bytes_min || auth.secret.size() > http_token_bytes_max)) {
    return Status::invalid("auth.secret", "must be " + std::to_string(http_token_bytes_min) + ".." +
                                              std::to_string(http_token_bytes_max) + " bytes");
  }
  Result<std::size_t> index = table_.add(route.method, route.pattern);
  if (!index.is_ok()) return index.status();
  assert(index.value() == routes_.size());
  routes_.push_back(std::move(route));
  return Status::ok();
}

std::vector<RouteSummary> ServerCore::routes() const {
  std::lock_guard lock(lifecycle_mutex_);
  std::vector<RouteSummary> out;
  for (const Route& route : routes_) out.push_back({route.method, route.pattern, route.auth.kind});
  return out;
}

Status ServerCore::start() {
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
  if (o.connections_per_client_max < 1 || o.connections_per_client_max > o.connections_max) {
    return Status::invalid("connections_per_client_max", "must be 1..connections_max");
  }
  if (o.idle_timeout_ms < 1) return Status::invalid("idle_timeout_ms", "must be > 0");
  if (o.body_timeout_ms < 1) return Status::invalid("body_timeout_ms", "must be > 0");
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

void ServerCore::stop() {
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

void ServerCore::do_accept() {
  acceptor_->async_accept(net::make_strand(*ioc_), [this](beast::error_code ec, tcp::socket socket) {
    if (ec == net::error::operation_aborted || !acceptor_->is_open()) return;
    if (!ec) on_accept(std::move(socket));
    // Errors such as EMFILE: go on accepting; the next connection may succeed.
    do_accept();
  });
}

void ServerCore::on_accept(tcp::socket socket) {
  HttpMetrics& m = ctx_.http_metrics;
  const HttpServerOptions& o = ctx_.options;
  beast::error_code ec;
  const tcp::endpoint peer = socket.remote_endpoint(ec);
  if (ec) return;  // gone already; the socket closes here
  if (static_cast<std::size_t>(m.connections_open.load(std::memory_order_relaxed)) >= o.connections_max) {
    m.connections_refused.fetch_add(1, std::memory_order_relaxed);
    return refuse(socket, 503, "too_many_connections",
                  "the server has its limit of " + std::to_string(o.connections_max) + " connections open; retry later");
  }
  if (!claim_client(peer.address())) {
    m.connections_refused_client.fetch_add(1, std::memory_order_relaxed);
    return refuse(socket, 429, "too_many_connections_from_client",
                  "this client address has its limit of " + std::to_string(o.connections_per_client_max) +
                      " connections open; reuse them (keep-alive) or close some");
  }
  m.connections_accepted.fetch_add(1, std::memory_order_relaxed);
  std::make_shared<Session>(*this, std::move(socket), peer.address())->start();
}

bool ServerCore::claim_client(const net::ip::address& client) {
  std::lock_guard lock(clients_mutex_);
  std::size_t& open = clients_[client];
  if (open >= ctx_.options.connections_per_client_max) {
    if (open == 0) clients_.erase(client);
    return false;
  }
  ++open;
  return true;
}

void ServerCore::release_client(const net::ip::address& client) {
  std::lock_guard lock(clients_mutex_);
  auto it = clients_.find(client);
  assert(it != clients_.end() && it->second > 0 && "every session claimed its client");
  if (--it->second == 0) clients_.erase(it);
}

}  // namespace tally::api
