#include "api/html_util.h"

#include "api/router.h"
#include "audit/text_format.h"
#include "engine/limits.h"
#include "engine/money.h"

namespace tally::api {

Html& Html::esc(std::string_view value) {
  audit::append_html_text(text_, value);
  return *this;
}

std::string display_credits(int64_t micros) {
  std::string exact = format_credits(micros);  // "-1234.500000"
  const bool negative = exact.starts_with('-');
  if (negative) exact.erase(0, 1);
  const std::size_t dot = exact.find('.');
  std::string whole = exact.substr(0, dot);
  std::string fraction = exact.substr(dot + 1);
  while (fraction.size() > 2 && fraction.back() == '0') fraction.pop_back();
  std::string grouped;
  for (std::size_t i = 0; i < whole.size(); ++i) {
    if (i > 0 && (whole.size() - i) % 3 == 0) grouped.push_back(',');
    grouped.push_back(whole[i]);
  }
  return (negative ? "-" : "") + grouped + "." + fraction;
}

Result<int64_t> parse_form_credits(std::string_view text, std::string_view field, int64_t min, int64_t max) {
  const std::string name(field);
  std::string digits;
  for (const char c : text) {
    if (c != ',' && c != ' ') digits.push_back(c);
  }
  const std::size_t dot = digits.find('.');
  const std::string whole = digits.substr(0, dot);
  const std::string fraction = dot == std::string::npos ? std::string() : digits.substr(dot + 1);
  const auto all_digits = [](const std::string& s) { return s.find_first_not_of("0123456789") == std::string::npos; };
  if (whole.empty() || !all_digits(whole) || !all_digits(fraction) || (dot != std::string::npos && fraction.empty())) {
    return Status::invalid(name, "must be a number of credits, e.g. 20 or 20.5");
  }
  if (fraction.size() > 6) return Status::invalid(name, "has more than six decimals (a micro-credit is the unit)");
  if (whole.size() > 12) return Status::invalid(name, "is too large");
  int64_t micros = std::stoll(whole) * limits::micros_per_credit;
  if (!fraction.empty()) micros += std::stoll(fraction + std::string(6 - fraction.size(), '0'));
  if (micros < min || micros > max) {
    return Status::invalid(name, "must be between " + display_credits(min) + " and " + display_credits(max) + " credits");
  }
  return micros;
}

Result<std::vector<std::pair<std::string, std::string>>> parse_form(std::string_view body) {
  Result<std::vector<std::pair<std::string, std::string>>> pairs = parse_query(body);
  if (!pairs.is_ok()) return Status::invalid("body", "not a form: " + pairs.status().message());
  return pairs;
}

std::optional<std::string> form_value(const std::vector<std::pair<std::string, std::string>>& form,
                                      std::string_view name) {
  std::optional<std::string> out;
  for (const auto& [key, value] : form) {
    if (key == name) out = value;
  }
  return out;
}

std::string utc_date(int64_t unix_ms) { return audit::iso_utc(unix_ms).substr(0, 10); }

std::string utc_minute(int64_t unix_ms) {
  const std::string iso = audit::iso_utc(unix_ms);  // "2026-12-07T13:05:00.000Z"
  return iso.substr(0, 10) + " " + iso.substr(11, 5) + " UTC";
}

std::string url_encode(std::string_view text) {
  static constexpr char hex[] = "0123456789ABCDEF";
  std::string out;
  for (const char c : text) {
    const auto byte = static_cast<unsigned char>(c);
    const bool unreserved = (byte >= 'a' && byte <= 'z') || (byte >= 'A' && byte <= 'Z') || (byte >= '0' && byte <= '9') ||
                            byte == '-' || byte == '.' || byte == '_' || byte == '~';
    if (unreserved) {
      out.push_back(c);
    } else {
      out.push_back('%');
      out.push_back(hex[byte >> 4]);
      out.push_back(hex[byte & 15]);
    }
  }
  return out;
}

}  // namespace tally::api
