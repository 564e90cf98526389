#include "engine/key_index.h"

#include <bit>
#include <cstdlib>
#include <cstring>
#include <cstdint>
#include <new>
#include <utility>

#include "engine/assert.h"

namespace tally {

Digest128 idempotency_digest(std::string& scratch, std::string_view scope, std::string_view key) {
  // A valid scope and key (at most 128 + 1 + 255 bytes) are joined on the stack: the fold hashes
  // one or more keys per event, and building a std::string cost more than the hash itself.
  constexpr std::size_t on_stack_max = 512;
  const std::size_t size = scope.size() + 1 + key.size();
  Digest128 d;
  if (size <= on_stack_max) {
    char joined[on_stack_max];
    std::memcpy(joined, scope.data(), scope.size());
    joined[scope.size()] = '\0';
    std::memcpy(joined + scope.size() + 1, key.data(), key.size());
    d = murmur3_128(joined, size);
  } else {
    scratch.assign(scope).push_back('\0');
    scratch.append(key);
    d = murmur3_128(scratch.data(), scratch.size());
  }
  if (d.low == 0 && d.high == 0) d.low = 1;
  return d;
}

const KeyRecord* KeyIndex::find(const Digest128& key) const {
  if (size_ == 0) return nullptr;
  for (std::size_t i = home(key);; i = (i + 1) & mask_) {
    const Slot& slot = slots_[i];
    if (!slot.used()) return nullptr;
    if (slot.key == key) return &slot.record;
  }
}

bool KeyIndex::put(const Digest128& key, const KeyRecord& record) {
  if ((size_ + 1) * 4 > capacity_ * 3) grow(capacity_ == 0 ? 1024 : capacity_ * 2);
  for (std::size_t i = home(key);; i = (i + 1) & mask_) {
    Slot& slot = slots_[i];
    if (slot.used() && !(slot.key == key)) continue;
    const bool inserted = !slot.used();
    slot = Slot{key, record};
    size_ += inserted ? 1 : 0;
    return inserted;
  }
}

bool KeyIndex::erase(const Digest128& key) {
  if (size_ == 0) return false;
  std::size_t hole = home(key);
  for (;; hole = (hole + 1) & mask_) {
    if (!slots_[hole].used()) return false;
    if (slots_[hole].key == key) break;
  }
  // Backward shift: move each later entry of the run into the hole unless its home lies
  // cyclically in (hole, i].
  for (std::size_t i = (hole + 1) & mask_;; i = (i + 1) & mask_) {
    Slot& slot = slots_[i];
    if (!slot.used()) break;
    const std::size_t h = home(slot.key);
    const bool stays = hole <= i ? (hole < h && h <= i) : (hole < h || h <= i);
    if (stays) continue;
    slots_[hole] = slot;
    hole = i;
  }
  slots_[hole] = Slot{};
  --size_;
  return true;
}

void KeyIndex::reserve(std::size_t keys) {
  const std::size_t needed = std::bit_ceil((keys * 4 + 2) / 3 + 1);
  if (needed > capacity_) grow(needed);
}

void KeyIndex::clear() {
  slots_.reset();
  capacity_ = 0;
  mask_ = 0;
  size_ = 0;
}

void KeyIndex::grow(std::size_t capacity) {
  TALLY_ASSERT(std::has_single_bit(capacity), "the table has a power-of-two capacity");
  std::unique_ptr<Slot[], FreeZeroedTable> old = std::exchange(slots_, make_zeroed_table<Slot>(capacity));
  const std::size_t old_capacity = std::exchange(capacity_, capacity);
  mask_ = capacity - 1;
  for (std::size_t j = 0; j < old_capacity; ++j) {
    const Slot& slot = old[j];
    if (!slot.used()) continue;
    std::size_t i = home(slot.key);
    while (slots_[i].used()) i = (i + 1) & mask_;
    slots_[i] = slot;
  }
}

}  // namespace tally
