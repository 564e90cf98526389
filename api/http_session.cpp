// Everything a client sends ends in a response or a closed connection, never in a crash: parse
// errors are 400, oversized bodies 413, oversized headers 431, a body too slow 408.
#include "api/http_session.h"

#include <chrono>

#include <boost/asio/dispatch.hpp>
#include <boost/asio/write.hpp>

namespace tally::api {

namespace http = beast_http;

namespace {

// After an error answer on a connection we close, read and drop what the client is still sending
// (up to this much, for this long, through a small buffer) so the kernel does not reset the
// connection before the client has read the answer.
constexpr std::size_t drain_bytes_max = 4 * 1024 * 1024;
constexpr int drain_timeout_ms = 1000;
constexpr std::size_t drain_chunk_bytes = 16 * 1024;

bool safe_header_value(std::string_view text) {
  return text.find_first_of(std::string_view("\r\n\0", 3)) == std::string_view::npos;
}

}  // namespace

Session::Session(SessionHost& server, tcp::socket&& socket, net::ip::address client)
    : server_(server),
      client_(std::move(client)),
      stream_(std::move(socket)),
      buffer_(server.options().header_bytes_max + 64 * 1024),
      body_timer_(stream_.get_executor()) {
  server_.metrics().connections_open.fetch_add(1, std::memory_order_relaxed);
}

Session::~Session() {
  server_.release_client(client_);
  server_.metrics().connections_open.fetch_sub(1, std::memory_order_relaxed);
}

void Session::start() {
  beast::error_code ec;
  stream_.socket().set_option(tcp::no_delay(true), ec);
  net::dispatch(stream_.get_executor(), beast::bind_front_handler(&Session::read_header, shared_from_this()));
}

void Session::write(ApiResponse&& response, const ReplyMeta& meta) {
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

void Session::read_header() {
  parser_.emplace();
  parser_->header_limit(static_cast<uint32_t>(server_.options().header_bytes_max));
  parser_->body_limit(server_.options().body_bytes_max);
  admission_ = {};
  // One deadline for the whole header: a client that sends nothing, or a byte now and then, is
  // closed when it passes (the stream closes the socket).
  stream_.expires_after(std::chrono::milliseconds(server_.options().idle_timeout_ms));
  http::async_read_header(stream_, buffer_, *parser_, beast::bind_front_handler(&Session::on_header, shared_from_this()));
}

void Session::on_header(beast::error_code ec, std::size_t) {
  if (ec) return on_read_error(ec);
  const bool body_follows = !parser_->is_done();
  const auto length = parser_->content_length();
  admission_ = server_.admit(parser_->get(), body_follows, length ? std::optional<std::uint64_t>(*length) : std::nullopt);
  if (admission_.refusal) {
    // Refused on the headers: not a byte of the body is read or kept. The connection can carry
    // another request only if this one announced no body.
    close_after_write_ = close_after_write_ || body_follows;
    return server_.reply(shared_from_this(), std::move(*admission_.refusal), admission_.meta);
  }
  const auto& request = parser_->get();
  if (body_follows && beast::iequals(request[http::field::expect], "100-continue")) {
    continue_ = {};
    continue_.version(request.version());
    continue_.result(http::status::continue_);
    stream_.expires_after(std::chrono::milliseconds(server_.options().idle_timeout_ms));
    http::async_write(stream_, continue_, beast::bind_front_handler(&Session::on_continue, shared_from_this()));
    return;
  }
  read_body();
}

void Session::on_continue(beast::error_code ec, std::size_t) {
  if (ec) return close();
  read_body();
}

void Session::read_body() {
  if (parser_->is_done()) return on_read({}, 0);
  // The stream's own deadline would close the socket; this timer cancels the read instead, so
  // the client still gets its 408.
  stream_.expires_never();
  reading_body_ = true;
  body_timer_.expires_after(std::chrono::milliseconds(server_.options().body_timeout_ms));
  body_timer_.async_wait([self = shared_from_this()](beast::error_code ec) {
    if (!ec) self->on_body_timeout();
  });
  http::async_read(stream_, buffer_, *parser_, beast::bind_front_handler(&Session::on_read, shared_from_this()));
}

void Session::on_body_timeout() {
  if (!reading_body_) return;  // the body arrived first
  body_timed_out_ = true;
  beast::error_code ec;
  stream_.socket().cancel(ec);
}

void Session::on_read(beast::error_code ec, std::size_t) {
  reading_body_ = false;
  body_timer_.cancel();
  if (ec && body_timed_out_) {
    return fail(408, "body_timeout",
                "the request body did not arrive within " + std::to_string(server_.options().body_timeout_ms) + " ms");
  }
  if (ec) return on_read_error(ec);
  server_.handle(shared_from_this(), std::move(admission_), parser_->release());
}

void Session::on_read_error(beast::error_code ec) {
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

void Session::fail(int status, std::string_view code, std::string message) {
  close_after_write_ = true;
  ReplyMeta meta;
  meta.version = 11;
  meta.keep_alive = false;
  meta.metrics_slot = admission_.route != nullptr ? admission_.meta.metrics_slot : server_.metrics().unmatched_slot();
  meta.started = std::chrono::steady_clock::now();
  server_.reply(shared_from_this(), ApiResponse::error(status, code, message), meta);
}

void Session::on_write(beast::error_code ec, std::size_t) {
  if (ec) return close();
  if (close_after_write_) return drain();
  read_header();
}

void Session::drain() {
  // What this connection holds while draining is the drain buffer alone.
  parser_.reset();
  buffer_.consume(buffer_.size());
  buffer_.shrink_to_fit();
  beast::error_code ec;
  stream_.socket().shutdown(tcp::socket::shutdown_send, ec);
  if (ec) return close();
  stream_.expires_after(std::chrono::milliseconds(drain_timeout_ms));
  drain_buffer_.resize(drain_chunk_bytes);
  stream_.async_read_some(net::buffer(drain_buffer_), beast::bind_front_handler(&Session::on_drain, shared_from_this()));
}

void Session::on_drain(beast::error_code ec, std::size_t bytes) {
  drained_ += bytes;
  if (ec || drained_ > drain_bytes_max) return close();
  stream_.async_read_some(net::buffer(drain_buffer_), beast::bind_front_handler(&Session::on_drain, shared_from_this()));
}

void Session::close() {
  beast::error_code ec;
  stream_.socket().shutdown(tcp::socket::shutdown_both, ec);
  stream_.close();
}

}  // namespace tally::api
