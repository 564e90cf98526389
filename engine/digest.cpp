#include "digest.h"

#include <algorithm>
#include <bit>
#include <cstring>

namespace tally {
namespace {

inline uint64_t rotl64(uint64_t x, int r) { return (x << r) | (x >> (64 - r)); }

inline uint64_t fmix64(uint64_t k) {
  k ^= k >> 33;
  k *= 0xff51afd7ed558ccdULL;
  k ^= k >> 33;
  k *= 0xc4ceb9fe1a85ec53ULL;
  k ^= k >> 33;
  return k;
}

// Digests must be the same bytes on every machine: integers are read and written little-endian.
static_assert(std::endian::native == std::endian::little, "Tally digests assume a little-endian host");

inline uint64_t load_le64(const unsigned char* p) {
  uint64_t v = 0;
  std::memcpy(&v, p, sizeof v);
  return v;
}

inline void put_le64(std::string& out, uint64_t v) {
  char bytes[8];
  std::memcpy(bytes, &v, sizeof v);
  out.append(bytes, 8);
}

}  // namespace

namespace {

// MurmurHash3_x64_128 (public domain, Austin Appleby), with explicit little-endian loads, in the
// two steps that murmur3_128 and FieldDigest share: the 16-byte blocks, then the tail and length.
constexpr uint64_t c1 = 0x87c37b91114253d5ULL;
constexpr uint64_t c2 = 0x4cf5ad432745937fULL;

inline void mix_murmur_blocks(uint64_t& h1, uint64_t& h2, const unsigned char* bytes, std::size_t blocks) {
  for (std::size_t i = 0; i < blocks; ++i) {
    uint64_t k1 = load_le64(bytes + i * 16);
    uint64_t k2 = load_le64(bytes + i * 16 + 8);
    k1 *= c1; k1 = rotl64(k1, 31); k1 *= c2; h1 ^= k1;
    h1 = rotl64(h1, 27); h1 += h2; h1 = h1 * 5 + 0x52dce729;
    k2 *= c2; k2 = rotl64(k2, 33); k2 *= c1; h2 ^= k2;
    h2 = rotl64(h2, 31); h2 += h1; h2 = h2 * 5 + 0x38495ab5;
  }
}

// `tail` holds the last size % 16 bytes; `size` is the length of all the bytes hashed.
inline Digest128 finish_murmur(uint64_t h1, uint64_t h2, const unsigned char* tail, std::size_t size) {
  uint64_t k1 = 0;
  uint64_t k2 = 0;
  switch (size & 15) {
    case 15: k2 ^= static_cast<uint64_t>(tail[14]) << 48; [[fallthrough]];
    case 14: k2 ^= static_cast<uint64_t>(tail[13]) << 40; [[fallthrough]];
    case 13: k2 ^= static_cast<uint64_t>(tail[12]) << 32; [[fallthrough]];
    case 12: k2 ^= static_cast<uint64_t>(tail[11]) << 24; [[fallthrough]];
    case 11: k2 ^= static_cast<uint64_t>(tail[10]) << 16; [[fallthrough]];
    case 10: k2 ^= static_cast<uint64_t>(tail[9]) << 8; [[fallthrough]];
    case 9:
      k2 ^= static_cast<uint64_t>(tail[8]);
      k2 *= c2; k2 = rotl64(k2, 33); k2 *= c1; h2 ^= k2;
      [[fallthrough]];
    case 8: k1 ^= static_cast<uint64_t>(tail[7]) << 56; [[fallthrough]];
    case 7: k1 ^= static_cast<uint64_t>(tail[6]) << 48; [[fallthrough]];
    case 6: k1 ^= static_cast<uint64_t>(tail[5]) << 40; [[fallthrough]];
    case 5: k1 ^= static_cast<uint64_t>(tail[4]) << 32; [[fallthrough]];
    case 4: k1 ^= static_cast<uint64_t>(tail[3]) << 24; [[fallthrough]];
    case 3: k1 ^= static_cast<uint64_t>(tail[2]) << 16; [[fallthrough]];
    case 2: k1 ^= static_cast<uint64_t>(tail[1]) << 8; [[fallthrough]];
    case 1:
      k1 ^= static_cast<uint64_t>(tail[0]);
      k1 *= c1; k1 = rotl64(k1, 31); k1 *= c2; h1 ^= k1;
  }
  h1 ^= size;
  h2 ^= size;
  h1 += h2;
  h2 += h1;
  h1 = fmix64(h1);
  h2 = fmix64(h2);
  h1 += h2;
  h2 += h1;
  return Digest128{h1, h2};
}

}  // namespace

Digest128 murmur3_128(const void* data, std::size_t size, uint64_t seed) {
  const auto* bytes = static_cast<const unsigned char*>(data);
  const std::size_t blocks = size / 16;
  uint64_t h1 = seed;
  uint64_t h2 = seed;
  mix_murmur_blocks(h1, h2, bytes, blocks);
  return finish_murmur(h1, h2, bytes + blocks * 16, size);
}

std::string Digest128::to_hex() const {
  static constexpr char hex[] = "0123456789abcdef";
  std::string out(32, '0');
  for (int i = 0; i < 16; ++i) {
    out[static_cast<std::size_t>(i)] = hex[(high >> (60 - 4 * i)) & 0xf];
    out[static_cast<std::size_t>(16 + i)] = hex[(low >> (60 - 4 * i)) & 0xf];
  }
  return out;
}

DigestBuilder& DigestBuilder::add(std::string_view bytes) {
  buffer_.push_back('s');
  put_le64(buffer_, bytes.size());
  buffer_.append(bytes);
  return *this;
}

DigestBuilder& DigestBuilder::add_int(int64_t value) {
  buffer_.push_back('i');
  put_le64(buffer_, static_cast<uint64_t>(value));
  return *this;
}

DigestBuilder& DigestBuilder::add_digest(const Digest128& digest) {
  buffer_.push_back('d');
  put_le64(buffer_, digest.low);
  put_le64(buffer_, digest.high);
  return *this;
}

Digest128 DigestBuilder::finish() const { return murmur3_128(buffer_.data(), buffer_.size()); }

void FieldDigest::mix_blocks(const unsigned char* blocks, std::size_t count) {
  mix_murmur_blocks(h1_, h2_, blocks, count);
  mixed_ += count * 16;
}

void FieldDigest::mix_buffered_blocks() {
  const std::size_t blocks = fill_ / 16;
  mix_blocks(buffer_, blocks);
  const std::size_t rest = fill_ - blocks * 16;
  std::memmove(buffer_, buffer_ + blocks * 16, rest);
  fill_ = rest;
}

void FieldDigest::put_bytes_spilling(const unsigned char* bytes, std::size_t size) {
  // Complete the buffer's partial block, mix the buffer, mix the whole blocks of `bytes` in place
  // and keep the rest.
  const std::size_t head = std::min(size, (16 - fill_ % 16) % 16);
  std::memcpy(buffer_ + fill_, bytes, head);
  fill_ += head;
  bytes += head;
  size -= head;
  mix_buffered_blocks();
  if (size == 0) return;
  // fill_ is 0 here: the partial block was completed, so every buffered byte was mixed.
  const std::size_t blocks = size / 16;
  mix_blocks(bytes, blocks);
  std::memcpy(buffer_, bytes + blocks * 16, size - blocks * 16);
  fill_ = size - blocks * 16;
}

Digest128 FieldDigest::finish() {
  const std::size_t blocks = fill_ / 16;
  mix_murmur_blocks(h1_, h2_, buffer_, blocks);
  return finish_murmur(h1_, h2_, buffer_ + blocks * 16, mixed_ + fill_);
}

}  // namespace tally
