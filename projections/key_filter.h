// KeyFilter: a Bloom filter over the idempotency index, so that the usual case — a new key —
// costs no LMDB lookup. "Absent" answers are certain; "maybe present" answers are checked in LMDB.
// Extra keys (from a batch that was aborted and refolded) only cost false positives.
//
// Sized for `capacity` keys at 10 bits per key (about 1% false positives); when more keys than
// that have been added, wants_rebuild() says so and the owner rebuilds it from the index.
// Not thread-safe; pure (no I/O).
#pragma once

#include <cstdint>
#include <string_view>
#include <vector>

namespace tally::store {

inline constexpr uint64_t key_filter_bits_per_key = 10;
inline constexpr unsigned key_filter_probes = 7;
inline constexpr uint64_t key_filter_capacity_min = uint64_t{1} << 20;
// Past this many keys the filter is not kept (memory: 10 bits per key); every lookup goes to LMDB.
inline constexpr uint64_t key_filter_keys_max = uint64_t{1} << 28;

class KeyFilter {
 public:
  // An empty filter for `capacity` keys (at least key_filter_capacity_min).
  void reset(uint64_t capacity);
  bool built() const { return !bits_.empty(); }
  void clear() { bits_.clear(); }
  void add(std::string_view key);
  bool maybe_contains(std::string_view key) const;
  bool wants_rebuild() const { return added_ > capacity_; }

 private:
  std::vector<uint64_t> bits_;
  uint64_t bit_count_ = 0;
  uint64_t capacity_ = 0;
  uint64_t added_ = 0;
};

}  // namespace tally::store
