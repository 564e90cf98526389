// The enforcement webhook: how Tally tells a platform to pause or resume an org's (or a member's)
// agents and sandboxes, and how the platform checks that the call came from Tally.
//
// THE SCHEME (implement this on the platform side):
//   POST <your endpoint>
//   Content-Type: application/json
//   Tally-Webhook-Id: <signal_id>          same value as body.signal_id; stable across retries
//   Tally-Timestamp: <unix seconds>         when this delivery attempt was signed
//   Tally-Signature: v1=<hex>               hex(HMAC-SHA256(secret, timestamp + "." + raw_body));
//                                           during a secret rotation: "v1=<hex>,v1=<hex>"
//   {"signal_id":"3:1042:balance_exhausted:acme","kind":"balance_exhausted","action":"pause",
//    "scope":"org","org_id":"acme","member_id":"","pause_reason":"balance_exhausted",
//    "balance_micros":-1200,"balance":"-0.001200","occurred_at_ms":1732300000000}
//   Member signals add "monthly_limit_micros" and "member_used_micros" (scope "member").
//
//   To verify: take the RAW body bytes (before any JSON parsing), compute the HMAC above with
//   your secret, compare in constant time with each v1 value, and refuse the call when none
//   matches or when |now − Tally-Timestamp| > 300 s (replays). verify_webhook() below does that.
//   Deliveries are at-least-once: drop a signal_id you have already applied. Answer 2xx once
//   applied; anything else is retried with the same signal_id (and a fresh timestamp/signature).
//
//   action: "pause"  — balance_exhausted (scope org), member_limit_exceeded (scope member)
//           "resume" — balance_restored (org), member_limit_restored (member)
//           "notify" — anything else (balance_low, auto_refill_disabled, …): no state change
//
// Thread safety: pure functions.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "engine/status.h"
#include "outbound/http_client.h"

namespace tally::connectors {

inline constexpr int64_t webhook_tolerance_s = 300;
inline constexpr std::string_view webhook_signature_scheme = "v1";

// The fields of a signal (schemas/signals.fbs) that a webhook carries.
struct EnforcementSignal {
  std::string signal_id;
  std::string kind;          // SignalKind name: "balance_exhausted", "member_limit_restored", …
  std::string org_id;
  std::string member_id;     // member signals only
  std::string pause_reason;  // "balance_exhausted", "member_limit_exceeded", … or empty
  int64_t balance_micros = 0;
  int64_t occurred_at_ms = 0;
  std::optional<int64_t> monthly_limit_micros;  // member signals
  std::optional<int64_t> member_used_micros;    // member signals
};

// "pause", "resume" or "notify" for a signal kind (see the scheme above).
std::string_view webhook_action(std::string_view kind);

// The JSON body for `signal`, fields in the documented order. Deterministic: the same signal
// gives the same bytes, so a retried delivery carries an identical body.
std::string webhook_body(const EnforcementSignal& signal);

// "12.345678": micros as a decimal string of credits, exact, 6 decimals, '-' for negatives.
std::string credits_decimal(int64_t micros);

// "v1=<hex>" over timestamp_s + "." + body.
std::string webhook_signature(std::string_view secret, int64_t timestamp_s, std::string_view body);

// The headers to send with `body` for `signal_id` at `timestamp_s`: Content-Type,
// Tally-Webhook-Id, Tally-Timestamp, Tally-Signature. Sign at each attempt (fresh timestamp).
std::vector<HttpHeader> webhook_headers(std::string_view secret, std::string_view signal_id,
                                        int64_t timestamp_s, std::string_view body);

// Verifies a delivery as a platform would. `timestamp` and `signature` are the header values.
// Returns ok, or invalid_argument with field "Tally-Timestamp"/"Tally-Signature" and message:
//   "malformed header"             timestamp not an integer; signature not "v1=<hex>[,v1=<hex>]…"
//   "no v1 signature"              no v1 entry
//   "signature mismatch"           no v1 entry matches (wrong secret, altered body or timestamp)
//   "timestamp outside tolerance"  |now_s − timestamp| > tolerance_s
// REQUIRES: !secret.empty(), tolerance_s >= 0.
Status verify_webhook(std::string_view secret, std::string_view timestamp, std::string_view signature,
                      std::string_view body, int64_t now_s, int64_t tolerance_s = webhook_tolerance_s);

}  // namespace tally::connectors
