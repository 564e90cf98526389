#include "engine/sha256.h"

#include <cstring>

#if defined(__x86_64__)
#include <immintrin.h>
#endif

namespace tally {
namespace {

constexpr uint32_t round_constants[64] = {
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
    0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
    0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
    0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
    0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
    0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
    0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
    0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
};

constexpr std::array<uint32_t, 8> initial_state = {0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
                                                   0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19};

inline uint32_t rotate_right(uint32_t x, int n) { return (x >> n) | (x << (32 - n)); }

inline uint32_t load_be32(const unsigned char* p) {
  return (uint32_t{p[0]} << 24) | (uint32_t{p[1]} << 16) | (uint32_t{p[2]} << 8) | uint32_t{p[3]};
}

using CompressFn = void (*)(uint32_t*, const unsigned char*, std::size_t);

CompressFn chosen_compress() {
  static const CompressFn fn = sha256_internal::has_sha_extensions() ? sha256_internal::compress_sha_ni
                                                                     : sha256_internal::compress_portable;
  return fn;
}

}  // namespace

namespace sha256_internal {

void compress_portable(uint32_t state[8], const unsigned char* blocks, std::size_t count) {
  for (std::size_t block = 0; block < count; ++block, blocks += 64) {
    uint32_t w[64];
    for (int t = 0; t < 16; ++t) w[t] = load_be32(blocks + 4 * t);
    for (int t = 16; t < 64; ++t) {
      const uint32_t s0 = rotate_right(w[t - 15], 7) ^ rotate_right(w[t - 15], 18) ^ (w[t - 15] >> 3);
      const uint32_t s1 = rotate_right(w[t - 2], 17) ^ rotate_right(w[t - 2], 19) ^ (w[t - 2] >> 10);
      w[t] = w[t - 16] + s0 + w[t - 7] + s1;
    }
    uint32_t a = state[0], b = state[1], c = state[2], d = state[3];
    uint32_t e = state[4], f = state[5], g = state[6], h = state[7];
    for (int t = 0; t < 64; ++t) {
      const uint32_t sum1 = rotate_right(e, 6) ^ rotate_right(e, 11) ^ rotate_right(e, 25);
      const uint32_t choose = (e & f) ^ (~e & g);
      const uint32_t t1 = h + sum1 + choose + round_constants[t] + w[t];
      const uint32_t sum0 = rotate_right(a, 2) ^ rotate_right(a, 13) ^ rotate_right(a, 22);
      const uint32_t majority = (a & b) ^ (a & c) ^ (b & c);
      const uint32_t t2 = sum0 + majority;
      h = g;
      g = f;
      f = e;
      e = d + t1;
      d = c;
      c = b;
      b = a;
      a = t1 + t2;
    }
    state[0] += a;
    state[1] += b;
    state[2] += c;
    state[3] += d;
    state[4] += e;
    state[5] += f;
    state[6] += g;
    state[7] += h;
  }
}

#if defined(__x86_64__)

bool has_sha_extensions() {
#if defined(__clang__)
  // clang (14, the fuzz build's) knows no "sha" for __builtin_cpu_supports: ask CPUID itself.
  // Leaf 1 ECX bit 19 is SSE4.1, leaf 7 (subleaf 0) EBX bit 29 is SHA; leaf 0 EAX is the last leaf.
  unsigned eax = 0, ebx = 0, ecx = 0, edx = 0;
  __asm__("cpuid" : "=a"(eax), "=b"(ebx), "=c"(ecx), "=d"(edx) : "a"(0u), "c"(0u));
  if (eax < 7) return false;
  __asm__("cpuid" : "=a"(eax), "=b"(ebx), "=c"(ecx), "=d"(edx) : "a"(1u), "c"(0u));
  const bool sse41 = ((ecx >> 19) & 1u) != 0;
  __asm__("cpuid" : "=a"(eax), "=b"(ebx), "=c"(ecx), "=d"(edx) : "a"(7u), "c"(0u));
  return sse41 && ((ebx >> 29) & 1u) != 0;
#else
  __builtin_cpu_init();
  return __builtin_cpu_supports("sha") && __builtin_cpu_supports("sse4.1");
#endif
}

// The SHA extensions keep the eight working variables in two registers, ordered (A, B, E, F)
// and (C, D, G, H); each sha256rnds2 does two rounds with the two message+constant words in the
// low half of its third operand, and sha256msg1/msg2 compute the message schedule four words at a
// time.
__attribute__((target("sha,sse4.1"))) void compress_sha_ni(uint32_t state[8], const unsigned char* blocks,
                                                           std::size_t count) {
  const __m128i byte_swap = _mm_set_epi64x(0x0c0d0e0f08090a0bULL, 0x0405060700010203ULL);
  __m128i dcba = _mm_loadu_si128(reinterpret_cast<const __m128i*>(state));
  __m128i hgfe = _mm_loadu_si128(reinterpret_cast<const __m128i*>(state + 4));
  const __m128i cdab = _mm_shuffle_epi32(dcba, 0xB1);
  const __m128i efgh = _mm_shuffle_epi32(hgfe, 0x1B);
  __m128i abef = _mm_alignr_epi8(cdab, efgh, 8);
  __m128i cdgh = _mm_blend_epi16(efgh, cdab, 0xF0);

  for (std::size_t block = 0; block < count; ++block, blocks += 64) {
    const __m128i abef_before = abef;
    const __m128i cdgh_before = cdgh;
    __m128i w[4];  // the last four groups of four schedule words, w[g % 4] for group g
    // Unrolled, so that w[] lives in registers and the first four groups lose their branch.
#pragma GCC unroll 16
    for (int group = 0; group < 16; ++group) {
      __m128i words;
      if (group < 4) {
        words = _mm_shuffle_epi8(_mm_loadu_si128(reinterpret_cast<const __m128i*>(blocks + 16 * group)), byte_swap);
      } else {
        const __m128i& minus4 = w[group % 4];
        const __m128i& minus3 = w[(group + 1) % 4];
        const __m128i& minus2 = w[(group + 2) % 4];
        const __m128i& minus1 = w[(group + 3) % 4];
        words = _mm_sha256msg1_epu32(minus4, minus3);
        words = _mm_add_epi32(words, _mm_alignr_epi8(minus1, minus2, 4));
        words = _mm_sha256msg2_epu32(words, minus1);
      }
      w[group % 4] = words;
      __m128i schedule =
          _mm_add_epi32(words, _mm_loadu_si128(reinterpret_cast<const __m128i*>(round_constants + 4 * group)));
      cdgh = _mm_sha256rnds2_epu32(cdgh, abef, schedule);
      schedule = _mm_shuffle_epi32(schedule, 0x0E);
      abef = _mm_sha256rnds2_epu32(abef, cdgh, schedule);
    }
    abef = _mm_add_epi32(abef, abef_before);
    cdgh = _mm_add_epi32(cdgh, cdgh_before);
  }

  const __m128i feba = _mm_shuffle_epi32(abef, 0x1B);
  const __m128i dchg = _mm_shuffle_epi32(cdgh, 0xB1);
  dcba = _mm_blend_epi16(feba, dchg, 0xF0);
  hgfe = _mm_alignr_epi8(dchg, feba, 8);
  _mm_storeu_si128(reinterpret_cast<__m128i*>(state), dcba);
  _mm_storeu_si128(reinterpret_cast<__m128i*>(state + 4), hgfe);
}

#else

bool has_sha_extensions() { return false; }
void compress_sha_ni(uint32_t state[8], const unsigned char* blocks, std::size_t count) {
  compress_portable(state, blocks, count);
}

#endif

}  // namespace sha256_internal

bool Digest256::is_zero() const {
  for (uint8_t b : bytes) {
    if (b != 0) return false;
  }
  return true;
}

std::string Digest256::to_hex() const {
  static constexpr char digits[] = "0123456789abcdef";
  std::string out(64, '0');
  for (std::size_t i = 0; i < bytes.size(); ++i) {
    out[2 * i] = digits[bytes[i] >> 4];
    out[2 * i + 1] = digits[bytes[i] & 0x0f];
  }
  return out;
}

Sha256::Sha256() : state_(initial_state) {}

Sha256& Sha256::update(const void* data, std::size_t size) {
  if (size == 0) return *this;  // `data` may be null then (an empty view), and memcpy must not see it
  const auto* in = static_cast<const unsigned char*>(data);
  total_bytes_ += size;
  if (fill_ > 0) {
    const std::size_t take = std::min(size, sizeof(block_) - fill_);
    std::memcpy(block_ + fill_, in, take);
    fill_ += take;
    in += take;
    size -= take;
    if (fill_ < sizeof(block_)) return *this;
    chosen_compress()(state_.data(), block_, 1);
    fill_ = 0;
  }
  if (const std::size_t whole = size / 64; whole > 0) {
    chosen_compress()(state_.data(), in, whole);
    in += whole * 64;
    size -= whole * 64;
  }
  if (size > 0) {
    std::memcpy(block_, in, size);
    fill_ = size;
  }
  return *this;
}

Sha256& Sha256::update_u64(uint64_t value) {
  unsigned char bytes[8];
  for (int i = 0; i < 8; ++i) bytes[i] = static_cast<unsigned char>(value >> (8 * i));
  return update(bytes, sizeof(bytes));
}

Digest256 Sha256::finish() {
  const uint64_t bits = total_bytes_ * 8;
  block_[fill_++] = 0x80;
  if (fill_ > 56) {
    std::memset(block_ + fill_, 0, sizeof(block_) - fill_);
    chosen_compress()(state_.data(), block_, 1);
    fill_ = 0;
  }
  std::memset(block_ + fill_, 0, 56 - fill_);
  for (int i = 0; i < 8; ++i) block_[56 + i] = static_cast<unsigned char>(bits >> (56 - 8 * i));
  chosen_compress()(state_.data(), block_, 1);
  Digest256 digest;
  for (std::size_t i = 0; i < 8; ++i) {
    for (std::size_t j = 0; j < 4; ++j) digest.bytes[4 * i + j] = static_cast<uint8_t>(state_[i] >> (24 - 8 * j));
  }
  return digest;
}

Digest256 sha256(std::string_view bytes) { return Sha256().update(bytes).finish(); }

const char* sha256_implementation() {
  return sha256_internal::has_sha_extensions() ? "sha_ni" : "portable";
}

}  // namespace tally
