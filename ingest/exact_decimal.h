// Exact conversion of decimal text to scaled integers, and of timestamps to Unix milliseconds.
//
// Why: LiteLLM reports `response_cost` as a float of USD (json.dumps of a Python float, e.g.
// 0.000123456 or 1.5e-05). Going through a double would turn 0.29 USD into 289999.99… µcr. The
// text Python writes is the shortest decimal that round-trips, i.e. what the provider's price
// arithmetic meant, so we convert that text exactly and round once.
//
// Thread safety: pure functions.
#pragma once

#include <cstdint>
#include <string_view>

#include "engine/status.h"

namespace tally::connectors {

enum class Rounding {
  half_up,  // to the nearest integer, halves away from zero: 123.5 -> 124, 123.4999 -> 123
  floor,    // toward negative infinity: 123.999 -> 123, -1.5 -> -2
};

inline constexpr int32_t decimal_text_chars_max = 1024;  // longer number texts are refused
inline constexpr int32_t decimal_exponent_abs_max = 100000;

// The JSON number `text` (grammar: -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?) multiplied by
// 10^scale_digits and rounded once to an integer with `rounding`. Computed on the digits, never
// through floating point.
// Examples: ("0.000123456", 6, half_up) = 123; ("0.0000125", 6, half_up) = 13;
//           ("1.5e-05", 6, half_up) = 15; ("1732000000.1239", 3, floor) = 1732000000123.
// Errors (invalid_argument, field `field`): not a JSON number; result outside int64.
// REQUIRES: 0 <= scale_digits <= 18.
Result<int64_t> decimal_to_scaled(std::string_view text, int32_t scale_digits, Rounding rounding,
                                  std::string_view field);

// Unix milliseconds (floor) of an ISO-8601 / RFC-3339 date-time as LiteLLM and Python write them:
// "2024-01-01T00:00:00", "2024-01-01 00:00:00.123456", "...Z", "...+02:00". No zone = UTC.
// Errors (invalid_argument, field `field`): anything else, or a date before 1970.
Result<int64_t> iso8601_to_unix_ms(std::string_view text, std::string_view field);

}  // namespace tally::connectors
