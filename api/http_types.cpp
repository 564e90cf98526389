#include "api/http_types.h"

#include <algorithm>
#include <cassert>

#include <boost/json/object.hpp>
#include <boost/json/serialize.hpp>

namespace tally::api {
namespace {

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           auto lower = [](char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; };
           return lower(x) == lower(y);
         });
}

// Error messages may echo client bytes (cut to a length by the codec, maybe mid-character); the
// JSON we send must stay valid UTF-8, so anything that is not becomes '?'.
std::string valid_utf8(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  std::size_t i = 0;
  while (i < text.size()) {
    const auto lead = static_cast<unsigned char>(text[i]);
    std::size_t length = 0;
    if (lead < 0x80) length = 1;
    else if (lead >= 0xC2 && lead <= 0xDF) length = 2;
    else if (lead >= 0xE0 && lead <= 0xEF) length = 3;
    else if (lead >= 0xF0 && lead <= 0xF4) length = 4;
    bool ok = length > 0 && i + length <= text.size();
    for (std::size_t k = 1; ok && k < length; ++k) {
      ok = (static_cast<unsigned char>(text[i + k]) & 0xC0) == 0x80;
    }
    if (ok && length == 3) {  // no overlongs, no surrogates
      const auto second = static_cast<unsigned char>(text[i + 1]);
      ok = !(lead == 0xE0 && second < 0xA0) && !(lead == 0xED && second >= 0xA0);
    }
    if (ok && length == 4) {
      const auto second = static_cast<unsigned char>(text[i + 1]);
      ok = !(lead == 0xF0 && second < 0x90) && !(lead == 0xF4 && second >= 0x90);
    }
    if (!ok) {
      out.push_back('?');
      ++i;
      continue;
    }
    out.append(text.substr(i, length));
    i += length;
  }
  return out;
}

}  // namespace

std::string cut_echo(std::string_view text, std::size_t bytes_max) {
  if (text.size() <= bytes_max) return std::string(text);
  constexpr std::string_view ellipsis = "\u2026";  // 3 bytes: the result stays within bytes_max
  std::size_t cut = bytes_max > ellipsis.size() ? bytes_max - ellipsis.size() : 0;
  while (cut > 0 && (static_cast<unsigned char>(text[cut]) & 0xC0) == 0x80) --cut;
  return std::string(text.substr(0, cut)) + std::string(ellipsis);
}

const char* method_name(HttpMethod method) {
  switch (method) {
    case HttpMethod::get: return "GET";
    case HttpMethod::head: return "HEAD";
    case HttpMethod::post: return "POST";
    case HttpMethod::put: return "PUT";
    case HttpMethod::patch: return "PATCH";
    case HttpMethod::delete_: return "DELETE";
  }
  return "?";
}

std::optional<std::string_view> ApiRequest::header(std::string_view name) const {
  for (const auto& [key, value] : headers) {
    if (iequals(key, name)) return std::string_view(value);
  }
  return std::nullopt;
}

std::optional<std::string_view> ApiRequest::query_param(std::string_view name) const {
  for (auto it = query.rbegin(); it != query.rend(); ++it) {
    if (it->first == name) return std::string_view(it->second);
  }
  return std::nullopt;
}

std::string_view ApiRequest::path_param(std::string_view name) const {
  auto it = path_params.find(name);
  assert(it != path_params.end() && "the route pattern has no such parameter");
  return it->second;
}

ApiResponse ApiResponse::json(int status, std::string body) {
  ApiResponse out;
  out.status = status;
  out.body = std::move(body);
  return out;
}

ApiResponse ApiResponse::error(int status, std::string_view code, std::string_view message, std::string_view field) {
  boost::json::object detail;
  detail["code"] = code;
  detail["message"] = valid_utf8(cut_echo(message, http_error_message_bytes_max));
  if (!field.empty()) detail["field"] = valid_utf8(cut_echo(field));
  boost::json::object body;
  body["error"] = std::move(detail);
  return json(status, boost::json::serialize(body));
}

}  // namespace tally::api
