// KeyIndex: the idempotency index in memory: the 128-bit digest of (scope, idempotency key) to its
// KeyRecord. MemoryLedger and the projector's LMDB ledger both look keys up here, so a lookup is
// one probe into one flat array (no allocation, no pointer chasing, no store read).
//
// Open addressing with linear probing over a power-of-two table; the table doubles before it is
// three quarters full. A slot is 40 bytes: at most 40 / 0.375 ≈ 107 and at least 53 bytes of
// memory per key. Tables of 8 MiB and more ask for transparent huge pages (madvise: a hint, not
// an error if refused): with 4 KiB pages every probe into a big table also missed the TLB, and
// even a prefetch waited for that page walk. Deletion shifts the following run back (no tombstones), so erase() (used to undo
// a batch that was not committed) leaves the table as if the key had never been put.
//
// A digest collision between two different keys needs about 2^64 keys; the index treats equal
// digests as equal keys. The all-zero digest marks an empty slot, so digest() never returns it
// (it maps that one value, probability 2^-128, to {1, 0}); find/put/erase REQUIRE a non-zero key.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "engine/digest.h"
#include "engine/state.h"

namespace tally {

// The slot table's allocator: operator new below 8 MiB, else 2 MiB-aligned memory advised
// MADV_HUGEPAGE.
void* huge_page_allocate(std::size_t bytes);
void huge_page_deallocate(void* p, std::size_t bytes);

template <typename T>
struct HugePageAllocator {
  using value_type = T;
  HugePageAllocator() = default;
  template <typename U>
  HugePageAllocator(const HugePageAllocator<U>&) {}  // NOLINT: rebinding, as std::allocator
  T* allocate(std::size_t n) { return static_cast<T*>(huge_page_allocate(n * sizeof(T))); }
  void deallocate(T* p, std::size_t n) { huge_page_deallocate(p, n * sizeof(T)); }
  template <typename U>
  bool operator==(const HugePageAllocator<U>&) const { return true; }
};

class KeyIndex {
 public:
  // murmur3_128 of `scope \0 key` (ids never contain NUL). Stable: stored in the projections.
  Digest128 digest(std::string_view scope, std::string_view key);

  const KeyRecord* find(const Digest128& key) const;
  // Starts loading the slot where a find/put of `key` will begin (a hint: no effect on results).
  // The table is far larger than the caches and every key lands in a random slot, so a lookup is
  // a cache miss unless the slot was prefetched a record or two before.
  void prefetch(const Digest128& key) const {
    if (slots_.empty()) return;
    const Slot* slot = slots_.data() + home(key);
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
  std::size_t memory_bytes() const { return slots_.size() * sizeof(Slot); }

 private:
  struct Slot {
    Digest128 key;  // all zero: empty
    KeyRecord record;
    bool used() const { return key.low != 0 || key.high != 0; }
  };
  std::size_t home(const Digest128& key) const { return static_cast<std::size_t>(key.low) & mask_; }
  void grow(std::size_t capacity);

  std::vector<Slot, HugePageAllocator<Slot>> slots_;
  std::size_t mask_ = 0;
  std::size_t size_ = 0;
  std::string scratch_;
};

}  // namespace tally
