#include "audit/text_format.h"

#include <algorithm>
#include <charconv>
#include <cstdio>

namespace tally::audit {
namespace {

// Length of the valid UTF-8 sequence at s[i], or 0 if the bytes there are not one (overlong
// forms, surrogates and code points above U+10FFFF are invalid).
std::size_t utf8_sequence_length(std::string_view s, std::size_t i) {
  const auto byte = [&](std::size_t k) { return static_cast<unsigned char>(s[k]); };
  const unsigned char c = byte(i);
  if (c < 0x80) return 1;
  std::size_t n = 0;
  uint32_t cp = 0;
  if (c >= 0xc2 && c <= 0xdf) { n = 2; cp = c & 0x1fu; }
  else if (c >= 0xe0 && c <= 0xef) { n = 3; cp = c & 0x0fu; }
  else if (c >= 0xf0 && c <= 0xf4) { n = 4; cp = c & 0x07u; }
  else return 0;
  if (i + n > s.size()) return 0;
  for (std::size_t k = 1; k < n; ++k) {
    if ((byte(i + k) & 0xc0) != 0x80) return 0;
    cp = (cp << 6) | (byte(i + k) & 0x3fu);
  }
  if ((n == 3 && cp < 0x800) || (n == 4 && (cp < 0x10000 || cp > 0x10ffff)) || (cp >= 0xd800 && cp <= 0xdfff)) return 0;
  return n;
}

constexpr std::string_view replacement_character = "\xef\xbf\xbd";

// Calls emit_ascii(c) for each ASCII byte and appends other valid sequences as they are.
template <typename F>
void for_each_utf8(std::string& out, std::string_view text, F&& emit_ascii) {
  for (std::size_t i = 0; i < text.size();) {
    const std::size_t n = utf8_sequence_length(text, i);
    if (n == 0) {
      out += replacement_character;
      ++i;
    } else if (n == 1) {
      emit_ascii(text[i]);
      ++i;
    } else {
      out.append(text.substr(i, n));
      i += n;
    }
  }
}

// Parses exactly `digits` decimal digits at text[pos], advancing pos.
bool fixed_digits(std::string_view text, std::size_t& pos, std::size_t digits, int64_t& value) {
  if (pos + digits > text.size()) return false;
  value = 0;
  for (std::size_t k = 0; k < digits; ++k) {
    const char c = text[pos + k];
    if (c < '0' || c > '9') return false;
    value = value * 10 + (c - '0');
  }
  pos += digits;
  return true;
}

bool is_leap(int64_t year) { return (year % 4 == 0 && year % 100 != 0) || year % 400 == 0; }

unsigned days_in_month(int64_t year, unsigned month) {
  constexpr unsigned days[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  return month == 2 && is_leap(year) ? 29 : days[month - 1];
}

int64_t floor_div(int64_t a, int64_t b) { return a / b - ((a % b != 0) && ((a < 0) != (b < 0)) ? 1 : 0); }

}  // namespace

void append_printable(std::string& out, std::string_view text) {
  static constexpr char digits[] = "0123456789abcdef";
  const auto escape = [&](unsigned char byte) {
    out += "\\x";
    out.push_back(digits[byte >> 4]);
    out.push_back(digits[byte & 0xf]);
  };
  for (std::size_t i = 0; i < text.size();) {
    const auto byte = static_cast<unsigned char>(text[i]);
    const std::size_t n = utf8_sequence_length(text, i);
    // C1 controls are the two-byte sequences c2 80 .. c2 9f.
    const bool c1 = n == 2 && byte == 0xc2 && static_cast<unsigned char>(text[i + 1]) < 0xa0;
    if (n == 0 || byte < 0x20 || byte == 0x7f || c1) {
      for (std::size_t k = 0; k < std::max<std::size_t>(n, 1); ++k) escape(static_cast<unsigned char>(text[i + k]));
      i += std::max<std::size_t>(n, 1);
    } else if (byte == '\\') {
      out += "\\\\";
      ++i;
    } else {
      out.append(text.substr(i, n));
      i += n;
    }
  }
}

std::string printable_text(std::string_view text) {
  std::string out;
  append_printable(out, text);
  return out;
}

void append_csv_field(std::string& out, std::string_view field) {
  const auto plain = [](char c) {
    const auto byte = static_cast<unsigned char>(c);
    return byte >= 0x20 && byte < 0x7f && c != '\\' && c != ',' && c != '"';
  };
  if (std::all_of(field.begin(), field.end(), plain) && field.find_first_of("=+-@") != 0) {
    out.append(field);  // the common case: nothing to escape, neutralise or quote
    return;
  }
  std::string cell;
  cell.reserve(field.size() + 1);
  append_printable(cell, field);
  if (!cell.empty() && (cell[0] == '=' || cell[0] == '+' || cell[0] == '-' || cell[0] == '@')) cell.insert(0, 1, '\'');
  if (cell.find_first_of(",\"") == std::string::npos) {
    out += cell;
    return;
  }
  out.push_back('"');
  for (char c : cell) {
    if (c == '"') out.push_back('"');
    out.push_back(c);
  }
  out.push_back('"');
}

void append_json_string(std::string& out, std::string_view text) {
  out.push_back('"');
  for_each_utf8(out, text, [&](char c) {
    switch (c) {
      case '"': out += "\\\""; return;
      case '\\': out += "\\\\"; return;
      case '\n': out += "\\n"; return;
      case '\r': out += "\\r"; return;
      case '\t': out += "\\t"; return;
      default: break;
    }
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) {
      char escaped[8];
      std::snprintf(escaped, sizeof escaped, "\\u%04x", static_cast<unsigned>(static_cast<unsigned char>(c)));
      out += escaped;
    } else {
      out.push_back(c);
    }
  });
  out.push_back('"');
}

void append_html_text(std::string& out, std::string_view text) {
  for_each_utf8(out, text, [&](char c) {
    switch (c) {
      case '&': out += "&amp;"; return;
      case '<': out += "&lt;"; return;
      case '>': out += "&gt;"; return;
      case '"': out += "&quot;"; return;
      case '\'': out += "&#39;"; return;
      default: break;
    }
    // Control characters other than tab and newline are not allowed in HTML text.
    if ((static_cast<unsigned char>(c) < 0x20 && c != '\t' && c != '\n') || c == 0x7f) {
      out += replacement_character;
    } else {
      out.push_back(c);
    }
  });
}

std::string html_text(std::string_view text) {
  std::string out;
  append_html_text(out, text);
  return out;
}

std::string iso_utc(int64_t unix_ms) {
  const int64_t days = floor_div(unix_ms, 86'400'000);
  const int64_t ms_of_day = unix_ms - days * 86'400'000;
  const CivilDate date = civil_from_days(days);
  const int64_t year = date.year, month = date.month, day = date.day;
  // Every part but the year is non-negative once the division floors; unsigned tells the compiler.
  const auto part = [](int64_t v) { return static_cast<unsigned long long>(v); };
  char text[96];
  std::snprintf(text, sizeof text, "%04lld-%02llu-%02lluT%02llu:%02llu:%02llu.%03lluZ", static_cast<long long>(year),
                part(month), part(day), part(ms_of_day / 3'600'000), part(ms_of_day / 60'000 % 60),
                part(ms_of_day / 1000 % 60), part(ms_of_day % 1000));
  return text;
}

Result<int64_t> parse_time_bound(std::string_view text, const std::string& field) {
  const auto invalid = [&] {
    return Status::invalid(field, "\"" + std::string(text) +
                                      "\" is not a time: give Unix milliseconds (1793491200000) or an ISO-8601 UTC "
                                      "date or date-time (2026-11-01, 2026-11-01T12:30:05.250Z)");
  };
  if (text.empty()) return invalid();
  if (text.find('-', 1) == std::string_view::npos) {  // no date separator: Unix ms
    int64_t ms = 0;
    const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), ms);
    if (error != std::errc() || end != text.data() + text.size()) return invalid();
    return ms;
  }
  std::size_t pos = 0;
  int64_t year = 0, month = 0, day = 0, hour = 0, minute = 0, second = 0, millis = 0;
  if (!fixed_digits(text, pos, 4, year) || pos >= text.size() || text[pos++] != '-' ||
      !fixed_digits(text, pos, 2, month) || pos >= text.size() || text[pos++] != '-' ||
      !fixed_digits(text, pos, 2, day)) {
    return invalid();
  }
  if (pos < text.size() && (text[pos] == 'T' || text[pos] == 't' || text[pos] == ' ')) {
    ++pos;
    if (!fixed_digits(text, pos, 2, hour) || pos >= text.size() || text[pos++] != ':' ||
        !fixed_digits(text, pos, 2, minute)) {
      return invalid();
    }
    if (pos < text.size() && text[pos] == ':') {
      ++pos;
      if (!fixed_digits(text, pos, 2, second)) return invalid();
      if (pos < text.size() && text[pos] == '.') {
        ++pos;
        if (!fixed_digits(text, pos, 3, millis)) return invalid();
      }
    }
  }
  if (pos < text.size() && (text[pos] == 'Z' || text[pos] == 'z')) ++pos;
  if (pos != text.size()) return invalid();
  if (month < 1 || month > 12 || day < 1 ||
      day > static_cast<int64_t>(days_in_month(year, static_cast<unsigned>(month))) || hour > 23 || minute > 59 ||
      second > 59) {
    return invalid();
  }
  const int64_t days = days_from_civil(year, static_cast<unsigned>(month), static_cast<unsigned>(day));
  return ((days * 24 + hour) * 60 + minute) * 60'000 + second * 1000 + millis;
}

}  // namespace tally::audit
