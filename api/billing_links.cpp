#include "api/billing_links.h"

#include <cassert>

#include "api/handler_util.h"
#include "crypto/hmac.h"
#include "engine/validate.h"

namespace tally::api {
namespace {

constexpr std::string_view link_version = "v1";
constexpr std::size_t link_token_bytes_max = 128;

std::string_view scope_name(LinkScope scope) { return scope == LinkScope::owner ? "owner" : "read"; }

std::string link_signature(std::string_view secret, std::string_view org, std::string_view scope, int64_t expires_ms) {
  std::string message = "tally-billing-link\n";
  message.append(link_version).append("\n").append(org).append("\n").append(scope).append("\n");
  message += std::to_string(expires_ms);
  return connectors::hmac_sha256_hex(secret, message);
}

// Splits "a.b.c.d" into exactly four parts.
bool split_token(std::string_view token, std::string_view (&parts)[4]) {
  for (std::size_t i = 0; i < 3; ++i) {
    const std::size_t dot = token.find('.');
    if (dot == std::string_view::npos) return false;
    parts[i] = token.substr(0, dot);
    token.remove_prefix(dot + 1);
  }
  parts[3] = token;
  return token.find('.') == std::string_view::npos;
}

}  // namespace

std::string mint_billing_link(std::string_view secret, const BillingLink& link) {
  assert(!secret.empty() && is_valid_id(link.org));
  const std::string_view scope = scope_name(link.scope);
  return std::string(link_version) + "." + std::string(scope) + "." + std::to_string(link.expires_at_ms) + "." +
         link_signature(secret, link.org, scope, link.expires_at_ms);
}

Result<BillingLink> verify_billing_link(std::string_view secret, std::string_view org, std::string_view token,
                                        int64_t now_ms) {
  const auto bad = [] { return Status::invalid("link", "is not a billing link of this org (malformed or altered)"); };
  if (secret.empty() || token.empty() || token.size() > link_token_bytes_max || !is_valid_id(org)) return bad();
  std::string_view parts[4];
  if (!split_token(token, parts) || parts[0] != link_version) return bad();
  if (parts[1] != "owner" && parts[1] != "read") return bad();
  Result<int64_t> expires = parse_int64(parts[2], "link", 0, INT64_MAX);
  if (!expires.is_ok()) return bad();
  // The signature first: an altered expiry must read as altered, not as expired.
  if (!connectors::constant_time_equals(parts[3], link_signature(secret, org, parts[1], expires.value()))) return bad();
  if (expires.value() <= now_ms) return Status::invalid("link", "expired: ask the platform for a new billing link");
  return BillingLink{std::string(org), parts[1] == "owner" ? LinkScope::owner : LinkScope::read, expires.value()};
}

Principal link_principal(const BillingLink& link) {
  Principal principal;
  principal.token_name = std::string("billing-link:") + std::string(scope_name(link.scope));
  principal.scopes = {"org:" + link.org + (link.scope == LinkScope::read ? ":read" : "")};
  return principal;
}

}  // namespace tally::api
