#include "projections/store_snapshot.h"

#include <filesystem>

#include "engine/chain.h"
#include "engine/state.h"
#include "lmdb/env.h"
#include "projections/records.h"
#include "projections/view_digests.h"

namespace tally::store {
namespace {

Result<SnapshotInfo> describe(StoreEnv& env, PartitionId partition) {
  SnapshotInfo info;
  info.partition = partition;
  {
    auto txn = ReadTxn::begin(env);
    if (!txn.is_ok()) return txn.status();
    const std::array<char, 4> key = partition_key(partition);
    std::string_view value;
    const int rc = txn->get(Db::partitions, std::string_view(key.data(), key.size()), value);
    if (rc == MDB_NOTFOUND) {
      return Status::error(Status::Code::not_found, "no records of partition " + std::to_string(partition.value) +
                                                        " in " + env.dir());
    }
    if (rc != 0) return lmdb_error("mdb_get(partitions)", rc);
    ChainHead chain;
    PartitionState state;
    if (!decode_partition(value, info.next_offset, chain, state)) {
      return Status::error(Status::Code::corruption, "undecodable record in \"partitions\" of " + env.dir());
    }
    info.chain_hex = chain.head.to_hex();
  }
  auto digests = view_digests({&env});
  if (!digests.is_ok()) return digests.status();
  info.digest_hex = digests.value().at("all").to_hex();
  return info;
}

}  // namespace

Status write_snapshot(StoreEnv& env, const std::string& dir) {
  if (Status made = lmdb::create_private_dirs(dir); !made.is_ok()) return made;
  if (int rc = mdb_env_copy2(env.get(), dir.c_str(), MDB_CP_COMPACT); rc != 0) return lmdb_error("mdb_env_copy2", rc);
  return Status::ok();
}

Result<SnapshotInfo> describe_store(StoreEnv& env, PartitionId partition) { return describe(env, partition); }

Result<SnapshotInfo> describe_snapshot(const std::string& dir, PartitionId partition) {
  auto env = StoreEnv::open(dir, StoreEnv::Mode::read_only, 0);
  if (!env.is_ok()) return env.status();
  return describe(*env.value(), partition);
}

Status restore_snapshot(const std::string& dir, const SnapshotInfo& expected, StoreEnv& target) {
  auto source = StoreEnv::open(dir, StoreEnv::Mode::read_only, 0);
  if (!source.is_ok()) return source.status();
  auto got = describe(*source.value(), expected.partition);
  if (!got.is_ok()) return got.status();
  const auto differs = [&](const char* what, const std::string& want, const std::string& have) {
    return Status::error(Status::Code::corruption, std::string("snapshot of partition ") +
                                                       std::to_string(expected.partition.value) + ": " + what +
                                                       " is " + have + ", the sender said " + want);
  };
  if (got->next_offset != expected.next_offset) {
    return differs("next offset", std::to_string(expected.next_offset.value), std::to_string(got->next_offset.value));
  }
  if (got->chain_hex != expected.chain_hex) return differs("chain head", expected.chain_hex, got->chain_hex);
  if (got->digest_hex != expected.digest_hex) return differs("view digest", expected.digest_hex, got->digest_hex);
  if (auto mine = describe(target, expected.partition); mine.is_ok() && mine->next_offset.value > 0) {
    return Status::error(Status::Code::conflict, "the store of partition " + std::to_string(expected.partition.value) +
                                                     " in " + target.dir() + " has folded records already");
  }

  // Every record of every database, in one write transaction of the target (held shared against
  // map growth, as the projector's own writes are).
  auto read = ReadTxn::begin(*source.value());
  if (!read.is_ok()) return read.status();
  std::shared_lock map_lock(target.map_mutex());
  lmdb::Txn write;
  if (int rc = write.begin(target.get()); rc != 0) return lmdb_error("mdb_txn_begin", rc);
  for (int i = 0; i < db_count; ++i) {
    const Db db = static_cast<Db>(i);
    MDB_cursor* cursor = nullptr;
    if (int rc = mdb_cursor_open(read->get(), source.value()->dbi(db), &cursor); rc != 0) {
      return lmdb_error("mdb_cursor_open", rc);
    }
    MDB_val key, value;
    int rc = mdb_cursor_get(cursor, &key, &value, MDB_FIRST);
    for (; rc == 0; rc = mdb_cursor_get(cursor, &key, &value, MDB_NEXT)) {
      if (int put = mdb_put(write.get(), target.dbi(db), &key, &value, 0); put != 0) {
        mdb_cursor_close(cursor);
        return lmdb_error(std::string("mdb_put(") + db_name(db) + ")", put);
      }
    }
    mdb_cursor_close(cursor);
    if (rc != MDB_NOTFOUND) return lmdb_error("mdb_cursor_get", rc);
  }
  if (int rc = write.commit(); rc != 0) return lmdb_error("mdb_txn_commit(restore)", rc);
  return Status::ok();
}

}  // namespace tally::store
