#include "projections/outcome_board.h"

#include <algorithm>

#include "engine/assert.h"

namespace tally {

OutcomeBoard::OutcomeBoard(const std::vector<int32_t>& partitions, int32_t partition_count, std::size_t records_max)
    : ring_records_(std::max(outcome_ring_records_min, records_max / std::max<std::size_t>(partitions.size(), 1))),
      rings_(static_cast<std::size_t>(std::max(partition_count, 0))) {
  TALLY_ASSERT(records_max >= 1, "an outcome board holds something");
  for (int32_t p : partitions) {
    TALLY_ASSERT(p >= 0 && p < partition_count, "a projected partition is in range");
    rings_[static_cast<std::size_t>(p)].projected = true;
  }
}

const RecordOutcome& OutcomeBoard::at(const Ring& ring, std::size_t i) const {
  return ring.slots[(ring.head + i) % ring.slots.size()];
}

void OutcomeBoard::publish(std::span<RecordOutcome> outcomes) {
  std::lock_guard lock(mutex_);
  for (RecordOutcome& outcome : outcomes) {
    const auto p = static_cast<std::size_t>(outcome.position.partition.value);
    if (p >= rings_.size() || !rings_[p].projected) continue;
    Ring& ring = rings_[p];
    RecordOutcome* slot = nullptr;
    // The whole ring at once: no regrowth (and moves of every slot) while it fills.
    if (ring.slots.empty()) ring.slots.reserve(ring_records_);
    if (ring.slots.size() < ring_records_) {
      slot = &ring.slots.emplace_back();
    } else {
      // Full: the oldest slot takes the newest outcome.
      slot = &ring.slots[ring.head];
      ring.head = (ring.head + 1) % ring.slots.size();
    }
    // Whole: a field added to RecordOutcome travels without a change here. The batch gets the
    // slot's old strings back, to reuse their buffers.
    std::swap(*slot, outcome);
  }
}

OutcomeBoard::Found OutcomeBoard::find(LogPosition position, RecordOutcome& out) const {
  const auto p = static_cast<std::size_t>(position.partition.value);
  std::lock_guard lock(mutex_);
  if (position.partition.value < 0 || p >= rings_.size() || !rings_[p].projected) return Found::expired;
  const Ring& ring = rings_[p];
  const std::size_t size = ring.slots.size();
  if (size == 0 || position.offset > at(ring, size - 1).position.offset) return Found::pending;
  if (position.offset < at(ring, 0).position.offset) return Found::expired;
  // Offsets ascend from the oldest slot on: binary search over the ring's logical order.
  std::size_t low = 0, high = size;
  while (low < high) {
    const std::size_t mid = low + (high - low) / 2;
    if (at(ring, mid).position.offset < position.offset) {
      low = mid + 1;
    } else {
      high = mid;
    }
  }
  if (low == size || at(ring, low).position.offset != position.offset) return Found::expired;
  out = at(ring, low);
  return Found::ready;
}

}  // namespace tally
