// Strict JSON parsing. See strict_json.h.
#include "engine/strict_json.h"

#include <algorithm>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include <boost/json/basic_parser_impl.hpp>
#include <boost/json/value_stack.hpp>

namespace tally::json_detail {
namespace {

namespace json = boost::json;

class StrictHandler {
 public:
  static constexpr std::size_t max_object_size = json::object::max_size();
  static constexpr std::size_t max_array_size = json::array::max_size();
  static constexpr std::size_t max_key_size = json::string::max_size();
  static constexpr std::size_t max_string_size = json::string::max_size();

  json::value_stack stack;
  bool duplicate = false;      // parsing stopped at a duplicate key …
  std::string duplicate_path;  // … at this path

  bool on_document_begin(json::error_code&) { return true; }
  bool on_document_end(json::error_code&) { return true; }
  bool on_object_begin(json::error_code&) {
    open_.push_back({false, keys_.size(), 0, {}});
    return true;
  }
  bool on_object_end(std::size_t size, json::error_code& ec) {
    const auto first = keys_.begin() + static_cast<std::ptrdiff_t>(open_.back().key_start);
    std::sort(first, keys_.end());
    if (auto repeated = std::adjacent_find(first, keys_.end()); repeated != keys_.end()) {
      duplicate = true;
      duplicate_path = path_to(*repeated);
      ec = json::error::syntax;
      return false;
    }
    keys_.erase(first, keys_.end());
    open_.pop_back();
    stack.push_object(size);
    return value_done();
  }
  bool on_array_begin(json::error_code&) {
    open_.push_back({true, 0, 0, {}});
    return true;
  }
  bool on_array_end(std::size_t size, json::error_code&) {
    open_.pop_back();
    stack.push_array(size);
    return value_done();
  }
  bool on_key_part(json::string_view part, std::size_t, json::error_code&) {
    stack.push_chars(part);
    key_.append(part.data(), part.size());
    return true;
  }
  bool on_key(json::string_view part, std::size_t, json::error_code&) {
    stack.push_key(part);
    key_.append(part.data(), part.size());
    open_.back().key = key_;
    keys_.push_back(std::move(key_));
    key_.clear();
    return true;
  }
  bool on_string_part(json::string_view part, std::size_t, json::error_code&) {
    stack.push_chars(part);
    return true;
  }
  bool on_string(json::string_view part, std::size_t, json::error_code&) {
    stack.push_string(part);
    return value_done();
  }
  bool on_number_part(json::string_view, json::error_code&) { return true; }
  bool on_int64(std::int64_t value, json::string_view, json::error_code&) {
    stack.push_int64(value);
    return value_done();
  }
  bool on_uint64(std::uint64_t value, json::string_view, json::error_code&) {
    stack.push_uint64(value);
    return value_done();
  }
  bool on_double(double value, json::string_view, json::error_code&) {
    stack.push_double(value);
    return value_done();
  }
  bool on_bool(bool value, json::error_code&) {
    stack.push_bool(value);
    return value_done();
  }
  bool on_null(json::error_code&) {
    stack.push_null();
    return value_done();
  }
  bool on_comment_part(json::string_view, json::error_code&) { return true; }
  bool on_comment(json::string_view, json::error_code&) { return true; }

 private:
  struct Container {
    bool is_array;
    std::size_t key_start;  // objects: where this object's keys begin in keys_
    std::size_t elements;   // arrays: elements completed so far = index of the one being read
    std::string key;        // objects: the key whose value is being read
  };

  bool value_done() {
    if (!open_.empty() && open_.back().is_array) ++open_.back().elements;
    return true;
  }

  // The path of `key` in the innermost open object.
  std::string path_to(std::string_view key) const {
    std::string path;
    for (std::size_t i = 0; i + 1 < open_.size(); ++i) {
      if (open_[i].is_array) {
        path += "[" + std::to_string(open_[i].elements) + "]";
      } else {
        if (!path.empty()) path += ".";
        path += open_[i].key;
      }
    }
    if (!path.empty()) path += ".";
    path += key;
    return path;
  }

  std::string key_;                // the key being read, across on_key_part calls
  std::vector<std::string> keys_;  // keys of the open objects, innermost last
  std::vector<Container> open_;    // open objects and arrays, innermost last
};

}  // namespace

Result<json::value> parse_strict(std::string_view text, json::storage_ptr storage, std::size_t depth_max) {
  json::parse_options options;
  options.max_depth = depth_max;
  json::basic_parser<StrictHandler> parser(options);
  parser.handler().stack.reset(std::move(storage));
  json::error_code ec;
  const std::size_t used = parser.write_some(false, text.data(), text.size(), ec);
  if (parser.handler().duplicate) return Status::invalid(parser.handler().duplicate_path, "duplicate key");
  if (ec == json::error::too_deep) {
    return Status::invalid("", "invalid JSON at byte " + std::to_string(used) + ": nested deeper than " +
                                   std::to_string(depth_max) + " levels");
  }
  if (ec) return Status::invalid("", "invalid JSON at byte " + std::to_string(used) + ": " + ec.message());
  if (used < text.size()) {
    return Status::invalid("", "invalid JSON at byte " + std::to_string(used) + ": text after the value");
  }
  return parser.handler().stack.release();
}

}  // namespace tally::json_detail
