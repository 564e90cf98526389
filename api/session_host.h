// What one connection (api/http_session.h) needs of the server it belongs to, and the values they
// pass: a request's admission on its headers, and how its answer is counted. The server
// (api/server_core.h) implements SessionHost; a Session knows only this interface, so the two
// do not include each other. Internal to api/: Beast and Asio types cross this header.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <boost/asio/ip/address.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/http.hpp>

#include "api/http_metrics.h"
#include "api/http_types.h"
#include "api/server_options.h"

namespace tally::api {

// The names api/'s Beast and Asio code uses.
namespace beast = boost::beast;
namespace beast_http = boost::beast::http;
namespace net = boost::asio;
using tcp = boost::asio::ip::tcp;

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

class SessionHost {
 public:
  virtual ~SessionHost() = default;
  virtual const HttpServerOptions& options() const = 0;
  virtual HttpMetrics& metrics() = 0;
  // Route, auth, query and body limits, on the headers alone. On a session's strand.
  virtual Admission admit(const beast_http::request<beast_http::string_body>& header, bool body_follows,
                          std::optional<std::uint64_t> content_length) const = 0;
  // Runs the admitted request's handler and answers through `session`. On the session's strand.
  virtual void handle(const std::shared_ptr<Session>& session, Admission&& admission,
                      beast_http::request<beast_http::string_body>&& request) = 0;
  // Counts a request and sends the answer. On the session's strand.
  virtual void reply(const std::shared_ptr<Session>& session, ApiResponse&& response, const ReplyMeta& meta) = 0;
  // One connection fewer for `client` (a Session's destructor).
  virtual void release_client(const boost::asio::ip::address& client) = 0;
};

}  // namespace tally::api
