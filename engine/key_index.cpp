#include "engine/key_index.h"

#include <sys/mman.h>

#include <bit>
#include <cassert>
#include <cstdlib>
#include <new>

namespace tally {
namespace {
inline constexpr std::size_t huge_page_bytes = std::size_t{2} << 20;
// Below this, a table is served by malloc (huge pages would waste most of a page).
inline constexpr std::size_t huge_page_table_min_bytes = 4 * huge_page_bytes;
}  // namespace

void* huge_page_allocate(std::size_t bytes) {
  if (bytes < huge_page_table_min_bytes) return ::operator new(bytes);
  const std::size_t rounded = (bytes + huge_page_bytes - 1) / huge_page_bytes * huge_page_bytes;
  void* p = std::aligned_alloc(huge_page_bytes, rounded);
  if (p == nullptr) throw std::bad_alloc();
  (void)madvise(p, rounded, MADV_HUGEPAGE);  // a hint: without it, ordinary pages
  return p;
}

void huge_page_deallocate(void* p, std::size_t bytes) {
  if (bytes < huge_page_table_min_bytes) {
    ::operator delete(p);
  } else {
    std::free(p);
  }
}

Digest128 KeyIndex::digest(std::string_view scope, std::string_view key) {
  scratch_.assign(scope).push_back('\0');
  scratch_.append(key);
  Digest128 d = murmur3_128(scratch_.data(), scratch_.size());
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
  if ((size_ + 1) * 4 > slots_.size() * 3) grow(slots_.empty() ? 1024 : slots_.size() * 2);
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
  if (needed > slots_.size()) grow(needed);
}

void KeyIndex::clear() {
  slots_.clear();
  slots_.shrink_to_fit();
  mask_ = 0;
  size_ = 0;
}

void KeyIndex::grow(std::size_t capacity) {
  assert(std::has_single_bit(capacity));
  std::vector<Slot, HugePageAllocator<Slot>> old(capacity, Slot{});
  old.swap(slots_);
  mask_ = capacity - 1;
  for (const Slot& slot : old) {
    if (!slot.used()) continue;
    std::size_t i = home(slot.key);
    while (slots_[i].used()) i = (i + 1) & mask_;
    slots_[i] = slot;
  }
}

}  // namespace tally
