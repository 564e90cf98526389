// IdTable: states by id (an org id, or "org\0member"), for the ledgers' org and member lookups.
// Open addressing with linear probing over a power-of-two array of {hash, entry} slots, growing
// before it is half full; the entries themselves live in a deque, so their addresses never move
// (the fold holds a state across lookups) and iteration is in insertion order. Ids are never
// removed (clear() drops everything).
//
// Why not std::unordered_map: a lookup there is a chain of dependent loads (bucket, node) that no
// prefetch can start early, and with 100,000 orgs each one is a cache miss: the fold's cost grew
// with the number of orgs. Here the slot of an id is known from its hash alone, so a caller that
// folds records in order can prefetch the slot a few records ahead (prefetch_slot) and then,
// once the slot is in cache, the entry it points to (prefetch_entry); find() then hits the cache.
//
// The caller supplies the hash (the same function for every call on one table); equal ids must
// have equal hashes. THREAD SAFETY: none.
#pragma once

#include <cstddef>
#include <algorithm>
#include <cstdint>
#include <deque>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace tally {

// The hash of an id for IdTable: 8 bytes per multiply, then a final mix (ids are a few to 128
// bytes). Only slot placement depends on it; nothing ordered or stored does.
inline uint64_t id_hash(std::string_view s) {
  constexpr uint64_t multiplier = 0x9e3779b97f4a7c15ULL;
  uint64_t h = s.size() * multiplier;
  const char* p = s.data();
  std::size_t n = s.size();
  for (; n >= 8; p += 8, n -= 8) {
    uint64_t word = 0;
    __builtin_memcpy(&word, p, 8);
    h = (h ^ word) * multiplier;
    h ^= h >> 29;
  }
  uint64_t word = 0;
  for (std::size_t i = 0; i < n; ++i) word |= static_cast<uint64_t>(static_cast<unsigned char>(p[i])) << (8 * i);
  h = (h ^ word) * multiplier;
  return h ^ (h >> 32);
}

// "org\0member": the id of a member state (ids never contain NUL). Reuses `out`'s capacity.
inline void member_id_key(std::string& out, std::string_view org, std::string_view member) {
  out.assign(org);
  out.push_back('\0');
  out.append(member);
}

template <typename V>
class IdTable {
 public:
  struct Entry {
    std::string id;
    V value;
  };

  // The entry of `id`, or nullptr. `equal(entry.id)` may stand in for comparing the id (a pair
  // key compared as its parts); by default the bytes are compared.
  template <typename Equal>
  Entry* find(uint64_t hash, Equal&& equal) const {
    if (slots_.empty()) return nullptr;
    for (std::size_t i = hash & mask_;; i = (i + 1) & mask_) {
      const Slot& slot = slots_[i];
      if (slot.entry == nullptr) return nullptr;
      if (slot.hash == hash && equal(slot.entry->id)) return slot.entry;
    }
  }
  Entry* find(std::string_view id, uint64_t hash) const {
    return find(hash, [id](const std::string& stored) { return stored == id; });
  }

  // Adds `id` with `value`. REQUIRES: `id` is absent.
  Entry& insert(std::string id, uint64_t hash, V value) {
    if (2 * (entries_.size() + 1) > slots_.size()) grow();
    Entry& entry = entries_.emplace_back(Entry{std::move(id), std::move(value)});
    place(Slot{hash, &entry});
    return entry;
  }

  // Hints (no effect on any result): the slot where a lookup of `hash` starts, and the entry that
  // slot holds once the slot is in cache.
  void prefetch_slot(uint64_t hash) const {
    if (!slots_.empty()) __builtin_prefetch(&slots_[hash & mask_]);
  }
  void prefetch_entry(uint64_t hash) const {
    if (slots_.empty()) return;
    const Slot& slot = slots_[hash & mask_];
    if (slot.entry == nullptr || slot.hash != hash) return;
    // The whole entry, up to 8 lines: the fold reads fields all over a state.
    const char* bytes = reinterpret_cast<const char*>(slot.entry);
    constexpr std::size_t lines = std::min<std::size_t>((sizeof(Entry) + 63) / 64, 8);
    for (std::size_t line = 0; line < lines; ++line) __builtin_prefetch(bytes + 64 * line);
  }
  // Whether the table has outgrown the caches, so that prefetch hints pay for themselves: about
  // 4 MiB of entries (below that, the hints cost more than the misses they save).
  bool is_large() const { return entries_.size() * sizeof(Entry) > (std::size_t{4} << 20); }

  std::size_t size() const { return entries_.size(); }
  void clear() {
    slots_.clear();
    entries_.clear();
    mask_ = 0;
  }
  // Every entry, in insertion order.
  auto begin() const { return entries_.begin(); }
  auto end() const { return entries_.end(); }
  auto begin() { return entries_.begin(); }
  auto end() { return entries_.end(); }

 private:
  struct Slot {
    uint64_t hash = 0;
    Entry* entry = nullptr;  // nullptr: empty
  };
  void place(Slot slot) {
    std::size_t i = slot.hash & mask_;
    while (slots_[i].entry != nullptr) i = (i + 1) & mask_;
    slots_[i] = slot;
  }
  void grow() {
    const std::size_t capacity = slots_.empty() ? 64 : 2 * slots_.size();
    std::vector<Slot> old(capacity);
    old.swap(slots_);
    mask_ = capacity - 1;
    for (const Slot& slot : old) {
      if (slot.entry != nullptr) place(slot);
    }
  }

  std::vector<Slot> slots_;
  std::size_t mask_ = 0;
  std::deque<Entry> entries_;
};

}  // namespace tally
