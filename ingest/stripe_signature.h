// Verification of Stripe webhook signatures (the `Stripe-Signature` header), as Stripe documents
// it and its official libraries do it:
//
//   Stripe-Signature: t=1700000000,v1=<hex>,v1=<hex>,v0=<hex>
//   v1 = hex(HMAC-SHA256(webhook_secret, t + "." + raw_request_body))
//
// Several v1 entries appear while a secret is being rolled; one match is enough. v0 (test-mode
// legacy scheme) and unknown schemes are ignored, never trusted. The timestamp must lie within
// `tolerance_s` of `now_s` on BOTH sides: a stale one is a replay, a future one is a forged or
// badly skewed clock and would otherwise stay valid for longer than the tolerance.
//
// The payload must be the raw body bytes as received: re-serialised JSON will not verify.
// The clock is a parameter (no clock in here), so tests and replays are deterministic.
// Thread safety: pure functions.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "engine/status.h"

namespace tally::connectors {

inline constexpr int64_t stripe_signature_tolerance_s = 300;  // Stripe's libraries' default
inline constexpr std::size_t stripe_signature_header_bytes_max = 8 * 1024;

// Verifies `signature_header` for `payload`. Returns ok, or invalid_argument with field
// "Stripe-Signature" and one of these messages (stable; the HTTP layer may show them):
//   "malformed header"             not "k=v" pairs, no or several `t`, `t` not an integer, too long
//   "no v1 signature"              well formed, but no v1 entry
//   "signature mismatch"           no v1 entry equals the expected HMAC (wrong secret, altered body)
//   "timestamp outside tolerance"  |now_s - t| > tolerance_s
// The signature is checked before the timestamp, as Stripe's libraries do, so a forger learns
// nothing about our clock. Comparison is constant-time.
// REQUIRES: !webhook_secret.empty(), tolerance_s >= 0.
Status verify_stripe_signature(std::string_view payload, std::string_view signature_header,
                               std::string_view webhook_secret, int64_t now_s,
                               int64_t tolerance_s = stripe_signature_tolerance_s);

// The header Stripe would send for `payload` signed at `timestamp_s` with `webhook_secret`:
// "t=<timestamp_s>,v1=<hex>". For tests, demos and local replays of captured events.
std::string sign_stripe_payload(std::string_view payload, std::string_view webhook_secret,
                                int64_t timestamp_s);

}  // namespace tally::connectors
