// Internal: the byte layout of the journal (documented in log/journal.h, LAYOUT). Pure functions,
// shared by the journal, its reader and writer, and the test-only tamper helper.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <optional>
#include <string>
#include <string_view>

namespace tally::journal_format {

inline constexpr std::string_view meta_db_name = "meta";
inline constexpr std::string_view records_db_name = "records";
inline constexpr std::string_view meta_format_version = "format_version";
inline constexpr std::string_view meta_journal_id = "journal_id";
inline constexpr std::string_view meta_topic_prefix = "topic:";
inline constexpr std::size_t record_key_bytes = 16;
inline constexpr std::size_t value_header_bytes = 2;  // u16 BE record key length
inline constexpr std::size_t topic_meta_bytes = 8;    // u32 BE id, u32 BE partition count

inline void put_u16(char* out, uint16_t v) {
  out[0] = static_cast<char>(v >> 8);
  out[1] = static_cast<char>(v);
}
inline void put_u32(char* out, uint32_t v) {
  for (int i = 0; i < 4; ++i) out[i] = static_cast<char>(v >> (24 - 8 * i));
}
inline void put_u64(char* out, uint64_t v) {
  for (int i = 0; i < 8; ++i) out[i] = static_cast<char>(v >> (56 - 8 * i));
}
inline uint16_t get_u16(const char* in) {
  const auto* p = reinterpret_cast<const unsigned char*>(in);
  return static_cast<uint16_t>((p[0] << 8) | p[1]);
}
inline uint32_t get_u32(const char* in) {
  const auto* p = reinterpret_cast<const unsigned char*>(in);
  return (uint32_t{p[0]} << 24) | (uint32_t{p[1]} << 16) | (uint32_t{p[2]} << 8) | uint32_t{p[3]};
}
inline uint64_t get_u64(const char* in) {
  return (uint64_t{get_u32(in)} << 32) | uint64_t{get_u32(in + 4)};
}

using RecordKey = std::array<char, record_key_bytes>;

// REQUIRES: partition >= 0, offset >= 0.
inline RecordKey record_key(uint32_t topic_id, int32_t partition, int64_t offset) {
  RecordKey key;
  put_u32(key.data(), topic_id);
  put_u32(key.data() + 4, static_cast<uint32_t>(partition));
  put_u64(key.data() + 8, static_cast<uint64_t>(offset));
  return key;
}

struct DecodedKey {
  uint32_t topic_id;
  int32_t partition;
  int64_t offset;
};

// Empty when `bytes` is not a record key of this format.
inline std::optional<DecodedKey> decode_record_key(std::string_view bytes) {
  if (bytes.size() != record_key_bytes) return std::nullopt;
  const uint32_t partition = get_u32(bytes.data() + 4);
  const uint64_t offset = get_u64(bytes.data() + 8);
  if (partition > 0x7fffffffu || offset > 0x7fffffffffffffffu) return std::nullopt;
  return DecodedKey{get_u32(bytes.data()), static_cast<int32_t>(partition), static_cast<int64_t>(offset)};
}

inline std::size_t record_value_size(std::string_view key, std::string_view value) {
  return value_header_bytes + key.size() + value.size();
}

// REQUIRES: out has record_value_size(key, value) bytes; key.size() <= 0xffff.
inline void encode_record_value(char* out, std::string_view key, std::string_view value) {
  put_u16(out, static_cast<uint16_t>(key.size()));
  if (!key.empty()) std::memcpy(out + value_header_bytes, key.data(), key.size());
  if (!value.empty()) std::memcpy(out + value_header_bytes + key.size(), value.data(), value.size());
}

struct DecodedValue {
  std::string_view key;
  std::string_view value;
};

// Empty when the stored bytes are too short for the key length they declare.
inline std::optional<DecodedValue> decode_record_value(std::string_view bytes) {
  if (bytes.size() < value_header_bytes) return std::nullopt;
  const std::size_t key_size = get_u16(bytes.data());
  if (bytes.size() - value_header_bytes < key_size) return std::nullopt;
  return DecodedValue{bytes.substr(value_header_bytes, key_size),
                      bytes.substr(value_header_bytes + key_size)};
}

inline std::string topic_meta_key(std::string_view topic) {
  return std::string(meta_topic_prefix) + std::string(topic);
}

}  // namespace tally::journal_format
