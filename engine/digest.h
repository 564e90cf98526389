// Digest128: the 128-bit digest used for idempotency payload digests, the per-partition hash
// chain and the digest of all views. MurmurHash3 x64/128 with a fixed seed: fast, portable, the
// same bytes on every machine (little-endian encoding of integers is explicit below).
// It detects accidental and after-the-fact alteration; it is not a cryptographic commitment.
#pragma once

#include <array>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

namespace tally {

struct Digest128 {
  uint64_t low = 0;
  uint64_t high = 0;
  bool operator==(const Digest128&) const = default;
  std::string to_hex() const;  // 32 lowercase hex characters, high word first
};

Digest128 murmur3_128(const void* data, std::size_t size, uint64_t seed = 0);

// Builds a digest over typed fields. Each field is framed (tag + length for strings) so
// ("ab","c") and ("a","bc") differ. Not thread-safe; one builder per digest.
class DigestBuilder {
 public:
  DigestBuilder() : buffer_(own_) {}
  // Builds into `buffer` (cleared first), so a caller can reuse its capacity across digests.
  explicit DigestBuilder(std::string& buffer) : buffer_(buffer) { buffer_.clear(); }
  DigestBuilder(const DigestBuilder&) = delete;
  DigestBuilder& operator=(const DigestBuilder&) = delete;
  DigestBuilder& add(std::string_view bytes);
  DigestBuilder& add_int(int64_t value);
  DigestBuilder& add_digest(const Digest128& digest);
  Digest128 finish() const;
  // The framed bytes so far (for callers that chain builders).
  const std::string& bytes() const { return buffer_; }
  void clear() { buffer_.clear(); }

 private:
  std::string own_;
  std::string& buffer_;
};

// The digest of DigestBuilder's framing, computed as the fields arrive: the same add / add_int /
// add_digest calls give the same Digest128, bit for bit, but the framed bytes are never built in
// a std::string. It is MurmurHash3 x64/128 (seed 0) fed block by block: the bytes wait in a small
// fixed buffer and whole 16-byte blocks are mixed in as the buffer fills (long strings are mixed
// straight from their own memory). For the fold's hot path; one object per digest, not
// thread-safe, finish() at most once.
class FieldDigest {
 public:
  FieldDigest& add(std::string_view bytes) {
    put_tagged('s', bytes.size());
    put_bytes(reinterpret_cast<const unsigned char*>(bytes.data()), bytes.size());
    return *this;
  }
  FieldDigest& add_int(int64_t value) {
    put_tagged('i', static_cast<uint64_t>(value));
    return *this;
  }
  FieldDigest& add_digest(const Digest128& digest) {
    if (buffer_bytes_max - fill_ < 17) mix_buffered_blocks();
    buffer_[fill_] = 'd';
    std::memcpy(buffer_ + fill_ + 1, &digest.low, 8);
    std::memcpy(buffer_ + fill_ + 9, &digest.high, 8);
    fill_ += 17;
    return *this;
  }
  Digest128 finish();

 private:
  static constexpr std::size_t buffer_bytes_max = 256;  // a multiple of the 16-byte block

  void put_tagged(char tag, uint64_t value) {
    if (buffer_bytes_max - fill_ < 9) mix_buffered_blocks();
    buffer_[fill_] = static_cast<unsigned char>(tag);
    std::memcpy(buffer_ + fill_ + 1, &value, 8);  // little-endian: asserted in digest.cpp
    fill_ += 9;
  }
  void put_bytes(const unsigned char* bytes, std::size_t size) {
    if (size <= buffer_bytes_max - fill_) {
      copy(buffer_ + fill_, bytes, size);
      fill_ += size;
      return;
    }
    put_bytes_spilling(bytes, size);
  }
  // memcpy, with ids and short texts (up to 16 bytes) copied by overlapping fixed-size moves
  // rather than a library call.
  static void copy(unsigned char* out, const unsigned char* bytes, std::size_t size) {
    if (size >= 8 && size <= 16) {
      std::memcpy(out, bytes, 8);
      std::memcpy(out + size - 8, bytes + size - 8, 8);
    } else if (size >= 4 && size < 8) {
      std::memcpy(out, bytes, 4);
      std::memcpy(out + size - 4, bytes + size - 4, 4);
    } else if (size > 0 && size < 4) {
      out[0] = bytes[0];
      out[size / 2] = bytes[size / 2];
      out[size - 1] = bytes[size - 1];
    } else if (size > 16) {
      std::memcpy(out, bytes, size);
    }
  }
  void put_bytes_spilling(const unsigned char* bytes, std::size_t size);
  // Mixes the whole blocks of the buffer and moves the partial block (< 16 bytes) to its front.
  void mix_buffered_blocks();
  void mix_blocks(const unsigned char* blocks, std::size_t count);

  uint64_t h1_ = 0;
  uint64_t h2_ = 0;
  std::size_t mixed_ = 0;  // bytes already mixed in (a multiple of 16)
  std::size_t fill_ = 0;   // bytes waiting in buffer_
  alignas(16) unsigned char buffer_[buffer_bytes_max];
};

}  // namespace tally
