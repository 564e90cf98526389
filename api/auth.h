// Bearer-token authentication: which Principal a request's Authorization header names.
// Secrets are compared in constant time (no early exit on the first differing byte), and every
// configured token is compared on every lookup, so timing tells nothing about which token or how
// much of one matched. Thread-safe after construction.
#pragma once

#include <string_view>
#include <vector>

#include "api/http_types.h"
#include "api/server_options.h"
#include "engine/status.h"

namespace tally::api {

// Equal bytes, in time that depends only on the sizes.
bool constant_time_equal(std::string_view a, std::string_view b);

// The secret of "Bearer <secret>" (scheme case-insensitive), or empty if the header is anything else.
std::string_view bearer_secret(std::string_view authorization);

class TokenTable {
 public:
  // Errors: invalid_argument naming "tokens[i].secret" / "tokens[i].scopes[j]" (too short or long,
  // duplicate secret, a bad scope), or "tokens" (more than http_tokens_max).
  static Result<TokenTable> make(const std::vector<ApiToken>& tokens);

  // The principal whose secret equals `secret`, or nullptr.
  const Principal* find(std::string_view secret) const;

 private:
  struct Entry {
    std::string secret;
    Principal principal;
  };
  std::vector<Entry> entries_;
};

// Checks one scope string: "admin", "ingest", "org:<org id>", "org:<org id>:read" (see
// api/authorization.h), or a custom [a-z0-9_-]{1,64}.
Status check_scope(std::string_view scope, std::string_view field);

}  // namespace tally::api
