// Digest128: the 128-bit digest used for idempotency payload digests, the per-partition hash
// chain and the digest of all views. MurmurHash3 x64/128 with a fixed seed: fast, portable, the
// same bytes on every machine (little-endian encoding of integers is explicit below).
// It detects accidental and after-the-fact alteration; it is not a cryptographic commitment.
#pragma once

#include <array>
#include <cstdint>
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

}  // namespace tally
