#include "engine/chain.h"

namespace tally {

Digest256 chain_step(const Digest256& head, const ChainLink& link) {
  Sha256 sha;
  sha.update_digest(head).update_u64(link.record.size()).update(link.record);
  sha.update_u64(static_cast<uint64_t>(link.position.partition.value));
  sha.update_u64(static_cast<uint64_t>(link.position.offset.value));
  sha.update_u64(static_cast<uint64_t>(link.appended_at_ms));
  const unsigned char verdict[2] = {static_cast<unsigned char>(link.outcome), static_cast<unsigned char>(link.reason)};
  sha.update(verdict, sizeof verdict);
  return sha.finish();
}

uint64_t chain_mark(const Digest256& head) {
  uint64_t mark = 0;
  for (int i = 7; i >= 0; --i) mark = (mark << 8) | head.bytes[static_cast<std::size_t>(i)];
  return mark;
}

}  // namespace tally
