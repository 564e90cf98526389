#include "ingest/exact_decimal.h"

#include <cassert>
#include <limits>
#include <string>

namespace tally::connectors {
namespace {

bool is_digit(char c) { return c >= '0' && c <= '9'; }

// out = out * 10 + digit, false on int64 overflow.
bool push_digit(__int128& out, int digit) {
  out = out * 10 + digit;
  return out <= static_cast<__int128>(std::numeric_limits<int64_t>::max()) + 1;
}

// The parts of a JSON number: [-] int_part [. frac_part] [e exponent].
struct DecimalParts {
  bool negative = false;
  std::string_view int_part;
  std::string_view frac_part;
  int64_t exponent = 0;
};

Result<DecimalParts> split_decimal(std::string_view text, const std::string& name) {
  const auto not_a_number = [&] { return Status::invalid(name, "must be a decimal number"); };
  if (text.empty() || text.size() > static_cast<std::size_t>(decimal_text_chars_max)) return not_a_number();
  DecimalParts parts;
  std::size_t i = 0;
  parts.negative = text[0] == '-';
  if (parts.negative) ++i;
  // Integer part: 0 or [1-9][0-9]*.
  const std::size_t int_begin = i;
  while (i < text.size() && is_digit(text[i])) ++i;
  parts.int_part = text.substr(int_begin, i - int_begin);
  if (parts.int_part.empty() || (parts.int_part.size() > 1 && parts.int_part[0] == '0')) return not_a_number();
  if (i < text.size() && text[i] == '.') {
    const std::size_t frac_begin = ++i;
    while (i < text.size() && is_digit(text[i])) ++i;
    parts.frac_part = text.substr(frac_begin, i - frac_begin);
    if (parts.frac_part.empty()) return not_a_number();
  }
  if (i < text.size() && (text[i] == 'e' || text[i] == 'E')) {
    ++i;
    bool exponent_negative = false;
    if (i < text.size() && (text[i] == '+' || text[i] == '-')) exponent_negative = text[i++] == '-';
    const std::size_t exp_begin = i;
    while (i < text.size() && is_digit(text[i])) {
      parts.exponent = parts.exponent * 10 + (text[i] - '0');
      if (parts.exponent > decimal_exponent_abs_max) return Status::invalid(name, "exponent out of range");
      ++i;
    }
    if (i == exp_begin) return not_a_number();
    if (exponent_negative) parts.exponent = -parts.exponent;
  }
  if (i != text.size()) return not_a_number();
  return parts;
}

}  // namespace

Result<int64_t> decimal_to_scaled(std::string_view text, int32_t scale_digits, Rounding rounding,
                                  std::string_view field) {
  assert(scale_digits >= 0 && scale_digits <= 18);
  const std::string name(field);
  auto split = split_decimal(text, name);
  if (!split.is_ok()) return split.status();
  const auto [negative, int_part, frac_part, exponent] = split.value();

  // value = digits × 10^shift, where digits = int_part ++ frac_part.
  std::string digits;
  digits.reserve(int_part.size() + frac_part.size());
  digits.append(int_part);
  digits.append(frac_part);
  const int64_t shift = exponent - static_cast<int64_t>(frac_part.size()) + scale_digits;

  // Keep the digits left of the decimal point after shifting; remember whether any dropped digit
  // was non-zero (floor of a negative) and the first dropped digit (half up).
  int64_t kept_count = static_cast<int64_t>(digits.size()) + (shift < 0 ? shift : 0);
  int first_dropped = 0;
  bool dropped_nonzero = false;
  if (shift < 0) {
    for (int64_t d = (kept_count > 0 ? kept_count : 0); d < static_cast<int64_t>(digits.size()); ++d) {
      const int digit = digits[static_cast<std::size_t>(d)] - '0';
      if (digit != 0) dropped_nonzero = true;
    }
    if (kept_count >= 0) first_dropped = digits[static_cast<std::size_t>(kept_count)] - '0';
    // kept_count < 0: the first dropped position is a leading zero we never wrote.
  }
  if (kept_count < 0) kept_count = 0;

  const auto overflow = [&] { return Status::invalid(name, "out of range"); };
  __int128 magnitude = 0;
  for (int64_t d = 0; d < kept_count; ++d) {
    if (!push_digit(magnitude, digits[static_cast<std::size_t>(d)] - '0')) return overflow();
  }
  for (int64_t z = 0; z < shift; ++z) {
    if (magnitude == 0) break;  // zeros times anything stay zero; avoids 1e100000 loops on 0
    if (!push_digit(magnitude, 0)) return overflow();
  }
  switch (rounding) {
    case Rounding::half_up:
      if (first_dropped >= 5) magnitude += 1;
      break;
    case Rounding::floor:
      if (negative && dropped_nonzero) magnitude += 1;
      break;
  }
  const __int128 value = negative ? -magnitude : magnitude;
  if (value > std::numeric_limits<int64_t>::max() || value < std::numeric_limits<int64_t>::min()) {
    return overflow();
  }
  return static_cast<int64_t>(value);
}

namespace {

// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's days_from_civil).
int64_t days_from_civil(int64_t year, int64_t month, int64_t day) {
  year -= month <= 2 ? 1 : 0;
  const int64_t era = (year >= 0 ? year : year - 399) / 400;
  const int64_t year_of_era = year - era * 400;
  const int64_t day_of_year = (153 * (month + (month > 2 ? -3 : 9)) + 2) / 5 + day - 1;
  const int64_t day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
  return era * 146097 + day_of_era - 719468;
}

bool is_leap(int64_t year) { return (year % 4 == 0 && year % 100 != 0) || year % 400 == 0; }

int64_t days_in_month(int64_t year, int64_t month) {
  static constexpr int64_t days[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  return month == 2 && is_leap(year) ? 29 : days[month - 1];
}

// Reads exactly `count` digits at text[i...], advancing i.
bool read_fixed(std::string_view text, std::size_t& i, std::size_t count, int64_t& out) {
  if (i + count > text.size()) return false;
  out = 0;
  for (std::size_t k = 0; k < count; ++k) {
    if (!is_digit(text[i + k])) return false;
    out = out * 10 + (text[i + k] - '0');
  }
  i += count;
  return true;
}

bool expect(std::string_view text, std::size_t& i, char c) {
  if (i >= text.size() || text[i] != c) return false;
  ++i;
  return true;
}

}  // namespace

Result<int64_t> iso8601_to_unix_ms(std::string_view text, std::string_view field) {
  const auto bad = [&] {
    return Status::invalid(std::string(field), "must be an ISO-8601 date-time (YYYY-MM-DDTHH:MM:SS[.fff][Z|±HH:MM])");
  };
  std::size_t i = 0;
  int64_t year = 0, month = 0, day = 0, hour = 0, minute = 0, second = 0;
  if (!read_fixed(text, i, 4, year) || !expect(text, i, '-') || !read_fixed(text, i, 2, month) ||
      !expect(text, i, '-') || !read_fixed(text, i, 2, day)) {
    return bad();
  }
  if (i >= text.size() || (text[i] != 'T' && text[i] != 't' && text[i] != ' ')) return bad();
  ++i;
  if (!read_fixed(text, i, 2, hour) || !expect(text, i, ':') || !read_fixed(text, i, 2, minute) ||
      !expect(text, i, ':') || !read_fixed(text, i, 2, second)) {
    return bad();
  }
  if (month < 1 || month > 12 || day < 1 || day > days_in_month(year, month) || hour > 23 ||
      minute > 59 || second > 60) {  // 60: a leap second, folded into the next second below
    return bad();
  }
  int64_t millis = 0;
  if (i < text.size() && (text[i] == '.' || text[i] == ',')) {
    ++i;
    std::size_t fraction_digits = 0;
    while (i < text.size() && is_digit(text[i])) {
      if (fraction_digits < 3) millis = millis * 10 + (text[i] - '0');
      ++fraction_digits;
      ++i;
    }
    if (fraction_digits == 0) return bad();
    for (std::size_t k = fraction_digits; k < 3; ++k) millis *= 10;
  }
  int64_t offset_minutes = 0;
  if (i < text.size()) {
    if (text[i] == 'Z' || text[i] == 'z') {
      ++i;
    } else if (text[i] == '+' || text[i] == '-') {
      const int64_t sign = text[i] == '-' ? -1 : 1;
      ++i;
      int64_t offset_hours = 0, offset_mins = 0;
      if (!read_fixed(text, i, 2, offset_hours)) return bad();
      if (i < text.size() && text[i] == ':') ++i;
      if (!read_fixed(text, i, 2, offset_mins) || offset_hours > 23 || offset_mins > 59) return bad();
      offset_minutes = sign * (offset_hours * 60 + offset_mins);
    }
  }
  if (i != text.size()) return bad();
  const int64_t days = days_from_civil(year, month, day);
  const int64_t seconds = days * 86400 + hour * 3600 + minute * 60 + second - offset_minutes * 60;
  if (seconds < 0) return Status::invalid(std::string(field), "must not be before 1970");
  return seconds * 1000 + millis;
}

}  // namespace tally::connectors
