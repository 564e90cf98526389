#include "api/router.h"

#include <algorithm>

namespace tally::api {
namespace {

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

std::vector<std::string_view> split(std::string_view text, char separator) {
  std::vector<std::string_view> out;
  std::size_t start = 0;
  while (true) {
    const std::size_t end = text.find(separator, start);
    if (end == std::string_view::npos) {
      out.push_back(text.substr(start));
      return out;
    }
    out.push_back(text.substr(start, end - start));
    start = end + 1;
  }
}

bool is_param_name(std::string_view name) {
  if (name.empty() || name.size() > 64) return false;
  return std::all_of(name.begin(), name.end(),
                     [](char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_'; });
}

}  // namespace

Result<std::string> percent_decode(std::string_view text, bool plus_as_space, std::string_view field) {
  std::string out;
  out.reserve(text.size());
  for (std::size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (c == '%') {
      if (i + 2 >= text.size()) {
        return Status::invalid(std::string(field), "bad percent-encoding: '%' needs two hex digits");
      }
      const int high = hex_value(text[i + 1]);
      const int low = hex_value(text[i + 2]);
      if (high < 0 || low < 0) {
        return Status::invalid(std::string(field), "bad percent-encoding: '%' needs two hex digits");
      }
      const char decoded = static_cast<char>(high * 16 + low);
      if (decoded == '\0') return Status::invalid(std::string(field), "NUL byte is not allowed");
      out.push_back(decoded);
      i += 2;
    } else if (c == '+' && plus_as_space) {
      out.push_back(' ');
    } else {
      out.push_back(c);
    }
  }
  return out;
}

Result<std::vector<std::pair<std::string, std::string>>> parse_query(std::string_view query) {
  std::vector<std::pair<std::string, std::string>> out;
  if (query.empty()) return out;
  for (std::string_view pair : split(query, '&')) {
    if (pair.empty()) continue;  // "a=1&&b=2" is tolerated, as browsers do
    if (out.size() == query_pairs_max) {
      return Status::invalid("query", "more than " + std::to_string(query_pairs_max) + " parameters");
    }
    const std::size_t equals = pair.find('=');
    const std::string_view raw_name = pair.substr(0, equals);
    const std::string_view raw_value = equals == std::string_view::npos ? std::string_view{} : pair.substr(equals + 1);
    Result<std::string> name = percent_decode(raw_name, true, "query");
    if (!name.is_ok()) return name.status();
    Result<std::string> value = percent_decode(raw_value, true, "query");
    if (!value.is_ok()) return value.status();
    out.emplace_back(std::move(name.value()), std::move(value.value()));
  }
  return out;
}

Result<std::size_t> RouteTable::add(HttpMethod method, std::string_view pattern) {
  if (pattern.empty() || pattern.front() != '/') return Status::invalid("pattern", "must start with '/'");
  Entry entry{method, std::string(pattern), {}};
  const std::vector<std::string_view> parts = split(pattern.substr(1), '/');
  if (parts.size() > route_segments_max) return Status::invalid("pattern", "too many segments");
  for (std::string_view part : parts) {
    if (part.empty()) return Status::invalid("pattern", "empty segment in " + std::string(pattern));
    Segment segment;
    if (part.front() == '{') {
      if (part.back() != '}' || !is_param_name(part.substr(1, part.size() - 2))) {
        return Status::invalid("pattern", "bad parameter " + std::string(part) + " (want {snake_case})");
      }
      segment.is_param = true;
      segment.text = std::string(part.substr(1, part.size() - 2));
      for (const Segment& earlier : entry.segments) {
        if (earlier.is_param && earlier.text == segment.text) {
          return Status::invalid("pattern", "parameter {" + segment.text + "} appears twice");
        }
      }
    } else {
      if (part.find_first_of("{}%?#") != std::string_view::npos) {
        return Status::invalid("pattern", "literal segment " + std::string(part) + " has a reserved character");
      }
      segment.text = std::string(part);
    }
    entry.segments.push_back(std::move(segment));
  }
  for (const Entry& existing : entries_) {
    if (existing.method == method && existing.pattern == entry.pattern) {
      return Status::invalid("pattern", std::string(method_name(method)) + " " + entry.pattern + " is already registered");
    }
  }
  entries_.push_back(std::move(entry));
  return entries_.size() - 1;
}

RouteTable::Match RouteTable::match(HttpMethod method, std::string_view raw_path) const {
  Match result;
  if (raw_path.empty() || raw_path.front() != '/') return result;
  const std::vector<std::string_view> raw_segments = split(raw_path.substr(1), '/');
  if (raw_segments.size() > route_segments_max) return result;
  std::vector<std::string> segments;
  segments.reserve(raw_segments.size());
  for (std::string_view raw : raw_segments) {
    Result<std::string> decoded = percent_decode(raw, false, "path");
    if (!decoded.is_ok()) {
      result.kind = Match::Kind::bad_path;
      result.error = decoded.status();
      return result;
    }
    segments.push_back(std::move(decoded.value()));
  }

  // Score: one bit per segment, literal = 1, compared lexicographically from the first segment.
  auto matches = [&](const Entry& entry, std::vector<bool>& score) {
    if (entry.segments.size() != segments.size()) return false;
    score.assign(segments.size(), false);
    for (std::size_t i = 0; i < segments.size(); ++i) {
      const Segment& s = entry.segments[i];
      if (s.is_param) {
        if (segments[i].empty()) return false;
      } else {
        if (s.text != segments[i]) return false;
        score[i] = true;
      }
    }
    return true;
  };

  const bool head_falls_back = method == HttpMethod::head &&
      std::none_of(entries_.begin(), entries_.end(), [](const Entry& e) { return e.method == HttpMethod::head; });
  const HttpMethod wanted = head_falls_back ? HttpMethod::get : method;
  std::vector<bool> score;
  std::vector<bool> best_score;
  bool found = false;
  bool path_known = false;
  for (std::size_t i = 0; i < entries_.size(); ++i) {
    const Entry& entry = entries_[i];
    if (!matches(entry, score)) continue;
    path_known = true;
    if (entry.method != wanted) {
      if (std::find(result.allowed.begin(), result.allowed.end(), entry.method) == result.allowed.end()) {
        result.allowed.push_back(entry.method);
      }
      continue;
    }
    if (!found || score > best_score) {
      found = true;
      best_score = score;
      result.index = i;
    }
  }
  if (!found) {
    result.kind = path_known ? Match::Kind::wrong_method : Match::Kind::no_route;
    return result;
  }
  // Allowed methods only matter for 405; a found route needs its parameters.
  result.allowed.clear();
  result.kind = Match::Kind::found;
  const Entry& entry = entries_[result.index];
  for (std::size_t i = 0; i < segments.size(); ++i) {
    if (entry.segments[i].is_param) result.params.emplace(entry.segments[i].text, std::move(segments[i]));
  }
  return result;
}

}  // namespace tally::api
