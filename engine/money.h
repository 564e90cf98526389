// Micros: signed 64-bit micro-credits with checked arithmetic. Never a double. Every amount of
// money that crosses a module line is one (state, fold results, signals, views).
// Overflow is an operating condition (a business rejection), not a crash: every operation that can
// overflow returns std::optional and the caller decides.
#pragma once

#include <compare>
#include <cstdint>
#include <iosfwd>
#include <limits>
#include <optional>
#include <string>

#include "engine/assert.h"

namespace tally {

class Micros {
 public:
  constexpr Micros() = default;
  constexpr explicit Micros(int64_t value) : value_(value) {}
  constexpr int64_t value() const { return value_; }
  constexpr auto operator<=>(const Micros&) const = default;

  // -a. REQUIRES: a is not the most negative amount (no positive counterpart; asserted).
  constexpr Micros operator-() const {
    TALLY_ASSERT(value_ != std::numeric_limits<int64_t>::min(), "the most negative amount has no negation");
    return Micros(-value_);
  }

  // a + b, or nullopt on overflow.
  friend std::optional<Micros> checked_add(Micros a, Micros b) {
    int64_t out = 0;
    if (__builtin_add_overflow(a.value_, b.value_, &out)) return std::nullopt;
    return Micros(out);
  }
  // a - b, or nullopt on overflow.
  friend std::optional<Micros> checked_sub(Micros a, Micros b) {
    int64_t out = 0;
    if (__builtin_sub_overflow(a.value_, b.value_, &out)) return std::nullopt;
    return Micros(out);
  }

 private:
  int64_t value_ = 0;
};

// "12.345678" credits for a micro amount: exact, always 6 decimals, '-' for negatives.
std::string format_credits(int64_t micros);
inline std::string format_credits(Micros amount) { return format_credits(amount.value()); }

// The amount in µcr (for test messages and logs).
std::ostream& operator<<(std::ostream& out, Micros amount);

}  // namespace tally
