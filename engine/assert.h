// TALLY_ASSERT(condition, message): an invariant that holds in every build type. A failure is a
// programmer error (an impossible state), never an operating condition: it prints
// "file:line: assertion failed: condition: message" to stderr and aborts, in release builds too
// (TigerBeetle's assertions, Redpanda's vassert). Operating errors are Status values instead.
//
// The check is one predictable branch; the failure path is out of line. `message` is a string
// literal (no formatting on the hot path).
#pragma once

#include <unistd.h>

#include <charconv>
#include <initializer_list>
#include <cstdlib>
#include <cstring>

namespace tally::detail {

// Appends `text` to buffer[*used..size), cutting what does not fit.
inline void append_cut(char* buffer, std::size_t size, std::size_t* used, const char* text) noexcept {
  const std::size_t length = std::strlen(text);
  const std::size_t n = length < size - *used ? length : size - *used;
  std::memcpy(buffer + *used, text, n);
  *used += n;
}

// The failure path. Defined here (not in a library) so every target that uses Status can assert.
// The fold core does no I/O; this is its one exception, on the way to abort(): one write(2) to
// stderr of a message built in a fixed buffer (no allocation, no stdio), so it works whatever
// state the process is in.
[[noreturn, gnu::cold, gnu::noinline]] inline void assertion_failed(const char* condition, const char* message,
                                                                    const char* file, int line) noexcept {
  char buffer[1024];
  std::size_t used = 0;
  const std::size_t room = sizeof buffer - 1;  // the last byte is the newline
  char number[16];
  const auto [end, error] = std::to_chars(number, number + sizeof number - 1, line);
  *(error == std::errc() ? end : number) = '\0';
  for (const char* part : {file, ":", static_cast<const char*>(number), ": assertion failed: ", condition, ": ", message}) {
    append_cut(buffer, room, &used, part);
  }
  buffer[used++] = '\n';
  [[maybe_unused]] const ssize_t written = ::write(STDERR_FILENO, buffer, used);  // nothing to do if it fails
  std::abort();
}

}  // namespace tally::detail

#define TALLY_ASSERT(condition, message)                                                \
  do {                                                                                  \
    if (__builtin_expect(!(condition), 0)) {                                            \
      ::tally::detail::assertion_failed(#condition, (message), __FILE__, __LINE__);     \
    }                                                                                   \
  } while (false)
