// SHA-256 (FIPS 180-4) for the per-partition hash chain (SPEC §10): the chain must be a
// cryptographic commitment, so that nobody can forge a record that leaves the chain unchanged.
// MurmurHash3 (engine/digest.h) stays for in-memory indexes and view digests.
//
// Pure and portable: the core may not link OpenSSL, so this is the core's own implementation. On
// x86-64 machines with the SHA extensions (sha_ni) the compression runs on them (about 5× faster);
// the choice is made once at run time and both give the same bytes (sha256_test checks the
// portable and the accelerated path against the FIPS test vectors and against each other).
// Thread safety: one Sha256 object per thread; the free functions are thread-safe.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace tally {

struct Digest256 {
  std::array<uint8_t, 32> bytes{};
  bool operator==(const Digest256&) const = default;
  bool is_zero() const;
  std::string to_hex() const;  // 64 lowercase hex characters
};

class Sha256 {
 public:
  Sha256();
  Sha256& update(const void* data, std::size_t size);
  Sha256& update(std::string_view bytes) { return update(bytes.data(), bytes.size()); }
  // Little-endian 8 bytes: how integers enter the chain (fixed width, so fields cannot run together).
  Sha256& update_u64(uint64_t value);
  Sha256& update_digest(const Digest256& digest) { return update(digest.bytes.data(), digest.bytes.size()); }
  // The digest of everything updated so far. REQUIRES: called once; the object is spent after it.
  Digest256 finish();

 private:
  std::array<uint32_t, 8> state_;
  uint64_t total_bytes_ = 0;
  std::size_t fill_ = 0;
  alignas(16) unsigned char block_[64];
};

Digest256 sha256(std::string_view bytes);

// Which compression the process uses: "sha_ni" or "portable" (for the bench's report).
const char* sha256_implementation();

namespace sha256_internal {
// The compression function of each implementation, for the test that compares them.
void compress_portable(uint32_t state[8], const unsigned char* blocks, std::size_t count);
// REQUIRES: has_sha_extensions().
void compress_sha_ni(uint32_t state[8], const unsigned char* blocks, std::size_t count);
bool has_sha_extensions();
}  // namespace sha256_internal

}  // namespace tally
