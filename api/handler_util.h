// Small helpers of the built-in handlers: strict parsing of query parameters and JSON bodies (every
// failure names the field), money in JSON, errors as responses. Internal to api/. Pure.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include <boost/json/object.hpp>

#include "api/http_types.h"
#include "engine/money.h"
#include "engine/status.h"

namespace tally::api {

// Adds "<name>_micros": micros and "<name>": "12.500000" (credits, exact).
void put_money(boost::json::object& object, std::string_view name, int64_t micros);
inline void put_money(boost::json::object& object, std::string_view name, Micros amount) {
  put_money(object, name, amount.value());
}

std::string to_json_text(const boost::json::object& object);

// A decimal integer (optional '-', digits only, no spaces or '+') within [min, max].
Result<int64_t> parse_int64(std::string_view text, std::string_view field, int64_t min, int64_t max);

// Query parameter `name` as an integer in [min, max], or nullopt if absent.
Result<std::optional<int64_t>> query_int64(const ApiRequest& request, std::string_view name, int64_t min,
                                           int64_t max);

// ?wait=1|true|0|false (absent: false).
Result<bool> query_wait(const ApiRequest& request);

// The validated {org} path parameter. Errors: invalid_argument, field "org".
Result<std::string> org_param(const ApiRequest& request, std::string_view name = "org");

// The request body as one JSON object (an empty body is {} when `empty_is_object`).
// Errors: invalid_argument, field "body" (not JSON, not an object, too deep) or the path of a key
// that appears twice ("appears more than once": the last one does not silently win).
Result<boost::json::object> body_object(const ApiRequest& request, bool empty_is_object = false);

// Reads an integer member in [min, max]; absent -> `fallback` (nullopt fallback = required).
Result<int64_t> member_int64(const boost::json::object& object, std::string_view key, int64_t min, int64_t max,
                             std::optional<int64_t> fallback);
Result<bool> member_bool(const boost::json::object& object, std::string_view key, std::optional<bool> fallback);
Result<std::string> member_string(const boost::json::object& object, std::string_view key, std::size_t bytes_max,
                                  std::optional<std::string> fallback);
// invalid_argument naming the first member of `object` not in `known`.
Status no_unknown_members(const boost::json::object& object, std::initializer_list<std::string_view> known);

// 400 invalid_argument (with the field), 404 not_found, 409 conflict, 413 too_large,
// 503 unavailable/io_error, 500 otherwise.
ApiResponse error_response(const Status& status);

}  // namespace tally::api
