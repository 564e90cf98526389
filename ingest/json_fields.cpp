#include "ingest/json_fields.h"

#include <charconv>
#include <cmath>
#include <limits>
#include <system_error>

#include <boost/json/basic_parser_impl.hpp>
#include <boost/json/parse.hpp>

namespace tally::connectors {
namespace json = boost::json;

std::string FieldReader::field(std::string_view key) const {
  if (path_.empty()) return std::string(key);
  std::string out = path_;
  out += '.';
  out += key;
  return out;
}

const json::value* FieldReader::find(std::string_view key) const {
  const json::value* value = object_->if_contains(key);
  if (value == nullptr || value->is_null()) return nullptr;
  return value;
}

bool FieldReader::has(std::string_view key) const { return find(key) != nullptr; }

Result<std::string> FieldReader::required_string(std::string_view key, bool allow_empty) const {
  const json::value* value = find(key);
  if (value == nullptr) return Status::invalid(field(key), "missing");
  if (!value->is_string()) return Status::invalid(field(key), "must be a string");
  const json::string& text = value->get_string();
  if (text.empty() && !allow_empty) return Status::invalid(field(key), "must not be empty");
  return std::string(text.data(), text.size());
}

Result<std::optional<std::string>> FieldReader::optional_string(std::string_view key) const {
  const json::value* value = find(key);
  if (value == nullptr) return std::optional<std::string>();
  if (!value->is_string()) return Status::invalid(field(key), "must be a string");
  const json::string& text = value->get_string();
  return std::optional<std::string>(std::string(text.data(), text.size()));
}

namespace {

// A JSON number as int64, refusing fractions and out-of-range values rather than rounding them.
std::optional<int64_t> number_as_int64(const json::value& value) {
  if (value.is_int64()) return value.get_int64();
  if (value.is_uint64()) {
    const uint64_t u = value.get_uint64();
    if (u > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) return std::nullopt;
    return static_cast<int64_t>(u);
  }
  // 1e3 or 100.0 are integers written as doubles; exact up to 2^53, which bounds what we accept.
  if (value.is_double()) {
    const double d = value.get_double();
    constexpr double exact_max = 9007199254740992.0;  // 2^53
    if (!std::isfinite(d) || d != std::floor(d) || std::fabs(d) > exact_max) return std::nullopt;
    return static_cast<int64_t>(d);
  }
  return std::nullopt;
}

}  // namespace

Result<int64_t> FieldReader::required_int64(std::string_view key) const {
  const json::value* value = find(key);
  if (value == nullptr) return Status::invalid(field(key), "missing");
  if (!value->is_number()) return Status::invalid(field(key), "must be an integer");
  const std::optional<int64_t> n = number_as_int64(*value);
  if (!n) return Status::invalid(field(key), "must be an integer within int64");
  return *n;
}

Result<std::optional<int64_t>> FieldReader::optional_int64(std::string_view key) const {
  if (!has(key)) return std::optional<int64_t>();
  Result<int64_t> n = required_int64(key);
  if (!n.is_ok()) return n.status();
  return std::optional<int64_t>(n.value());
}

Result<std::optional<int64_t>> FieldReader::optional_int64_or_digits(std::string_view key) const {
  const json::value* value = find(key);
  if (value == nullptr) return std::optional<int64_t>();
  if (value->is_string()) {
    const json::string& text = value->get_string();
    const std::optional<int64_t> n = parse_int64(std::string_view(text.data(), text.size()));
    if (!n) return Status::invalid(field(key), "must be an integer (decimal digits)");
    return std::optional<int64_t>(*n);
  }
  return optional_int64(key);
}

Result<std::optional<bool>> FieldReader::optional_bool(std::string_view key) const {
  const json::value* value = find(key);
  if (value == nullptr) return std::optional<bool>();
  if (!value->is_bool()) return Status::invalid(field(key), "must be true or false");
  return std::optional<bool>(value->get_bool());
}

Result<FieldReader> FieldReader::required_object(std::string_view key) const {
  const json::value* value = find(key);
  if (value == nullptr) return Status::invalid(field(key), "missing");
  if (!value->is_object()) return Status::invalid(field(key), "must be an object");
  return FieldReader(value->get_object(), field(key));
}

Result<std::optional<FieldReader>> FieldReader::optional_object(std::string_view key) const {
  const json::value* value = find(key);
  if (value == nullptr) return std::optional<FieldReader>();
  if (!value->is_object()) return Status::invalid(field(key), "must be an object");
  return std::optional<FieldReader>(FieldReader(value->get_object(), field(key)));
}

Result<json::value> parse_json(std::string_view text, std::string_view field_name) {
  json::error_code ec;
  json::value value = json::parse(json::string_view(text.data(), text.size()), ec);
  if (ec) {
    return Status::invalid(std::string(field_name), "not valid JSON: " + ec.message());
  }
  return value;
}

std::optional<int64_t> parse_int64(std::string_view text) {
  if (text.empty()) return std::nullopt;
  int64_t out = 0;
  const char* end = text.data() + text.size();
  const auto [ptr, ec] = std::from_chars(text.data(), end, out);
  if (ec != std::errc() || ptr != end) return std::nullopt;
  return out;
}

namespace {

// A Boost.JSON SAX handler that records the text of numbers that are direct members of record
// objects (see raw_numbers()). Only depth and the last key are tracked; nothing else is built.
struct RawNumberHandler {
  static constexpr std::size_t max_array_size = static_cast<std::size_t>(-1);
  static constexpr std::size_t max_object_size = static_cast<std::size_t>(-1);
  static constexpr std::size_t max_string_size = static_cast<std::size_t>(-1);
  static constexpr std::size_t max_key_size = static_cast<std::size_t>(-1);

  std::vector<std::map<std::string, std::string>> records;
  // Depth of containers entered: 1 = the root container.
  int depth = 0;
  // The depth at which record objects live: 1 when the root is an object, 2 when it is an array.
  int record_depth = 0;
  bool in_record = false;
  std::string key;
  std::string number;

  bool at_record_member() const { return in_record && depth == record_depth; }

  bool on_document_begin(json::error_code&) { return true; }
  bool on_document_end(json::error_code&) { return true; }
  bool on_array_begin(json::error_code&) {
    ++depth;
    if (depth == 1) record_depth = 2;
    else if (depth == 2 && record_depth == 2) records.emplace_back();  // non-object element
    return true;
  }
  bool on_array_end(std::size_t, json::error_code&) {
    --depth;
    return true;
  }
  bool on_object_begin(json::error_code&) {
    ++depth;
    if (depth == 1) {
      record_depth = 1;
      records.emplace_back();
      in_record = true;
    } else if (depth == 2 && record_depth == 2) {
      records.emplace_back();
      in_record = true;
    }
    return true;
  }
  bool on_object_end(std::size_t, json::error_code&) {
    if (depth == record_depth) in_record = false;
    --depth;
    return true;
  }
  bool on_string_part(json::string_view, std::size_t, json::error_code&) { return true; }
  bool on_string(json::string_view, std::size_t, json::error_code&) {
    scalar_at_root_array();
    return true;
  }
  bool on_key_part(json::string_view s, std::size_t, json::error_code&) {
    key.append(s.data(), s.size());
    return true;
  }
  bool on_key(json::string_view s, std::size_t, json::error_code&) {
    key.append(s.data(), s.size());
    last_key = std::move(key);
    key.clear();
    return true;
  }
  bool on_number_part(json::string_view s, json::error_code&) {
    number.append(s.data(), s.size());
    return true;
  }
  bool finish_number(json::string_view s) {
    number.append(s.data(), s.size());
    if (at_record_member()) records.back()[last_key] = number;
    scalar_at_root_array();
    number.clear();
    return true;
  }
  bool on_int64(int64_t, json::string_view s, json::error_code&) { return finish_number(s); }
  bool on_uint64(uint64_t, json::string_view s, json::error_code&) { return finish_number(s); }
  bool on_double(double, json::string_view s, json::error_code&) { return finish_number(s); }
  bool on_bool(bool, json::error_code&) {
    scalar_at_root_array();
    return true;
  }
  bool on_null(json::error_code&) {
    scalar_at_root_array();
    return true;
  }
  bool on_comment_part(json::string_view, json::error_code&) { return true; }
  bool on_comment(json::string_view, json::error_code&) { return true; }

  // A scalar element of the root array is a record with no members.
  void scalar_at_root_array() {
    if (record_depth == 2 && depth == 1) records.emplace_back();
  }

  std::string last_key;
};

}  // namespace

Result<std::vector<std::map<std::string, std::string>>> raw_numbers(std::string_view text) {
  json::basic_parser<RawNumberHandler> parser{json::parse_options{}};
  json::error_code ec;
  parser.write_some(false, text.data(), text.size(), ec);
  if (ec) return Status::invalid("body", "not valid JSON: " + ec.message());
  return std::move(parser.handler().records);
}

}  // namespace tally::connectors
