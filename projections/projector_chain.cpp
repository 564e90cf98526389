// The hash chain of the projector's batches (SPEC §10, engine/chain.h), on the writer thread: the
// fold records each record's outcome, the writer hashes the records in log order onto the heads
// as committed, while the next batch is folded.
#include "engine/assert.h"
#include "projections/projector_impl.h"

namespace tally {

using store::Db;
using store::to_val;

void Projector::Impl::chain_batch(BatchOutput& out) {
  if (out.chained) return;  // an earlier attempt of this batch (MDB_MAP_FULL, a failed write) did
  const auto partitions = static_cast<std::size_t>(partition_count);
  if (committed_chain.size() < partitions) committed_chain.resize(partitions);
  out.chain_heads = committed_chain;
  chain_chunks.resize(partitions);
  chain_first.assign(partitions, Offset{});
  chain_expected.assign(partitions, Offset{});
  for (std::string& chunk : chain_chunks) chunk.clear();
  const std::string_view arena(out.arena);
  for (const BatchRecord& record : out.batch) {
    if (!record.folded) continue;
    const auto p = static_cast<std::size_t>(record.position.partition.value);
    ChainHead& chain = out.chain_heads[p];
    chain.add(ChainLink{arena.substr(record.value_offset, record.value_size), record.position, record.appended_at_ms,
                        record.outcome, record.reason});
    if (chain_chunks[p].empty()) chain_first[p] = chain_expected[p] = record.position.offset;
    store::append_chain_mark(chain_chunks[p], chain_expected[p], record.position.offset, chain_mark(chain.head));
  }
  for (std::size_t p = 0; p < partitions; ++p) {
    if (chain_chunks[p].empty()) continue;
    const auto key = store::position_key(LogPosition{PartitionId{static_cast<int32_t>(p)}, chain_first[p]});
    out.chain.add(std::string_view(key.data(), key.size()), chain_chunks[p]);
  }
  out.chained = true;
}

int Projector::Impl::write_chain(MDB_txn* txn, BatchOutput& out, std::string& failed_call) {
  chain_batch(out);
  auto put = [&](Db db, std::string_view key, std::string_view value) {
    MDB_val k = to_val(key);
    MDB_val v = to_val(value);
    const int rc = mdb_put(txn, env->dbi(db), &k, &v, 0);
    if (rc != 0) failed_call = std::string("mdb_put(") + store::db_name(db) + ")";
    return rc;
  };
  if (int rc = out.chain.for_each([&](auto k, auto v) { return put(Db::chain, k, v); }); rc != 0) return rc;
  return out.partitions.for_each([&](std::string_view key, std::string_view state) {
    const auto p = static_cast<std::size_t>(store::get_u32_be(key));
    TALLY_ASSERT(p < out.next.size() && p < out.chain_heads.size(), "a folded partition is one of the log's");
    store::encode_partition(write_scratch, out.next[p], out.chain_heads[p], state);
    return put(Db::partitions, key, write_scratch);
  });
}

}  // namespace tally
