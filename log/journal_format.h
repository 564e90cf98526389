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
// A frame (the value of a "records" entry): u64 BE appended_at_ms, u16 BE record key length.
inline constexpr std::size_t frame_header_bytes = 10;
inline constexpr std::size_t frame_key_length_at = 8;
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
  return frame_header_bytes + key.size() + value.size();
}

// REQUIRES: out has record_value_size(key, value) bytes; key.size() <= 0xffff.
inline void encode_record_value(char* out, int64_t appended_at_ms, std::string_view key, std::string_view value) {
  put_u64(out, static_cast<uint64_t>(appended_at_ms));
  put_u16(out + frame_key_length_at, static_cast<uint16_t>(key.size()));
  if (!key.empty()) std::memcpy(out + frame_header_bytes, key.data(), key.size());
  if (!value.empty()) std::memcpy(out + frame_header_bytes + key.size(), value.data(), value.size());
}

// The append time of a frame: its first 8 bytes. Empty when the frame is shorter than that.
inline std::optional<int64_t> frame_appended_at(std::string_view bytes) {
  if (bytes.size() < sizeof(uint64_t)) return std::nullopt;
  return static_cast<int64_t>(get_u64(bytes.data()));
}

struct DecodedValue {
  int64_t appended_at_ms = 0;
  std::string_view key;
  std::string_view value;
};

// Empty when the stored bytes are not a frame (frame_damage() says why).
inline std::optional<DecodedValue> decode_record_value(std::string_view bytes) {
  if (bytes.size() < frame_header_bytes) return std::nullopt;
  const std::size_t key_size = get_u16(bytes.data() + frame_key_length_at);
  if (bytes.size() - frame_header_bytes < key_size) return std::nullopt;
  return DecodedValue{static_cast<int64_t>(get_u64(bytes.data())), bytes.substr(frame_header_bytes, key_size),
                      bytes.substr(frame_header_bytes + key_size)};
}

// What is wrong with stored bytes that decode_record_value() refuses, in words.
// REQUIRES: !decode_record_value(bytes).
inline std::string frame_damage(std::string_view bytes) {
  if (bytes.size() < frame_header_bytes) {
    return "frame of " + std::to_string(bytes.size()) + " bytes is shorter than the " +
           std::to_string(frame_header_bytes) + "-byte header (append time, key length)";
  }
  return "key length " + std::to_string(get_u16(bytes.data() + frame_key_length_at)) + " past the end of the " +
         std::to_string(bytes.size()) + "-byte frame";
}

inline std::string topic_meta_key(std::string_view topic) {
  return std::string(meta_topic_prefix) + std::string(topic);
}

}  // namespace tally::journal_format
