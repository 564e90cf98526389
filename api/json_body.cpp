#include "api/json_body.h"

#include <set>
#include <vector>

#include <boost/json/basic_parser_impl.hpp>

namespace tally::api {
namespace {

namespace json = boost::json;

// A basic_parser handler that builds nothing: it tracks the open containers and the keys seen in
// each open object, and stops at the first repeated key.
class DuplicateFinder {
 public:
  static constexpr std::size_t max_object_size = std::size_t(-1);
  static constexpr std::size_t max_array_size = std::size_t(-1);
  static constexpr std::size_t max_key_size = std::size_t(-1);
  static constexpr std::size_t max_string_size = std::size_t(-1);

  std::optional<std::string> duplicate;

  bool on_document_begin(json::error_code&) { return true; }
  bool on_document_end(json::error_code&) { return true; }
  bool on_object_begin(json::error_code&) {
    open_.push_back(Frame{false, 0, {}, {}});
    return true;
  }
  bool on_object_end(std::size_t, json::error_code&) { return close(); }
  bool on_array_begin(json::error_code&) {
    open_.push_back(Frame{true, 0, {}, {}});
    return true;
  }
  bool on_array_end(std::size_t, json::error_code&) { return close(); }
  bool on_key_part(json::string_view part, std::size_t, json::error_code&) {
    key_.append(part.data(), part.size());
    return true;
  }
  bool on_key(json::string_view part, std::size_t, json::error_code& ec) {
    key_.append(part.data(), part.size());
    Frame& object = open_.back();
    if (!object.keys.insert(key_).second) {
      duplicate = path_to(key_);
      ec = json::error::syntax;  // stop here: the rest does not matter
      return false;
    }
    object.key = std::move(key_);
    key_.clear();
    return true;
  }
  bool on_string_part(json::string_view, std::size_t, json::error_code&) { return true; }
  bool on_string(json::string_view, std::size_t, json::error_code&) { return value_done(); }
  bool on_number_part(json::string_view, json::error_code&) { return true; }
  bool on_int64(std::int64_t, json::string_view, json::error_code&) { return value_done(); }
  bool on_uint64(std::uint64_t, json::string_view, json::error_code&) { return value_done(); }
  bool on_double(double, json::string_view, json::error_code&) { return value_done(); }
  bool on_bool(bool, json::error_code&) { return value_done(); }
  bool on_null(json::error_code&) { return value_done(); }
  bool on_comment_part(json::string_view, json::error_code&) { return true; }
  bool on_comment(json::string_view, json::error_code&) { return true; }

 private:
  struct Frame {
    bool is_array;
    std::size_t elements;        // arrays: elements completed = index of the one being read
    std::string key;             // objects: the key whose value is being read
    std::set<std::string> keys;  // objects: keys seen so far
  };

  bool close() {
    open_.pop_back();
    return value_done();
  }
  bool value_done() {
    if (!open_.empty() && open_.back().is_array) ++open_.back().elements;
    return true;
  }
  std::string path_to(const std::string& key) const {
    std::string path;
    for (std::size_t i = 0; i + 1 < open_.size(); ++i) {
      if (open_[i].is_array) {
        path += "[" + std::to_string(open_[i].elements) + "]";
      } else {
        path += (path.empty() ? "" : ".") + open_[i].key;
      }
    }
    return path + (path.empty() ? "" : ".") + key;
  }

  std::string key_;
  std::vector<Frame> open_;
};

std::string_view trim(std::string_view text) {
  while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) text.remove_prefix(1);
  while (!text.empty() && (text.back() == ' ' || text.back() == '\t')) text.remove_suffix(1);
  return text;
}

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    auto lower = [](char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; };
    if (lower(a[i]) != lower(b[i])) return false;
  }
  return true;
}

}  // namespace

std::optional<std::string> duplicate_key_path(std::string_view text, unsigned depth_max) {
  json::parse_options options;
  options.max_depth = depth_max;
  json::basic_parser<DuplicateFinder> parser(options);
  json::error_code ec;
  parser.write_some(false, text.data(), text.size(), ec);
  return parser.handler().duplicate;
}

bool is_json_content_type(std::string_view content_type) {
  if (trim(content_type).empty()) return true;
  std::size_t semicolon = content_type.find(';');
  if (!iequals(trim(content_type.substr(0, semicolon)), "application/json")) return false;
  while (semicolon != std::string_view::npos) {
    content_type.remove_prefix(semicolon + 1);
    semicolon = content_type.find(';');
    const std::string_view parameter = trim(content_type.substr(0, semicolon));
    const std::size_t equals = parameter.find('=');
    if (equals == std::string_view::npos) continue;
    if (!iequals(trim(parameter.substr(0, equals)), "charset")) continue;
    std::string_view charset = trim(parameter.substr(equals + 1));
    if (charset.size() >= 2 && charset.front() == '"' && charset.back() == '"') charset = charset.substr(1, charset.size() - 2);
    if (!iequals(charset, "utf-8") && !iequals(charset, "utf8")) return false;
  }
  return true;
}

}  // namespace tally::api
