// What every Stripe call shares: Stripe's limits and error object (public, through
// outbound/stripe_client.h), and in stripe_detail (internal to outbound/) form-encoded
// parameters, reading Stripe's JSON answers, its errors as a Status.
// Thread safety: pure functions.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <boost/json/object.hpp>

#include "engine/status.h"

namespace tally::connectors {

inline constexpr std::size_t stripe_idempotency_key_bytes_max = 255;
inline constexpr std::size_t stripe_metadata_keys_max = 50;
inline constexpr std::size_t stripe_metadata_key_bytes_max = 40;
inline constexpr std::size_t stripe_metadata_value_bytes_max = 500;
inline constexpr int32_t stripe_charges_listed_max = 100;  // one page of list_charges()

// What Stripe said when it did not succeed (from its `error` object), or the transport failure.
struct StripeError {
  int32_t http_status = 0;   // 0: no HTTP response (see `message`)
  std::string type;          // card_error, invalid_request_error, api_error, rate_limit_error, …
  std::string code;          // card_declined, rate_limit, … (may be empty)
  std::string decline_code;  // insufficient_funds, generic_decline, … (card errors only)
  std::string message;       // human-readable, from Stripe or from the transport
};

}  // namespace tally::connectors

namespace tally::connectors::stripe_detail {

// Appends `key=value` (both percent-encoded) to an application/x-www-form-urlencoded body.
void append_form(std::string& form, std::string_view key, std::string_view value);
// metadata[key]=value for each pair.
void append_metadata(std::string& form, std::string_view prefix, const std::vector<std::pair<std::string, std::string>>& metadata);

// A member of a Stripe object: its text ("" when absent or not a string), its integer (0 when
// absent or not an integer), its flag (false when absent or not a boolean), its object (nullptr).
std::string string_member(const boost::json::object& object, std::string_view key);
int64_t int_member(const boost::json::object& object, std::string_view key);
bool bool_member(const boost::json::object& object, std::string_view key);
const boost::json::object* object_member(const boost::json::object& object, std::string_view key);

// invalid_argument (field "stripe") saying what Stripe answered: "card_declined (insufficient_funds):
// Your card has insufficient funds. [HTTP 402]".
Status stripe_status(const StripeError& error);

// 3 lower-case letters (ISO 4217 as Stripe writes it).
bool is_currency(std::string_view currency);
// Stripe's metadata limits: at most 50 keys of 1..40 bytes without brackets, values ≤ 500 bytes.
// Errors: invalid_argument naming "metadata" or "metadata.<key>".
Status check_metadata(const std::vector<std::pair<std::string, std::string>>& metadata);

}  // namespace tally::connectors::stripe_detail
