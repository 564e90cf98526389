// Reading fields out of third-party JSON (Stripe events, LiteLLM payloads) with errors that name
// the field by its full path ("data.object.metadata.credits_micros"), so whoever sent the payload
// can tell what to fix (SPEC §10). Internal to ingest/.
//
// Also: the raw text of JSON numbers. Boost.JSON turns every non-integer number into a double;
// money must not go through a double (SPEC §2), so raw_numbers() hands back the digits as sent.
//
// Thread safety: plain values and free functions.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <boost/json/object.hpp>
#include <boost/json/value.hpp>

#include "engine/status.h"

namespace tally::connectors {

// A view of one JSON object plus the path it sits at. Does not own the object: the object must
// outlive the reader.
class FieldReader {
 public:
  FieldReader(const boost::json::object& object, std::string path)
      : object_(&object), path_(std::move(path)) {}

  const boost::json::object& object() const { return *object_; }
  const std::string& path() const { return path_; }
  // "path.key", or "key" at the root.
  std::string field(std::string_view key) const;

  // True if `key` is present and not JSON null.
  bool has(std::string_view key) const;

  // A string member. Errors (invalid_argument, field named): missing or null ("missing"),
  // not a string, empty when `allow_empty` is false.
  Result<std::string> required_string(std::string_view key, bool allow_empty = false) const;
  // nullopt when missing or null; error when present with another type.
  Result<std::optional<std::string>> optional_string(std::string_view key) const;

  // An integer member (a JSON integer; a double with a fraction is refused, never truncated).
  Result<int64_t> required_int64(std::string_view key) const;
  Result<std::optional<int64_t>> optional_int64(std::string_view key) const;
  // Like optional_int64, but a string of decimal digits is also accepted: Stripe metadata values
  // are always strings ("credits_micros": "100000000").
  Result<std::optional<int64_t>> optional_int64_or_digits(std::string_view key) const;

  Result<std::optional<bool>> optional_bool(std::string_view key) const;

  // A nested object. required_object errors when missing, null or not an object.
  Result<FieldReader> required_object(std::string_view key) const;
  Result<std::optional<FieldReader>> optional_object(std::string_view key) const;

 private:
  const boost::json::value* find(std::string_view key) const;
  const boost::json::object* object_;
  std::string path_;
};

// Parses `text` as one JSON document. Errors: invalid_argument with field `field_name` and the
// parser's reason and byte offset.
Result<boost::json::value> parse_json(std::string_view text, std::string_view field_name);

// Strictly parses decimal digits with an optional leading '-' into int64 (no spaces, no '+',
// no leading zeros rule). nullopt on anything else or on overflow.
std::optional<int64_t> parse_int64(std::string_view text);

// The raw text of the numbers that are direct members of each "record" object in `json`: the root
// object (one record), or each object element of a root array (one record per element; non-object
// elements yield an empty map). Keys repeated in an object keep the last value, as Boost.JSON does.
// Errors: invalid_argument when `json` is not valid JSON.
Result<std::vector<std::map<std::string, std::string>>> raw_numbers(std::string_view json);

}  // namespace tally::connectors
