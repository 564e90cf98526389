// KeyLocator: the part of the idempotency index the projector keeps in memory. The full index (the
// KeyRecord of every key ever put) is on disk, in the "keys" view's chunks (projections/store.h);
// memory holds, for each key, a 32-bit tag of its digest and the number of the chunk that holds
// it: 8 bytes a slot, 9.4–13.3 bytes a key (the table grows before it is 85% full, to 60%).
// Idempotency keys are permanent, so this is the only memory that grows with the life of a ledger.
//
// A lookup of a key never put (nearly every event) ends in memory: no slot has its tag. A key
// whose tag is found is then looked up in that chunk (the caller reads it and compares the full
// digest): the duplicate of a key put earlier, or another key with the same tag (the chance is
// keys / 2^32 per lookup: 1 in 2,000 at 2M keys; past a few hundred million keys, widen the tag).
//
// The tag is the top 32 bits of the digest's low word, and a key's home slot is a function of the
// tag alone (tag × capacity / 2^32), so the table can grow without the digests: the tags are
// rehashed. Robin Hood linear probing keeps slots in home order, so a lookup stops at the first
// slot that is nearer its home than the lookup has come from its own.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>

#include "engine/digest.h"
#include "engine/zeroed_table.h"

namespace tally {

class KeyLocator {
 public:
  using Chunk = uint32_t;  // 0: none (marks an empty slot); chunks are numbered from 1

  static uint32_t tag_of(const Digest128& key) { return static_cast<uint32_t>(key.low >> 32); }

  // REQUIRES chunk != 0. A key may be inserted more than once (with its chunks): lookups offer each.
  void insert(const Digest128& key, Chunk chunk);
  // Calls visit(chunk) for each chunk inserted with a key of the same tag as `key`, until visit
  // returns true. Returns whether it did.
  template <typename Visit>
  bool find(const Digest128& key, Visit&& visit) const {
    if (size_ == 0) return false;
    const uint32_t tag = tag_of(key);
    std::size_t i = home(tag);
    for (std::size_t distance = 0;; ++distance) {
      const Slot slot = slots_[i];
      if (slot.chunk == 0 || distance_from_home(i, slot.tag) < distance) return false;
      if (slot.tag == tag && visit(slot.chunk)) return true;
      i = i + 1 == capacity_ ? 0 : i + 1;
    }
  }
  // Starts loading the slot where a find() of `key` begins (a hint: no effect on results).
  void prefetch(const Digest128& key) const {
    __builtin_prefetch(capacity_ != 0 ? slots_.get() + home(tag_of(key)) : &no_table_);
  }

  // Sizes the table for `keys` keys without growing on the way.
  void reserve(std::size_t keys);
  void clear();
  std::size_t size() const { return size_; }
  std::size_t capacity() const { return capacity_; }
  std::size_t memory_bytes() const { return capacity_ * sizeof(Slot); }

  static constexpr double grow_above_load = 0.85;
  static constexpr double grown_load = 0.60;

 private:
  struct Slot {
    uint32_t tag;
    Chunk chunk;
  };
  std::size_t home(uint32_t tag) const { return static_cast<std::size_t>((uint64_t{tag} * capacity_) >> 32); }
  std::size_t distance_from_home(std::size_t i, uint32_t tag) const {
    const std::size_t h = home(tag);
    return i >= h ? i - h : i + capacity_ - h;
  }
  void place(Slot slot);
  void rehash(std::size_t capacity);

  std::unique_ptr<Slot[], FreeZeroedTable> slots_;
  std::size_t capacity_ = 0;
  std::size_t size_ = 0;
  Slot no_table_{};  // what prefetch() touches while there is no table
};

}  // namespace tally
