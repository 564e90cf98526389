#include "projections/key_filter.h"

#include <algorithm>

#include "engine/digest.h"

namespace tally::store {

void KeyFilter::reset(uint64_t capacity) {
  capacity_ = std::max(capacity, key_filter_capacity_min);
  bit_count_ = capacity_ * key_filter_bits_per_key;
  bits_.assign((bit_count_ + 63) / 64, 0);
  added_ = 0;
}

// Double hashing (Kirsch–Mitzenmacher): probe i is h1 + i * h2.
void KeyFilter::add(std::string_view key) {
  const Digest128 h = murmur3_128(key.data(), key.size());
  for (unsigned i = 0; i < key_filter_probes; ++i) {
    const uint64_t bit = (h.low + i * (h.high | 1)) % bit_count_;
    bits_[bit / 64] |= uint64_t{1} << (bit % 64);
  }
  ++added_;
}

bool KeyFilter::maybe_contains(std::string_view key) const {
  const Digest128 h = murmur3_128(key.data(), key.size());
  for (unsigned i = 0; i < key_filter_probes; ++i) {
    const uint64_t bit = (h.low + i * (h.high | 1)) % bit_count_;
    if ((bits_[bit / 64] & (uint64_t{1} << (bit % 64))) == 0) return false;
  }
  return true;
}

}  // namespace tally::store
