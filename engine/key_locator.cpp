#include "engine/key_locator.h"

#include <cmath>
#include <utility>

#include "engine/assert.h"

namespace tally {

void KeyLocator::insert(const Digest128& key, Chunk chunk) {
  TALLY_ASSERT(chunk != 0, "chunk 0 marks an empty slot");
  if (static_cast<double>(size_ + 1) > grow_above_load * static_cast<double>(capacity_)) reserve(size_ + 1);
  place(Slot{tag_of(key), chunk});
  ++size_;
}

// Robin Hood: the slot being placed takes the place of the first one nearer its home, which then
// moves on.
void KeyLocator::place(Slot slot) {
  std::size_t i = home(slot.tag);
  for (std::size_t distance = 0;; ++distance) {
    Slot& here = slots_[i];
    if (here.chunk == 0) {
      here = slot;
      return;
    }
    if (const std::size_t d = distance_from_home(i, here.tag); d < distance) {
      std::swap(here, slot);
      distance = d;
    }
    i = i + 1 == capacity_ ? 0 : i + 1;
  }
}

void KeyLocator::reserve(std::size_t keys) {
  if (static_cast<double>(keys) <= grow_above_load * static_cast<double>(capacity_)) return;
  const auto capacity = static_cast<std::size_t>(std::ceil(static_cast<double>(keys) / grown_load));
  TALLY_ASSERT(capacity <= (std::size_t{1} << 32), "a tag addresses at most 2^32 slots");
  rehash(std::max<std::size_t>(capacity, 1024));
}

void KeyLocator::rehash(std::size_t capacity) {
  std::unique_ptr<Slot[], FreeZeroedTable> old = std::exchange(slots_, make_zeroed_table<Slot>(capacity));
  const std::size_t old_capacity = std::exchange(capacity_, capacity);
  for (std::size_t j = 0; j < old_capacity; ++j) {
    if (old[j].chunk != 0) place(old[j]);
  }
}

void KeyLocator::clear() {
  slots_.reset();
  capacity_ = 0;
  size_ = 0;
}

}  // namespace tally
