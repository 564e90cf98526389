// Strong types for what crosses module lines: positions in the log and amounts of money.
// Ids (org, member, keys) travel as std::string_view inside the fold and std::string outside it.
#pragma once

#include <compare>
#include <cstdint>
#include <string>

namespace tally {

// A partition of the events log (Kafka partition or journal partition), 0-based.
struct PartitionId {
  int32_t value = 0;
  auto operator<=>(const PartitionId&) const = default;
};

// An offset within one partition, 0-based, dense in the journal (Kafka may skip).
struct Offset {
  int64_t value = 0;
  auto operator<=>(const Offset&) const = default;
};

// Where an event sits in the log. Signal ids and `as_of` are derived from it.
struct LogPosition {
  PartitionId partition;
  Offset offset;
  auto operator<=>(const LogPosition&) const = default;
  std::string to_string() const {
    return std::to_string(partition.value) + ":" + std::to_string(offset.value);
  }
};

}  // namespace tally
