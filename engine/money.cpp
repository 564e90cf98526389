#include "money.h"

#include <ostream>

#include "limits.h"

namespace tally {

std::string format_credits(int64_t micros) {
  // Work in unsigned magnitude so INT64_MIN formats correctly.
  const bool negative = micros < 0;
  const uint64_t magnitude = negative ? 0 - static_cast<uint64_t>(micros) : static_cast<uint64_t>(micros);
  const auto per_credit = static_cast<uint64_t>(limits::micros_per_credit);
  std::string fraction = std::to_string(magnitude % per_credit);
  fraction.insert(0, 6 - fraction.size(), '0');
  return (negative ? "-" : "") + std::to_string(magnitude / per_credit) + "." + fraction;
}

std::ostream& operator<<(std::ostream& out, Micros amount) { return out << amount.value() << " µcr"; }

}  // namespace tally
