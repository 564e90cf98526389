// The server behind HttpServer (api/http_server.h): routes, lifecycle, accept with connection
// caps (server_core.cpp), admission on the headers and the handlers (http_dispatch.cpp). Each
// connection is an api/http_session.h Session, which sees the server as a SessionHost. Internal to
// api/: Beast and Asio types cross this header.
#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/thread_pool.hpp>

#include "api/api_context.h"
#include "api/auth.h"
#include "api/router.h"
#include "api/session_host.h"

namespace tally::api {

class ServerCore final : public SessionHost {
 public:
  ServerCore(HttpServerOptions options, ViewReader& views, LogWriter& log, WaitOutcome wait, MetricsSource metrics);
  ~ServerCore() override { stop(); }

  // See HttpServer.
  Status add_route(Route route);
  Status start();
  void stop();
  uint16_t port() const { return port_; }
  std::vector<RouteSummary> routes() const;
  ApiContext& context() { return ctx_; }

  // SessionHost
  const HttpServerOptions& options() const override { return ctx_.options; }
  HttpMetrics& metrics() override { return ctx_.http_metrics; }
  Admission admit(const beast_http::request<beast_http::string_body>& header, bool body_follows,
                  std::optional<std::uint64_t> content_length) const override;
  void handle(const std::shared_ptr<Session>& session, Admission&& admission,
              beast_http::request<beast_http::string_body>&& request) override;
  void reply(const std::shared_ptr<Session>& session, ApiResponse&& response, const ReplyMeta& meta) override;
  void release_client(const boost::asio::ip::address& client) override;

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
