#include "partitioner.h"

#include "engine/assert.h"

namespace tally {

uint32_t murmur2(std::string_view key) {
  // Port of org.apache.kafka.common.utils.Utils.murmur2 (and librdkafka's rd_murmur2).
  constexpr uint32_t seed = 0x9747b28c;
  constexpr uint32_t m = 0x5bd1e995;
  constexpr int r = 24;
  const auto length = static_cast<uint32_t>(key.size());
  uint32_t h = seed ^ length;
  const auto* data = reinterpret_cast<const unsigned char*>(key.data());
  const uint32_t blocks = length / 4;
  for (uint32_t i = 0; i < blocks; ++i) {
    const unsigned char* p = data + 4 * i;
    uint32_t k = static_cast<uint32_t>(p[0]) | (static_cast<uint32_t>(p[1]) << 8) |
                 (static_cast<uint32_t>(p[2]) << 16) | (static_cast<uint32_t>(p[3]) << 24);
    k *= m;
    k ^= k >> r;
    k *= m;
    h *= m;
    h ^= k;
  }
  const unsigned char* tail = data + 4 * blocks;
  switch (length & 3) {
    case 3: h ^= static_cast<uint32_t>(tail[2]) << 16; [[fallthrough]];
    case 2: h ^= static_cast<uint32_t>(tail[1]) << 8; [[fallthrough]];
    case 1: h ^= static_cast<uint32_t>(tail[0]); h *= m;
  }
  h ^= h >> 13;
  h *= m;
  h ^= h >> 15;
  return h;
}

int32_t partition_for_key(std::string_view key, int32_t partition_count) {
  TALLY_ASSERT(partition_count > 0, "a log has at least one partition");
  TALLY_ASSERT(!key.empty(), "a partition key is not empty");
  return static_cast<int32_t>((murmur2(key) & 0x7fffffffu) % static_cast<uint32_t>(partition_count));
}

}  // namespace tally
