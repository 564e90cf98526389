// Fuzz target: raw bytes of one HTTP request, as a client sends them, through what a connection
// does before any handler runs (api/http_session.cpp): Beast's request parser with the server's
// header and body limits, then the server's admission on the headers (route match, bearer token
// and role, query decoding, body size, content type), then the body.
//
// The server is the real one with every built-in route and one token per role. It is started
// (it listens on a loopback port the system picks, which no one connects to) because its token
// table is built at start; requests never go through a socket.
//
// Invariants: a refusal is one of the statuses admission answers, with a JSON error body that
// parses; an admitted request has a route whose pattern matched the path it carries.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstdio>
#include <memory>
#include <string_view>

#include <boost/beast/http.hpp>
#include <boost/json.hpp>

#include "api/server_core.h"
#include "log/log.h"
#include "projections/failing_views.h"
#include "projections/views.h"

namespace {

using namespace tally;
using namespace tally::api;

[[noreturn]] void broken(const char* what, std::string_view detail) {
  std::fprintf(stderr, "http_request_fuzz: %s: %.*s\n", what, static_cast<int>(detail.size()), detail.data());
  std::abort();
}

Status nothing() { return Status::error(Status::Code::unavailable, "no views in the fuzz target"); }

// Admission never reads the views or appends: every call answers unavailable.
class NoLog final : public LogWriter {
 public:
  int32_t partition_count() const override { return 4; }
  Result<std::vector<LogPosition>> append(std::span<const AppendRequest>) override { return nothing(); }
};

ServerCore& server() {
  static FailingViews views(nothing());
  static NoLog log;
  static ServerCore* core = [] {
    HttpServerOptions options;
    options.io_threads = 1;
    options.blocking_threads = 1;
    options.tokens = {{"admin", "admin-secret-0123456789", {"admin"}},
                      {"ingest", "ingest-secret-0123456789", {"ingest"}},
                      {"acme", "acme-secret-0123456789ab", {"org:acme"}},
                      {"acme-read", "acme-read-secret-012345", {"org:acme:read"}}};
    auto* made = new ServerCore(options, views, log, WaitOutcome{}, MetricsSource{});
    const Status started = made->start();
    if (!started.is_ok()) broken("server start", started.to_string());
    return made;
  }();
  return *core;
}

void check_refusal(const ApiResponse& refusal) {
  switch (refusal.status) {
    case 400: case 401: case 403: case 404: case 405: case 413: case 415: break;
    default: broken("refusal status", std::to_string(refusal.status));
  }
  boost::system::error_code ec;
  const boost::json::value body = boost::json::parse(refusal.body, ec);
  if (ec || !body.is_object() || !body.as_object().contains("error")) broken("refusal body", refusal.body);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, std::size_t size) {
  ServerCore& core = server();
  std::string_view in(reinterpret_cast<const char*>(data), size);
  beast_http::request_parser<beast_http::string_body> parser;
  parser.header_limit(static_cast<uint32_t>(core.options().header_bytes_max));
  parser.body_limit(core.options().body_bytes_max);
  beast::error_code ec;
  const std::size_t header = parser.put(net::buffer(in.data(), in.size()), ec);
  if (ec || !parser.is_header_done()) return 0;
  in.remove_prefix(header);

  const auto length = parser.content_length();
  Admission admission = core.admit(parser.get(), !parser.is_done(),
                                   length ? std::optional<std::uint64_t>(*length) : std::nullopt);
  if (admission.refusal) {
    check_refusal(*admission.refusal);
    return 0;
  }
  if (admission.route == nullptr) broken("admitted without a route", admission.path);
  if (admission.path.empty() || admission.path.front() != '/') broken("admitted path", admission.path);
  // The body, as the connection reads it after admission.
  while (!parser.is_done() && !in.empty()) {
    const std::size_t used = parser.put(net::buffer(in.data(), in.size()), ec);
    if (ec == beast_http::error::need_more) ec = {};
    if (ec || used == 0) break;
    in.remove_prefix(used);
  }
  if (!ec && !parser.is_done()) parser.put_eof(ec);
  if (!ec && parser.is_done() && parser.get().body().size() > core.options().body_bytes_max) {
    broken("body over the limit", std::to_string(parser.get().body().size()));
  }
  return 0;
}
