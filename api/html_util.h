// Small pieces of the server-rendered pages (the billing page): an HTML builder that escapes every
// value it is given (with the statement export's escaping, audit/text_format.h), credits as people
// read them, and HTML form bodies. Internal to api/. Pure.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "engine/status.h"

namespace tally::api {

// Appends to a string. raw() is for the page's own markup only; every value from the ledger, the
// request or the provider goes through esc() (or num()).
class Html {
 public:
  Html& raw(std::string_view markup) {
    text_.append(markup);
    return *this;
  }
  Html& esc(std::string_view value);
  Html& num(int64_t value) {
    text_ += std::to_string(value);
    return *this;
  }
  std::string& text() { return text_; }

 private:
  std::string text_;
};

// Credits for people: thousands grouped, at least two decimals, no trailing zeros beyond them:
// 25000000000 µcr -> "25,000.00", 1234567 -> "1.234567", -500000 -> "-0.50".
std::string display_credits(int64_t micros);

// A form field in credits ("20", "20.5", "1,000.25") as micro-credits, in [min, max] micros.
// Errors: invalid_argument naming `field`: not a number, more than six decimals, out of range.
Result<int64_t> parse_form_credits(std::string_view text, std::string_view field, int64_t min, int64_t max);

// An application/x-www-form-urlencoded body as pairs (the query string rules, '+' as space).
// Errors: invalid_argument, field "body".
Result<std::vector<std::pair<std::string, std::string>>> parse_form(std::string_view body);
// The last value of `name`, if any.
std::optional<std::string> form_value(const std::vector<std::pair<std::string, std::string>>& form,
                                      std::string_view name);

// "2026-12-07" of a Unix-ms time (UTC).
std::string utc_date(int64_t unix_ms);
// "2026-12-07 13:05 UTC".
std::string utc_minute(int64_t unix_ms);

// `text` percent-encoded for a URL query value (unreserved characters kept).
std::string url_encode(std::string_view text);

}  // namespace tally::api
