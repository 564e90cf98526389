// One HTTP/1.1 connection of the server: read the headers, let the server admit the request on
// them, read the body only if admitted (with its own deadline), run it, write, keep alive.
// Internal to api/. Every member function runs on the connection's strand.
//
// A connection lives as long as an operation or a pending handler holds it (shared_ptr); it
// counts itself in connections_open and, through release_client(), in its client's connections.
#pragma once

#include <cstddef>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include "api/session_host.h"

namespace tally::api {

class Session : public std::enable_shared_from_this<Session> {
 public:
  // `client` has been claimed for this connection; the destructor releases it.
  Session(SessionHost& server, boost::asio::ip::tcp::socket&& socket, boost::asio::ip::address client);
  ~Session();

  void start();
  auto executor() { return stream_.get_executor(); }

  // Sends `response`; then reads the next request, or closes.
  void write(ApiResponse&& response, const ReplyMeta& meta);

 private:
  void read_header();
  void on_header(boost::beast::error_code ec, std::size_t);
  void on_continue(boost::beast::error_code ec, std::size_t);
  void read_body();
  void on_body_timeout();
  void on_read(boost::beast::error_code ec, std::size_t);
  void on_read_error(boost::beast::error_code ec);
  // Answers an error that ends the connection (the stream may be mid-request).
  void fail(int status, std::string_view code, std::string message);
  void on_write(boost::beast::error_code ec, std::size_t);
  void drain();
  void on_drain(boost::beast::error_code ec, std::size_t bytes);
  void close();

  SessionHost& server_;
  boost::asio::ip::address client_;
  boost::beast::tcp_stream stream_;
  boost::beast::flat_buffer buffer_;
  std::optional<beast_http::request_parser<beast_http::string_body>> parser_;
  Admission admission_;
  beast_http::response<beast_http::string_body> response_;
  beast_http::response<beast_http::empty_body> continue_;
  boost::asio::steady_timer body_timer_;
  bool reading_body_ = false;
  bool body_timed_out_ = false;
  bool close_after_write_ = false;
  std::vector<char> drain_buffer_;
  std::size_t drained_ = 0;
};

}  // namespace tally::api
