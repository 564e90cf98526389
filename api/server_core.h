// The inside of HttpServer, shared by http_server.cpp (routes, lifecycle, accept),
// http_dispatch.cpp (admission on the headers, handlers, answers) and http_session.cpp (one
// connection). Internal to api/: Beast and Asio types cross this header.
#pragma once

#include <chrono>
#include <cstddef>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/beast/http.hpp>

#include "api/api_context.h"
#include "api/auth.h"
#include "api/http_server.h"
#include "api/router.h"

namespace tally::api {

namespace beast_http = boost::beast::http;

class Session;

// What one request is counted and answered with.
struct ReplyMeta {
  unsigned version = 11;
  bool keep_alive = false;
  bool head = false;
  std::size_t metrics_slot = 0;
  std::chrono::steady_clock::time_point started;
};

// The decision taken on a request's headers, before its body is read.
struct Admission {
  std::optional<ApiResponse> refusal;  // set: the answer, and no body is read
  const Route* route = nullptr;
  HttpMethod method = HttpMethod::get;
  std::string path;  // as sent, without the query
  std::map<std::string, std::string, std::less<>> path_params;
  std::vector<std::pair<std::string, std::string>> query;
  const Principal* principal = nullptr;
  ReplyMeta meta;
};

class HttpServer::Impl {
 public:
  Impl(HttpServerOptions options, ViewReader& views, LogWriter& log, WaitApplied wait, MetricsSource metrics);
  ~Impl() { stop(); }

  Status add_route(Route route);
  Status start();
  void stop();
  uint16_t port() const { return port_; }
  std::vector<HttpServer::RouteSummary> routes() const;
  ApiContext& context() { return ctx_; }
  const HttpServerOptions& options() const { return ctx_.options; }
  HttpMetrics& metrics() { return ctx_.http_metrics; }

  // Route, auth, query and body limits, on the headers alone. On a session's strand.
  Admission admit(const beast_http::request<beast_http::string_body>& header, bool body_follows,
                  std::optional<std::uint64_t> content_length) const;
  // Runs the admitted request's handler and answers through `session`. On the session's strand.
  void handle(const std::shared_ptr<Session>& session, Admission&& admission,
              beast_http::request<beast_http::string_body>&& request);
  // Counts a request and sends the answer. On the session's strand.
  void reply(const std::shared_ptr<Session>& session, ApiResponse&& response, const ReplyMeta& meta);
  // One connection fewer for `client` (a Session's destructor).
  void release_client(const boost::asio::ip::address& client);

 private:
  void do_accept();
  void on_accept(boost::asio::ip::tcp::socket socket);
  bool claim_client(const boost::asio::ip::address& client);
  // 0 (admitted, `principal` set unless the route takes no token), 401 or 403.
  ApiResponse authenticate(const Route& route, const std::map<std::string, std::string, std::less<>>& params,
                           std::string_view authorization, const Principal*& principal) const;

  ApiContext ctx_;
  std::vector<Route> routes_;
  RouteTable table_;
  std::optional<TokenTable> tokens_;
  mutable std::mutex lifecycle_mutex_;
  bool started_ = false;
  bool stopped_ = false;
  uint16_t port_ = 0;
  std::mutex clients_mutex_;
  std::map<boost::asio::ip::address, std::size_t> clients_;  // open connections per remote address
  // Created by start(), destroyed by stop() in this order: pool, acceptor, io_context (the last one
  // destroys the sessions still waiting on it).
  std::unique_ptr<boost::asio::io_context> ioc_;
  std::unique_ptr<boost::asio::ip::tcp::acceptor> acceptor_;
  std::unique_ptr<boost::asio::thread_pool> blocking_;
  std::vector<std::thread> threads_;
};

}  // namespace tally::api
