#include "api/testing/api_stack.h"

#include <stdlib.h>

#include <filesystem>
#include <mutex>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/json/parse.hpp>

#include "api/projector_metrics.h"

namespace tally::api::testing {

namespace beast = boost::beast;
namespace http = beast::http;
namespace net = boost::asio;
using tcp = net::ip::tcp;

Result<std::unique_ptr<ApiStack>> ApiStack::start(const ApiStackOptions& options) {
  std::unique_ptr<ApiStack> stack(new ApiStack());
  std::string pattern = (std::filesystem::temp_directory_path() / "tally-api-XXXXXX").string();
  if (mkdtemp(pattern.data()) == nullptr) return Status::error(Status::Code::io_error, "mkdtemp failed");
  stack->dir_ = pattern;

  Result<std::unique_ptr<Journal>> journal =
      Journal::open(stack->dir_ + "/journal", journal_options(options.partitions, 1));
  if (!journal.is_ok()) return journal.status();
  stack->journal_ = std::move(journal.value());
  Result<std::unique_ptr<LogWriter>> writer = stack->journal_->writer(journal_events_topic);
  if (!writer.is_ok()) return writer.status();
  stack->writer_ = std::move(writer.value());
  Result<std::unique_ptr<LogReader>> reader = stack->journal_->reader(journal_events_topic);
  if (!reader.is_ok()) return reader.status();
  stack->reader_ = std::move(reader.value());
  Result<std::unique_ptr<LogReader>> end_reader = stack->journal_->reader(journal_events_topic);
  if (!end_reader.is_ok()) return end_reader.status();
  stack->end_reader_ = std::move(end_reader.value());

  if (options.before_projector) options.before_projector(stack->dir_ + "/journal", *stack->writer_);

  ProjectorOptions projector_options;
  projector_options.poll_timeout_ms = 20;
  projector_options.batch_time_max_ms = 5;
  projector_options.map_size_bytes = std::size_t{64} << 20;
  Result<std::unique_ptr<Projector>> projector = Projector::open(stack->dir_ + "/views", projector_options);
  if (!projector.is_ok()) return projector.status();
  stack->projector_ = std::move(projector.value());
  if (Status status = stack->projector_->start(*stack->reader_); !status.is_ok()) return status;
  Result<std::unique_ptr<ViewReader>> views = ViewReader::open(stack->dir_ + "/views");
  if (!views.is_ok()) return views.status();
  stack->views_ = std::move(views.value());

  ApiStack* self = stack.get();
  self->projector_thread_ = std::thread([self] {
    Status status = self->projector_->run(*self->reader_, self->stop_);
    if (!status.is_ok()) {
      std::lock_guard lock(self->error_mutex_);
      self->projector_error_ = status.to_string();
    }
  });

  HttpServerOptions server_options;
  server_options.tokens = options.tokens;
  server_options.io_threads = options.io_threads;
  server_options.blocking_threads = options.blocking_threads;
  server_options.wait_timeout_ms = options.wait_timeout_ms;
  server_options.body_bytes_max = options.body_bytes_max;
  server_options.connections_max = options.connections_max;
  server_options.connections_per_client_max = options.connections_per_client_max;
  server_options.idle_timeout_ms = options.idle_timeout_ms;
  server_options.body_timeout_ms = options.body_timeout_ms;
  server_options.commerce = options.commerce;
  server_options.billing_link_secret = options.billing_link_secret;
  MetricsSource metrics;
  metrics.log_end_offset = [self](PartitionId partition) -> Result<Offset> {
    std::lock_guard lock(self->end_mutex_);
    return self->end_reader_->end_offset(partition);
  };
  metrics.append_prometheus = [self](std::string& out) { append_projector_metrics(self->projector_->metrics(), out); };
  self->server_ = std::make_unique<HttpServer>(
      server_options, *self->views_, *self->writer_,
      [self](LogPosition position, int timeout_ms) { return self->projector_->wait_for_outcome(position, timeout_ms); },
      metrics);
  if (options.before_start) options.before_start(*self->server_);
  if (Status status = self->server_->start(); !status.is_ok()) return status;
  return stack;
}

ApiStack::~ApiStack() {
  if (server_) server_->stop();
  stop_ = true;
  if (projector_thread_.joinable()) projector_thread_.join();
  server_.reset();
  views_.reset();
  projector_.reset();
  reader_.reset();
  end_reader_.reset();
  writer_.reset();
  journal_.reset();
  if (!dir_.empty()) {
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }
}

std::string ApiStack::projector_error() const {
  std::lock_guard lock(error_mutex_);
  return projector_error_;
}

std::string HttpReply::header(std::string_view name) const {
  for (const auto& [key, value] : headers) {
    if (beast::iequals(key, name)) return value;
  }
  return {};
}

boost::json::value HttpReply::json() const {
  boost::system::error_code ec;
  boost::json::value value = boost::json::parse(body, ec);
  return ec ? boost::json::value() : value;
}

struct HttpClient::Impl {
  uint16_t port;
  std::chrono::milliseconds timeout;
  net::io_context ioc;
  std::optional<beast::tcp_stream> stream;
  beast::flat_buffer buffer;
  int connects = 0;

  bool connect() {
    stream.emplace(ioc);
    buffer.clear();
    beast::error_code result;
    stream->expires_after(timeout);
    stream->async_connect(tcp::endpoint(net::ip::make_address("127.0.0.1"), port),
                          [&](beast::error_code ec) { result = ec; });
    run();
    ++connects;
    return !result;
  }

  void run() {
    ioc.restart();
    ioc.run();
  }

  bool write_bytes(std::string_view bytes) {
    beast::error_code result;
    stream->expires_after(timeout);
    net::async_write(*stream, net::buffer(bytes.data(), bytes.size()), [&](beast::error_code ec, std::size_t) { result = ec; });
    run();
    return !result;
  }

  bool write_request(http::request<http::string_body>& request) {
    beast::error_code result;
    stream->expires_after(timeout);
    http::async_write(*stream, request, [&](beast::error_code ec, std::size_t) { result = ec; });
    run();
    return !result;
  }

  HttpReply read_reply(bool head = false) {
    HttpReply reply;
    http::response_parser<http::string_body> parser;
    parser.skip(head);  // the answer to HEAD has a Content-Length but no body
    parser.body_limit(std::size_t{64} << 20);
    beast::error_code result;
    stream->expires_after(timeout);
    http::async_read(*stream, buffer, parser, [&](beast::error_code ec, std::size_t) { result = ec; });
    run();
    if (result) return reply;
    auto& response = parser.get();
    reply.status = static_cast<int>(response.result_int());
    reply.body = response.body();
    reply.keep_alive = response.keep_alive();
    for (const auto& field : response) {
      reply.headers.emplace_back(std::string(field.name_string()), std::string(field.value()));
    }
    return reply;
  }
};

HttpClient::HttpClient(uint16_t port, std::chrono::milliseconds timeout) : impl_(std::make_unique<Impl>()) {
  impl_->port = port;
  impl_->timeout = timeout;
}

HttpClient::~HttpClient() = default;

int HttpClient::connects() const { return impl_->connects; }

HttpReply HttpClient::send(std::string_view method, std::string_view target, std::string_view token,
                           std::string_view body, const std::vector<std::pair<std::string, std::string>>& headers) {
  http::request<http::string_body> request;
  request.method_string(method);
  request.target(target);
  request.version(11);
  request.set(http::field::host, "127.0.0.1");
  if (!token.empty()) request.set(http::field::authorization, "Bearer " + std::string(token));
  for (const auto& [name, value] : headers) request.insert(name, value);
  request.body() = std::string(body);
  if (!body.empty() || method == "POST" || method == "PUT") request.prepare_payload();
  request.keep_alive(true);
  for (int attempt = 0; attempt < 2; ++attempt) {
    // A kept-alive connection the server has closed fails on write or read: reconnect once.
    if (!impl_->stream && !impl_->connect()) return {};
    if (impl_->write_request(request)) {
      HttpReply reply = impl_->read_reply(method == "HEAD");
      if (reply.status != 0) {
        if (!reply.keep_alive) impl_->stream.reset();
        return reply;
      }
    }
    impl_->stream.reset();
  }
  return {};
}

HttpReply HttpClient::raw(std::string_view bytes) {
  impl_->stream.reset();
  if (!impl_->connect()) return {};
  HttpReply reply;
  if (impl_->write_bytes(bytes)) {
    // End of our side: a server waiting for the rest of an incomplete request sees EOF at once.
    beast::error_code ec;
    impl_->stream->socket().shutdown(tcp::socket::shutdown_send, ec);
    reply = impl_->read_reply();
  }
  impl_->stream.reset();
  return reply;
}

struct RawConnection::Impl {
  net::io_context ioc;
  beast::tcp_stream stream{ioc};
  beast::flat_buffer buffer;
  bool connected = false;

  void run() {
    ioc.restart();
    ioc.run();
  }
};

RawConnection::RawConnection(uint16_t port, std::string_view source) : impl_(std::make_unique<Impl>()) {
  beast::error_code ec;
  tcp::socket& socket = impl_->stream.socket();
  socket.open(tcp::v4(), ec);
  if (!ec && !source.empty()) socket.bind(tcp::endpoint(net::ip::make_address(std::string(source)), 0), ec);
  if (ec) return;
  beast::error_code result;
  impl_->stream.expires_after(std::chrono::seconds(10));
  impl_->stream.async_connect(tcp::endpoint(net::ip::make_address("127.0.0.1"), port),
                              [&](beast::error_code e) { result = e; });
  impl_->run();
  impl_->connected = !result;
}

RawConnection::~RawConnection() = default;

bool RawConnection::connected() const { return impl_->connected; }

bool RawConnection::send(std::string_view bytes) {
  beast::error_code result;
  impl_->stream.expires_after(std::chrono::seconds(10));
  net::async_write(impl_->stream, net::buffer(bytes.data(), bytes.size()), [&](beast::error_code e, std::size_t) { result = e; });
  impl_->run();
  return !result;
}

HttpReply RawConnection::read_reply(std::chrono::milliseconds timeout) {
  HttpReply reply;
  http::response_parser<http::string_body> parser;
  parser.body_limit(std::size_t{64} << 20);
  beast::error_code result;
  impl_->stream.expires_after(timeout);
  http::async_read(impl_->stream, impl_->buffer, parser, [&](beast::error_code e, std::size_t) { result = e; });
  impl_->run();
  if (result) return reply;
  reply.status = static_cast<int>(parser.get().result_int());
  reply.body = parser.get().body();
  reply.keep_alive = parser.get().keep_alive();
  for (const auto& field : parser.get()) reply.headers.emplace_back(std::string(field.name_string()), std::string(field.value()));
  return reply;
}

bool RawConnection::closed_by_server(std::chrono::milliseconds timeout) {
  // Whatever else the server sends first is read and dropped.
  char scratch[4096];
  beast::error_code result;
  impl_->stream.expires_after(timeout);
  std::function<void(beast::error_code, std::size_t)> on_read = [&](beast::error_code e, std::size_t) {
    result = e;
    if (!e) impl_->stream.async_read_some(net::buffer(scratch), on_read);
  };
  impl_->stream.async_read_some(net::buffer(scratch), on_read);
  impl_->run();
  // A timeout closes our side instead; only EOF or a reset mean the server closed.
  return result == net::error::eof || result == net::error::connection_reset;
}

bool eventually(const std::function<bool()>& condition, std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (true) {
    if (condition()) return true;
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
}

}  // namespace tally::api::testing
