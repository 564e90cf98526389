#include "api/auth.h"

#include <algorithm>

#include "api/authorization.h"

namespace tally::api {

bool constant_time_equal(std::string_view a, std::string_view b) {
  // Loop over b's length whatever a holds; fold the size difference into the result.
  unsigned difference = a.size() == b.size() ? 0u : 1u;
  for (std::size_t i = 0; i < b.size(); ++i) {
    const auto x = static_cast<unsigned char>(i < a.size() ? a[i] : 0);
    const auto y = static_cast<unsigned char>(b[i]);
    difference |= static_cast<unsigned>(x ^ y);
  }
  // Keep the compiler from turning the loop into an early-exit comparison.
  asm volatile("" : "+r"(difference));
  return difference == 0;
}

std::string_view bearer_secret(std::string_view authorization) {
  constexpr std::string_view scheme = "bearer";
  if (authorization.size() <= scheme.size()) return {};
  for (std::size_t i = 0; i < scheme.size(); ++i) {
    char c = authorization[i];
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    if (c != scheme[i]) return {};
  }
  std::string_view rest = authorization.substr(scheme.size());
  if (rest.front() != ' ') return {};
  while (!rest.empty() && rest.front() == ' ') rest.remove_prefix(1);
  while (!rest.empty() && (rest.back() == ' ' || rest.back() == '\t')) rest.remove_suffix(1);
  return rest;
}

Status check_scope(std::string_view scope, std::string_view field) {
  if (role_of(scope).has_value()) return Status::ok();
  if (scope.starts_with("org:")) {
    return Status::invalid(std::string(field),
                           "org scopes are org:<id> or org:<id>:read, the id 1..128 bytes of [A-Za-z0-9._@+-]");
  }
  const bool custom = !scope.empty() && scope.size() <= 64 && std::all_of(scope.begin(), scope.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-';
  });
  if (!custom) {
    return Status::invalid(std::string(field), "scope must be admin, ingest, org:<id>, org:<id>:read or [a-z0-9_-]{1,64}");
  }
  return Status::ok();
}

Result<TokenTable> TokenTable::make(const std::vector<ApiToken>& tokens) {
  if (tokens.size() > http_tokens_max) {
    return Status::invalid("tokens", "more than " + std::to_string(http_tokens_max) + " tokens");
  }
  TokenTable table;
  for (std::size_t i = 0; i < tokens.size(); ++i) {
    const ApiToken& token = tokens[i];
    const std::string field = "tokens[" + std::to_string(i) + "]";
    if (token.secret.size() < http_token_bytes_min || token.secret.size() > http_token_bytes_max) {
      return Status::invalid(field + ".secret", "must be " + std::to_string(http_token_bytes_min) + ".." +
                                                    std::to_string(http_token_bytes_max) + " bytes");
    }
    const bool printable = std::all_of(token.secret.begin(), token.secret.end(), [](char c) { return c > ' ' && c < 0x7f; });
    if (!printable) return Status::invalid(field + ".secret", "must be printable ASCII without spaces");
    if (token.scopes.empty()) return Status::invalid(field + ".scopes", "at least one scope is required");
    for (std::size_t j = 0; j < token.scopes.size(); ++j) {
      Status status = check_scope(token.scopes[j], field + ".scopes[" + std::to_string(j) + "]");
      if (!status.is_ok()) return status;
    }
    for (const Entry& existing : table.entries_) {
      if (existing.secret == token.secret) return Status::invalid(field + ".secret", "the same secret is configured twice");
    }
    table.entries_.push_back(Entry{token.secret, Principal{token.name, token.scopes}});
  }
  return table;
}

const Principal* TokenTable::find(std::string_view secret) const {
  const Principal* found = nullptr;
  for (const Entry& entry : entries_) {
    // No break: every secret is compared, whichever matches.
    const bool equal = constant_time_equal(secret, entry.secret);
    found = equal ? &entry.principal : found;
  }
  return found;
}

Result<ApiToken> parse_api_token(std::string_view spec) {
  const std::size_t first = spec.find(':');
  const std::size_t second = first == std::string_view::npos ? first : spec.find(':', first + 1);
  if (second == std::string_view::npos) {
    return Status::invalid("token", "want name:secret:scope[,scope...]");
  }
  ApiToken token;
  token.name = std::string(spec.substr(0, first));
  token.secret = std::string(spec.substr(first + 1, second - first - 1));
  if (token.name.empty()) return Status::invalid("token.name", "is required");
  std::string_view scopes = spec.substr(second + 1);
  // Scopes may themselves hold ':' ("org:acme"), so split the rest on ',' only.
  while (true) {
    const std::size_t comma = scopes.find(',');
    std::string_view scope = scopes.substr(0, comma);
    Status status = check_scope(scope, "token.scopes");
    if (!status.is_ok()) return status;
    token.scopes.emplace_back(scope);
    if (comma == std::string_view::npos) break;
    scopes.remove_prefix(comma + 1);
  }
  if (token.secret.size() < http_token_bytes_min || token.secret.size() > http_token_bytes_max) {
    return Status::invalid("token.secret", "must be " + std::to_string(http_token_bytes_min) + ".." +
                                               std::to_string(http_token_bytes_max) + " bytes");
  }
  return token;
}

}  // namespace tally::api
