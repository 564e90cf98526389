// HMAC-SHA256 (RFC 2104 over SHA-256, OpenSSL) and a constant-time comparison, the primitives under
// every signature Tally checks or makes: Stripe-Signature on inbound webhooks and Tally-Signature
// on outbound enforcement webhooks.
//
// Thread safety: free functions without shared state; callable from any thread.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace tally::connectors {

inline constexpr std::size_t hmac_sha256_bytes = 32;
inline constexpr std::size_t hmac_sha256_hex_chars = 2 * hmac_sha256_bytes;

// HMAC-SHA256 of `message` under `key`. Any key length (RFC 2104: longer keys are hashed first).
std::array<uint8_t, hmac_sha256_bytes> hmac_sha256(std::string_view key, std::string_view message);

// The same, as 64 lower-case hex characters (the form Stripe and Tally put in headers).
std::string hmac_sha256_hex(std::string_view key, std::string_view message);

// The signature Stripe-Signature and Tally-Signature carry: hmac_sha256_hex under `secret` of
// "<timestamp_s>.<payload>", so that a captured body replayed under a new timestamp does not verify.
std::string timestamped_signature_hex(std::string_view secret, int64_t timestamp_s, std::string_view payload);

// Lower-case hex of `bytes`.
std::string to_hex(std::string_view bytes);

// True iff a == b. The time taken depends only on the lengths, never on where the contents differ,
// so comparing a received signature with the expected one leaks nothing an attacker can use.
// (Unequal lengths return false at once: a length is not a secret here, all signatures are 64 hex.)
bool constant_time_equals(std::string_view a, std::string_view b);

}  // namespace tally::connectors
