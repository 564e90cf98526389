// What the HTTP tests over an ApiStack share (test-only; header-only, as it needs Boost.Test):
// one bearer token per kind of caller, a stack started with one client (or the test stops there),
// the time the server calls now, and the error code and field of an answer.
#pragma once

#include <boost/test/unit_test.hpp>
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include <boost/json.hpp>

#include "api/testing/api_stack.h"

namespace tally::api::testing {

// One token per kind of caller of the role table (SPEC §7). A stack trusts only the tokens its
// options list: a test lists the callers it speaks as.
inline constexpr std::string_view admin_token = "admin-token-0000000000000001";
inline constexpr std::string_view ingest_token = "ingest-token-000000000000001";
inline constexpr std::string_view owner_token = "acme-owner-token-00000000001";   // org:acme
inline constexpr std::string_view reader_token = "acme-reader-token-0000000001";  // org:acme:read
inline constexpr std::string_view globex_token = "globex-owner-token-000000001";  // org:globex

inline ApiToken admin_caller() { return {"admin", std::string(admin_token), {"admin"}}; }
inline ApiToken ingest_caller() { return {"ingest", std::string(ingest_token), {"ingest"}}; }
inline ApiToken owner_caller() { return {"acme-owner", std::string(owner_token), {"org:acme"}}; }
inline ApiToken reader_caller() { return {"acme-reader", std::string(reader_token), {"org:acme:read"}}; }
inline ApiToken globex_caller() { return {"globex-owner", std::string(globex_token), {"org:globex"}}; }

// A test fixture's stack and its client (a base of the fixtures).
struct StackClient {
  std::unique_ptr<ApiStack> stack;
  std::unique_ptr<HttpClient> client;

  // Starts the stack and connects the client; fails the test (REQUIRE) if the stack cannot start.
  void start(const ApiStackOptions& options, std::chrono::milliseconds timeout = std::chrono::seconds(20)) {
    Result<std::unique_ptr<ApiStack>> started = ApiStack::start(options);
    BOOST_REQUIRE_MESSAGE(started.is_ok(), started.status().to_string());
    stack = std::move(started.value());
    client = std::make_unique<HttpClient>(stack->port(), timeout);
  }
};

// Wall-clock milliseconds: what the server stamps on an org token's events.
inline int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// The `error.code` of an answer; "<no error body>" if it has none.
inline std::string code_of(const HttpReply& reply) {
  const boost::json::value v = reply.json();
  if (!v.is_object() || !v.as_object().contains("error")) return "<no error body>";
  return std::string(v.at("error").at("code").as_string());
}

// The `error.field` of an answer (empty if the error names none); "<no error body>" if it has none.
inline std::string field_of(const HttpReply& reply) {
  const boost::json::value v = reply.json();
  if (!v.is_object() || !v.as_object().contains("error")) return "<no error body>";
  const boost::json::object& error = v.at("error").as_object();
  return error.contains("field") ? std::string(error.at("field").as_string()) : std::string();
}

}  // namespace tally::api::testing
