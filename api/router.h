// Route matching and the decoding of request targets. Pure; thread-safe after construction.
#pragma once

#include <cstddef>
#include <map>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "api/http_types.h"
#include "engine/status.h"

namespace tally::api {

inline constexpr std::size_t route_segments_max = 16;
inline constexpr std::size_t query_pairs_max = 64;

// Percent-decodes `text` ("%2F" -> "/"; with plus_as_space, "+" -> " " as in query strings).
// Errors: invalid_argument (field `field`) on a '%' not followed by two hex digits, or on a
// decoded NUL byte.
Result<std::string> percent_decode(std::string_view text, bool plus_as_space, std::string_view field);

// Splits and decodes "a=1&b=x%20y" into pairs, in order; "a" alone is ("a", "").
// Errors: invalid_argument (field "query") on bad encoding or more than query_pairs_max pairs.
Result<std::vector<std::pair<std::string, std::string>>> parse_query(std::string_view query);

class RouteTable {
 public:
  // Adds method + pattern and returns its index (0, 1, ... in the order added).
  // Errors: invalid_argument (field "pattern"): not starting with '/', empty segment, bad `{name}`,
  // duplicate parameter name, too many segments, the same method and pattern twice.
  Result<std::size_t> add(HttpMethod method, std::string_view pattern);

  struct Match {
    enum class Kind { found, no_route, wrong_method, bad_path } kind = Kind::no_route;
    std::size_t index = 0;                                    // found
    std::map<std::string, std::string, std::less<>> params;   // found: decoded
    std::vector<HttpMethod> allowed;                          // wrong_method: for the Allow header
    Status error;                                             // bad_path
  };
  // Matches a raw path (no query). Among matching patterns a literal segment beats a parameter at
  // the first place they differ. HEAD matches a GET route when no HEAD route is registered.
  Match match(HttpMethod method, std::string_view raw_path) const;

  const std::string& pattern(std::size_t index) const { return entries_[index].pattern; }

 private:
  struct Segment {
    bool is_param = false;
    std::string text;  // literal text or parameter name
  };
  struct Entry {
    HttpMethod method;
    std::string pattern;
    std::vector<Segment> segments;
  };
  std::vector<Entry> entries_;
};

}  // namespace tally::api
