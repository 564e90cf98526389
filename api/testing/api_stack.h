// Test and bench support (not linked into the product): the whole read/write path of one machine
// in one process — an embedded journal, the projector on its own thread, a ViewReader and the
// HttpServer on a free loopback port — plus a small Beast HTTP/1.1 client with timeouts.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include <boost/json/value.hpp>

#include "api/http_server.h"
#include "log/journal.h"
#include "projections/projector.h"
#include "projections/views.h"

namespace tally::api::testing {

struct ApiStackOptions {
  int32_t partitions = 4;
  std::vector<ApiToken> tokens;
  int io_threads = 2;
  int blocking_threads = 4;
  int wait_timeout_ms = 10'000;
  std::size_t body_bytes_max = http_body_bytes_max;
  std::size_t connections_max = http_connections_max;
  std::size_t connections_per_client_max = http_connections_per_client_max;
  int idle_timeout_ms = http_idle_timeout_ms;
  int body_timeout_ms = http_body_timeout_ms;
  // Called after the server is built and before it starts (add_route).
  std::function<void(HttpServer&)> before_start;
  // Called once the journal is open and before the projector reads it, with the journal's
  // directory and its events writer: records written (or damaged) here are folded first.
  std::function<void(const std::string& journal_dir, LogWriter& events)> before_projector;
  // Buying credits (api/testing/fake_payments.h has a provider for tests).
  std::optional<CommerceOptions> commerce;
  // Signs billing page links (POST …/billing-links); empty: none are minted.
  std::string billing_link_secret = "test-billing-link-secret-0123456789";
};

class ApiStack {
 public:
  // Builds and starts everything in a fresh temporary directory.
  // Errors: any open/start failure, with what failed.
  static Result<std::unique_ptr<ApiStack>> start(const ApiStackOptions& options);
  ~ApiStack();  // stops the server, then the projector; removes the directory

  uint16_t port() const { return server_->port(); }
  HttpServer& server() { return *server_; }
  LogWriter& writer() { return *writer_; }
  ViewReader& views() { return *views_; }
  Projector& projector() { return *projector_; }
  const std::string& dir() const { return dir_; }
  // The projector thread's error, if it stopped with one.
  std::string projector_error() const;

 private:
  ApiStack() = default;
  std::string dir_;
  std::unique_ptr<Journal> journal_;
  std::unique_ptr<LogWriter> writer_;
  std::unique_ptr<LogReader> reader_;
  std::unique_ptr<LogReader> end_reader_;  // for consumer lag, under end_mutex_
  std::mutex end_mutex_;
  std::unique_ptr<Projector> projector_;
  std::unique_ptr<ViewReader> views_;
  std::unique_ptr<HttpServer> server_;
  std::atomic<bool> stop_{false};
  std::thread projector_thread_;
  mutable std::mutex error_mutex_;
  std::string projector_error_;
};

struct HttpReply {
  int status = 0;  // 0: no answer (connection closed or timed out)
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;
  bool keep_alive = false;
  std::string header(std::string_view name) const;
  // The body as JSON; null if it is not JSON.
  boost::json::value json() const;
};

// One keep-alive connection to 127.0.0.1:port. Not thread-safe: one client per thread.
class HttpClient {
 public:
  explicit HttpClient(uint16_t port, std::chrono::milliseconds timeout = std::chrono::seconds(20));
  ~HttpClient();

  // Sends one request (reconnecting if the server closed the connection) and reads the answer.
  HttpReply send(std::string_view method, std::string_view target, std::string_view token = {},
                 std::string_view body = {}, const std::vector<std::pair<std::string, std::string>>& headers = {});
  // Sends raw bytes on a fresh connection and reads one answer (status 0 if none came).
  HttpReply raw(std::string_view bytes);
  // Connections opened so far (1 for a kept-alive sequence of requests).
  int connects() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// A raw TCP connection to 127.0.0.1:port, for tests that control exactly what is sent and when
// (headers without their body, nothing at all). Not thread-safe.
class RawConnection {
 public:
  // Connects, from the loopback address `source` (e.g. "127.0.0.2": another client) if given.
  explicit RawConnection(uint16_t port, std::string_view source = {});
  ~RawConnection();
  bool connected() const;
  bool send(std::string_view bytes);
  // Reads one answer; status 0 if none came within `timeout` (or the connection closed first).
  HttpReply read_reply(std::chrono::milliseconds timeout);
  // True if the server closes the connection (or resets it) within `timeout`.
  bool closed_by_server(std::chrono::milliseconds timeout);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// Polls `condition` until it holds or `timeout` passes; returns whether it held. Each poll yields
// briefly: this is a wait on a condition with a deadline, not a sleep standing in for one.
bool eventually(const std::function<bool()>& condition, std::chrono::milliseconds timeout = std::chrono::seconds(10));

}  // namespace tally::api::testing
