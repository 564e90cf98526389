// The partitioner every Tally producer uses: the Java client's murmur2 (librdkafka's
// `murmur2_random`), so services in any language agree on an org's partition. Pure.
#pragma once

#include <cstdint>
#include <string_view>

namespace tally {

// Kafka's murmur2 over the key bytes (seed 0x9747b28c), as the Java client computes it.
uint32_t murmur2(std::string_view key);

// The partition of a non-empty key among `partition_count` partitions:
// (murmur2(key) & 0x7fffffff) % partition_count.
// REQUIRES: partition_count > 0, !key.empty().
int32_t partition_for_key(std::string_view key, int32_t partition_count);

}  // namespace tally
