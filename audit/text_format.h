// Text encodings of the audit exports: CSV fields (RFC 4180), JSON strings, HTML text, and UTC
// times (ISO-8601). Pure functions, no locale, no clock. And the chunked output the exports
// write through.
#pragma once

#include <cstddef>
#include <cstdint>
#include <ostream>
#include <string>
#include <string_view>

#include "engine/calendar.h"
#include "engine/status.h"

namespace tally::audit {

// Appends `text` for a terminal or a text table: valid UTF-8 that prints passes as it is; control
// characters (C0 including NUL, DEL, and the C1 range U+0080..U+009F) and bytes that are not valid
// UTF-8 become \xNN, byte by byte, and a backslash becomes \\ so that an escape is never
// ambiguous. A key holding ESC [ 2 J shows as \x1b[2J instead of clearing the screen.
void append_printable(std::string& out, std::string_view text);
std::string printable_text(std::string_view text);

// Appends `field` as one CSV text cell (RFC 4180), safe to open in a spreadsheet (SPEC §10): the
// text as append_printable() gives it (so no NUL, control character or raw line break reaches the
// file), then, when it starts with = + - or @ (a formula to a spreadsheet), a leading ' (OWASP's
// CSV injection rule; a cell starting with a tab or CR starts with \x09 or \x0d after escaping);
// enclosed in double quotes, with quotes doubled, when it holds a comma or a double quote.
// Numbers are not text cells: the exports append them as they are (a negative amount stays a
// number), and never through this function.
void append_csv_field(std::string& out, std::string_view field);

// Appends `text` as a JSON string literal (with the quotes). Control characters, '"' and '\\' are
// escaped; bytes that are not valid UTF-8 become U+FFFD, so the line is always valid JSON.
void append_json_string(std::string& out, std::string_view text);

// Appends `text` escaped for HTML text and attribute values (& < > " '), invalid UTF-8 as U+FFFD.
void append_html_text(std::string& out, std::string_view text);
std::string html_text(std::string_view text);

// "2026-11-01T12:30:05.250Z" for a Unix-ms time (UTC, proleptic Gregorian, any int64).
std::string iso_utc(int64_t unix_ms);


// A time bound given on the command line: Unix ms ("1793491200000", may be negative) or an
// ISO-8601 UTC date or date-time: "2026-11-01", "2026-11-01T12:30", "2026-11-01T12:30:05",
// "2026-11-01T12:30:05.250", each optionally ending in "Z".
// Errors: invalid_argument with `field` and what was expected.
Result<int64_t> parse_time_bound(std::string_view text, const std::string& field);

inline constexpr std::size_t output_flush_bytes = 64 * 1024;  // write to the stream in chunks

// A text buffer written to a stream in chunks of about output_flush_bytes, so an export never
// holds a whole statement in memory. Not thread-safe.
class ChunkedOutput {
 public:
  explicit ChunkedOutput(std::ostream& out) : out_(out) {}
  std::string& buffer() { return buffer_; }
  // Writes the buffer once it holds output_flush_bytes or more.
  void maybe_flush() {
    if (buffer_.size() >= output_flush_bytes) flush();
  }
  void flush() {
    out_.write(buffer_.data(), static_cast<std::streamsize>(buffer_.size()));
    buffer_.clear();
  }
  // False once a write to the stream failed.
  bool ok() const { return static_cast<bool>(out_); }

 private:
  std::ostream& out_;
  std::string buffer_;
};

}  // namespace tally::audit
