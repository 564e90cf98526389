// Deterministic byte encodings of the fold state, for the LMDB views and the views digest.
// Little-endian fixed-width integers, length-prefixed strings, a leading format byte per record.
// The same state always encodes to the same bytes on every machine.
// decode_* return false on malformed bytes (a corrupted store): callers treat it as corruption.
// An OrgState's SPEC §14 fields (linked payment customer, refill bundles, workspace billing), its
// SPEC §11 holds and its SPEC §12 grants are trailing sections, each written only when it holds
// something: orgs without them keep their format-1 bytes.
#pragma once

#include <bit>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

#include "engine/state.h"

namespace tally {

inline constexpr uint8_t state_format_version = 1;

std::string encode(const OrgState& org);
std::string encode(const MemberState& member);
std::string encode(const KeyRecord& key);
void append_encoded(std::string& out, const KeyRecord& key);  // the same bytes, appended to `out`
inline constexpr std::size_t encoded_key_record_bytes = 19;   // encode(KeyRecord).size(), always
void encode_to(char* out, const KeyRecord& key);              // the same bytes, at `out`
std::string encode(const PurchaseRecord& purchase);
std::string encode(const PartitionState& partition);
std::string encode(const Grant& grant);  // a closed grant (SPEC §12)

bool decode(std::string_view bytes, OrgState& org);
bool decode(std::string_view bytes, MemberState& member);
bool decode(std::string_view bytes, KeyRecord& key);
bool decode(std::string_view bytes, PurchaseRecord& purchase);
bool decode(std::string_view bytes, PartitionState& partition);
bool decode(std::string_view bytes, Grant& grant);

// The 8 little-endian bytes of `v` at `out` (a plain copy on a little-endian machine: the
// encodings write and read several of these per record).
inline void put_le64(char* out, uint64_t v) {
  if constexpr (std::endian::native == std::endian::little) {
    std::memcpy(out, &v, sizeof v);
  } else {
    for (int i = 0; i < 8; ++i) out[i] = static_cast<char>((v >> (8 * i)) & 0xff);
  }
}
inline uint64_t get_le64(const char* in) {
  uint64_t v = 0;
  if constexpr (std::endian::native == std::endian::little) {
    std::memcpy(&v, in, sizeof v);
  } else {
    for (int i = 7; i >= 0; --i) v = (v << 8) | static_cast<uint8_t>(in[i]);
  }
  return v;
}

// Byte writer/reader used by the encodings above and by the projector's own records.
class ByteWriter {
 public:
  explicit ByteWriter(std::string& out) : out_(out) {}
  ByteWriter& u8(uint8_t v) { out_.push_back(static_cast<char>(v)); return *this; }
  ByteWriter& i64(int64_t v) {  // little-endian, two's complement; one append
    char bytes[8];
    put_le64(bytes, static_cast<uint64_t>(v));
    out_.append(bytes, sizeof bytes);
    return *this;
  }
  ByteWriter& u64(uint64_t v) { return i64(static_cast<int64_t>(v)); }
  ByteWriter& i32(int32_t v) { return i64(v); }
  ByteWriter& micros(Micros v) { return i64(v.value()); }
  ByteWriter& str(std::string_view s);
 private:
  std::string& out_;
};

class ByteReader {
 public:
  explicit ByteReader(std::string_view in) : in_(in) {}
  bool u8(uint8_t& v);
  bool i64(int64_t& v);
  bool u64(uint64_t& v);
  bool i32(int32_t& v);
  bool micros(Micros& v);
  bool boolean(bool& v);
  bool str(std::string& s);
  bool str_view(std::string_view& s);
  bool done() const { return in_.empty(); }
 private:
  std::string_view in_;
};

}  // namespace tally
