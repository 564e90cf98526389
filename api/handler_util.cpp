#include "api/handler_util.h"

#include <charconv>

#include <boost/json/parse.hpp>
#include <boost/json/parse_options.hpp>
#include <boost/json/serialize.hpp>

#include "api/json_body.h"
#include "engine/money.h"
#include "engine/validate.h"

namespace tally::api {
namespace {

constexpr unsigned json_depth_max = 16;  // our bodies are flat; deep nesting is an attack

}  // namespace

void put_money(boost::json::object& object, std::string_view name, int64_t micros) {
  std::string key(name);
  object[key + "_micros"] = micros;
  object[key] = format_credits(micros);
}

std::string to_json_text(const boost::json::object& object) { return boost::json::serialize(object); }

Result<int64_t> parse_int64(std::string_view text, std::string_view field, int64_t min, int64_t max) {
  int64_t value = 0;
  const char* begin = text.data();
  const char* end = text.data() + text.size();
  const auto [ptr, ec] = std::from_chars(begin, end, value);
  if (text.empty() || ec == std::errc::invalid_argument || ptr != end) {
    return Status::invalid(std::string(field), "must be a decimal integer");
  }
  if (ec == std::errc::result_out_of_range || value < min || value > max) {
    return Status::invalid(std::string(field),
                           "must be in " + std::to_string(min) + ".." + std::to_string(max));
  }
  return value;
}

Result<std::optional<int64_t>> query_int64(const ApiRequest& request, std::string_view name, int64_t min,
                                           int64_t max) {
  const std::optional<std::string_view> text = request.query_param(name);
  if (!text) return std::optional<int64_t>();
  Result<int64_t> value = parse_int64(*text, name, min, max);
  if (!value.is_ok()) return value.status();
  return std::optional<int64_t>(value.value());
}

Result<bool> query_wait(const ApiRequest& request) {
  const std::optional<std::string_view> text = request.query_param("wait");
  if (!text) return false;
  if (*text == "1" || *text == "true") return true;
  if (*text == "0" || *text == "false") return false;
  return Status::invalid("wait", "must be 1, true, 0 or false");
}

Result<std::string> org_param(const ApiRequest& request, std::string_view name) {
  const std::string_view org = request.path_param(name);
  if (!is_valid_id(org)) return Status::invalid(std::string(name), "must be 1..128 bytes of [A-Za-z0-9._@+-]");
  return std::string(org);
}

Result<boost::json::object> body_object(const ApiRequest& request, bool empty_is_object) {
  if (request.body.empty() && empty_is_object) return boost::json::object();
  if (std::optional<std::string> repeated = duplicate_key_path(request.body, json_depth_max)) {
    return Status::invalid(*repeated, "appears more than once");
  }
  boost::json::parse_options options;
  options.max_depth = json_depth_max;
  boost::system::error_code ec;
  boost::json::value value = boost::json::parse(request.body, ec, {}, options);
  if (ec) return Status::invalid("body", "not valid JSON: " + ec.message());
  if (!value.is_object()) return Status::invalid("body", "must be a JSON object");
  return std::move(value.as_object());
}

Result<int64_t> member_int64(const boost::json::object& object, std::string_view key, int64_t min, int64_t max,
                             std::optional<int64_t> fallback) {
  const boost::json::value* value = object.if_contains(key);
  if (value == nullptr || value->is_null()) {
    if (fallback) return *fallback;
    return Status::invalid(std::string(key), "is required");
  }
  int64_t number = 0;
  if (value->is_int64()) {
    number = value->as_int64();
  } else if (value->is_uint64()) {
    return Status::invalid(std::string(key), "must be in " + std::to_string(min) + ".." + std::to_string(max));
  } else {
    return Status::invalid(std::string(key), "must be an integer");
  }
  if (number < min || number > max) {
    return Status::invalid(std::string(key), "must be in " + std::to_string(min) + ".." + std::to_string(max));
  }
  return number;
}

Result<bool> member_bool(const boost::json::object& object, std::string_view key, std::optional<bool> fallback) {
  const boost::json::value* value = object.if_contains(key);
  if (value == nullptr || value->is_null()) {
    if (fallback) return *fallback;
    return Status::invalid(std::string(key), "is required");
  }
  if (!value->is_bool()) return Status::invalid(std::string(key), "must be true or false");
  return value->as_bool();
}

Result<std::string> member_string(const boost::json::object& object, std::string_view key, std::size_t bytes_max,
                                  std::optional<std::string> fallback) {
  const boost::json::value* value = object.if_contains(key);
  if (value == nullptr || value->is_null()) {
    if (fallback) return *fallback;
    return Status::invalid(std::string(key), "is required");
  }
  if (!value->is_string()) return Status::invalid(std::string(key), "must be a string");
  const boost::json::string& text = value->as_string();
  if (text.size() > bytes_max) {
    return Status::invalid(std::string(key), "longer than " + std::to_string(bytes_max) + " bytes");
  }
  return std::string(text.data(), text.size());
}

Status no_unknown_members(const boost::json::object& object, std::initializer_list<std::string_view> known) {
  for (const auto& member : object) {
    bool found = false;
    for (std::string_view name : known) found = found || member.key() == name;
    if (!found) return Status::invalid(std::string(member.key()), "unknown field");
  }
  return Status::ok();
}

ApiResponse error_response(const Status& status) {
  switch (status.code()) {
    case Status::Code::invalid_argument: return ApiResponse::error(400, "invalid_argument", status.message(), status.field());
    case Status::Code::not_found: return ApiResponse::error(404, "not_found", status.message(), status.field());
    case Status::Code::conflict: return ApiResponse::error(409, "conflict", status.message(), status.field());
    case Status::Code::too_large: return ApiResponse::error(413, "too_large", status.message(), status.field());
    case Status::Code::unavailable:
    case Status::Code::io_error: return ApiResponse::error(503, "unavailable", status.message());
    default: return ApiResponse::error(500, "internal", status.message());
  }
}

}  // namespace tally::api
