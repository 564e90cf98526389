// KeyIndex: the idempotency index in memory: the 128-bit digest of (scope, idempotency key) to its
// KeyRecord. MemoryLedger looks keys up here, so a lookup is one probe into one flat array (no
// allocation, no pointer chasing, no store read). The projector's LMDB ledger keeps only a
// KeyLocator in memory (engine/key_locator.h) and the records in the store.
//
// Open addressing with linear probing over a power-of-two table; the table doubles before it is
// three quarters full. A slot is 40 bytes: at most 40 / 0.375 ≈ 107 and at least 53 bytes of
// memory per key. A table comes zeroed (engine/zeroed_table.h). Deletion shifts the following
// run back (no tombstones), so erase() leaves the table as if the key had never been put.
//
// A digest collision between two different keys needs about 2^64 keys; the index treats equal
// digests as equal keys. The all-zero digest marks an empty slot, so digest() never returns it
// (it maps that one value, probability 2^-128, to {1, 0}); find/put/erase REQUIRE a non-zero key.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "engine/digest.h"
#include "engine/state.h"
#include "engine/zeroed_table.h"

namespace tally {

// murmur3_128 of `scope \0 key` (ids never contain NUL), never all zero. Stable: stored in the
// projections. `scratch` is reused.
Digest128 idempotency_digest(std::string& scratch, std::string_view scope, std::string_view key);

class KeyIndex {
 public:
  Digest128 digest(std::string_view scope, std::string_view key) { return idempotency_digest(scratch_, scope, key); }

  const KeyRecord* find(const Digest128& key) const;
  // Starts loading the slot where a find/put of `key` will begin (a hint: no effect on results).
  // The table is far larger than the caches and every key lands in a random slot, so a lookup is
  // a cache miss unless the slot was prefetched a record or two before.
  void prefetch(const Digest128& key) const {
    // No branch around the prefetches: g++ 12 -O2 drops a __builtin_prefetch that follows an early
    // return in an inlined member like this one (checked with objdump).
    const Slot* slot = capacity_ != 0 ? slots_.get() + home(key) : &no_table_;
    __builtin_prefetch(slot);
    __builtin_prefetch(&slot->record.reason);  // its last field: a slot may straddle two cache lines
  }
  // Inserts or overwrites. Returns true if the key was not in the index.
  bool put(const Digest128& key, const KeyRecord& record);
  // Removes the key; false if it was not there.
  bool erase(const Digest128& key);

  // Sizes the table for `keys` keys without growing on the way.
  void reserve(std::size_t keys);
  void clear();
  std::size_t size() const { return size_; }
  std::size_t memory_bytes() const { return capacity_ * sizeof(Slot); }

 private:
  struct Slot {
    Digest128 key;  // all zero: empty
    KeyRecord record;
    bool used() const { return key.low != 0 || key.high != 0; }
  };
  std::size_t home(const Digest128& key) const { return static_cast<std::size_t>(key.low) & mask_; }
  void grow(std::size_t capacity);

  std::unique_ptr<Slot[], FreeZeroedTable> slots_;  // engine/zeroed_table.h
  std::size_t capacity_ = 0;
  Slot no_table_{};  // what prefetch() touches while there is no table
  std::size_t mask_ = 0;
  std::size_t size_ = 0;
  std::string scratch_;
};

}  // namespace tally
