// Test support: a tiny HTTP/1.1 server on 127.0.0.1 (a free port) that hands each request to a
// callback — the platform's webhook endpoint in enforcement tests, a flaky proxy in front of the
// Stripe emulator in recharge tests.
//
// Deliberately small: one accept thread, one request per connection (it answers with
// `Connection: close`), Content-Length bodies only (no chunked requests), `Expect: 100-continue`
// honoured. Not for production use.
// Thread safety: the handler runs on the accept thread, one request at a time.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "engine/status.h"
#include "outbound/http_client.h"

namespace tally::connectors::testing {

inline constexpr std::size_t receiver_request_bytes_max = 1 << 20;
inline constexpr int receiver_socket_timeout_ms = 5'000;

struct ReceivedRequest {
  std::string method;
  std::string target;                // path and query as sent
  std::vector<HttpHeader> headers;   // names lower-cased
  std::string body;
  const std::string* header(std::string_view name) const;  // case-insensitive; nullptr if absent
};

struct ReceiverResponse {
  int status = 200;
  std::string body;
  std::vector<HttpHeader> headers;  // Content-Type defaults to application/json
};

using ReceiverHandler = std::function<ReceiverResponse(const ReceivedRequest&)>;

class HttpReceiver {
 public:
  // Binds 127.0.0.1:0 and starts serving. Errors: io_error (socket calls).
  static Result<std::unique_ptr<HttpReceiver>> start(ReceiverHandler handler);
  ~HttpReceiver();  // stops accepting and joins the thread
  HttpReceiver(const HttpReceiver&) = delete;
  HttpReceiver& operator=(const HttpReceiver&) = delete;

  uint16_t port() const { return port_; }
  // "http://127.0.0.1:<port>" + path.
  std::string url(std::string_view path = "") const;

 private:
  HttpReceiver(int listen_fd, uint16_t port, ReceiverHandler handler);
  void serve();
  void serve_connection(int fd);

  int listen_fd_;
  uint16_t port_;
  ReceiverHandler handler_;
  std::atomic<bool> stopping_{false};
  std::thread thread_;
};

}  // namespace tally::connectors::testing
