// Short-lived signed links to an org's billing page (GET /billing/{org}?link=<token>): what a
// platform mints for its signed-in user, so the user needs no Tally token of its own.
//
// Caveats first:
//  - A link is a bearer credential in a URL: whoever holds it may use it until it expires. Keep
//    links short (billing_link_minutes_max at most); the page answers with Referrer-Policy:
//    no-referrer and Cache-Control: no-store so the URL does not leak through the browser.
//  - There is no revocation: changing the server's secret invalidates every link at once.
//  - The token binds the org, the scope and the expiry with HMAC-SHA256 under the server's secret
//    (HttpServerOptions::billing_link_secret); the org is not in the token text, it is the path's.
//
// Token text: "v1.<scope>.<expires_at_ms>.<64 hex of HMAC-SHA256>", scope "owner" or "read", over
// the message "tally-billing-link\nv1\n<org>\n<scope>\n<expires_at_ms>".
//
// Thread safety: pure functions over values.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "api/http_types.h"
#include "engine/status.h"

namespace tally::api {

inline constexpr int64_t billing_link_minutes_default = 15;
inline constexpr int64_t billing_link_minutes_max = 24 * 60;  // a day: a link is not a login
inline constexpr std::size_t billing_link_secret_bytes_min = 16;

// What a link lets its holder do: owner (read and change, as an org:<id> token) or read (as an
// org:<id>:read token: the page shows, every change answers 403).
enum class LinkScope : uint8_t { owner, read };

struct BillingLink {
  std::string org;
  LinkScope scope = LinkScope::read;
  int64_t expires_at_ms = 0;
};

// The token of `link` under `secret`. REQUIRES: secret not empty, link.org a valid id.
std::string mint_billing_link(std::string_view secret, const BillingLink& link);

// The link `token` grants for the page of `org`, if it is genuine and not expired at `now_ms`.
// Errors: invalid_argument, field "link": malformed, signed for another org, scope or expiry
// (tampered), or expired (the message says which).
Result<BillingLink> verify_billing_link(std::string_view secret, std::string_view org, std::string_view token,
                                        int64_t now_ms);

// The principal a link acts as: scopes {"org:<id>"} (owner) or {"org:<id>:read"} (read), so the
// page's changes pass the same role table (api/authorization.h) as the API's tokens.
Principal link_principal(const BillingLink& link);

}  // namespace tally::api
