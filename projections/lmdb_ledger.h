// LmdbLedger: the fold's Ledger (engine/ledger.h) over one LMDB write transaction, with a
// write-back cache. The projector folds a whole batch against it, then flushes it into the same
// transaction that records the batch's offsets.
//
// Lifecycle: begin(txn) → the fold calls find_*/create_*/put_*/partition() → flush() → commit or
// abort the txn → end(committed). Nothing is written to LMDB before flush().
//  - find_* reads the txn on a cache miss and caches the decoded value; every entry handed out
//    (found or created) is written back by flush(), in key order. Node-based maps: pointers stay
//    valid until end().
//  - Partition states stay cached across committed batches (only the projector changes them);
//    end(false) drops them too, so a retried batch refolds from committed state.
//  - Read or decode failures cannot be returned through the Ledger interface: the first one is
//    kept in error() (sticky for the batch) and the lookup answers "absent". The projector checks
//    error() before committing and aborts the batch if it is set, so such an answer never lands.
//
// THREAD SAFETY: not thread-safe; one projector thread.
#pragma once

#include <map>
#include <string>
#include <string_view>
#include <unordered_map>

#include "engine/ledger.h"
#include "projections/store.h"

namespace tally::store {

class LmdbLedger final : public Ledger {
 public:
  explicit LmdbLedger(StoreEnv& env) : env_(env) {}

  // REQUIRES: no batch in progress; `txn` is a write txn of env. `records` sizes the caches.
  void begin(MDB_txn* txn, std::size_t records);
  // Writes every handed-out entry into the txn. Returns 0 or the LMDB error code (MDB_MAP_FULL,
  // MDB_TXN_FULL, …); `failed_call` names the call.
  int flush(std::string& failed_call);
  // Drops the per-batch caches; if !committed also the partition states.
  void end(bool committed);
  const Status& error() const { return error_; }

  // The cached state of a partition, or null if this ledger has not loaded it.
  const PartitionState* cached_partition(PartitionId partition) const;

  OrgState* find_org(std::string_view org) override;
  OrgState& create_org(std::string_view org) override;
  MemberState* find_member(std::string_view org, std::string_view member) override;
  MemberState& create_member(std::string_view org, std::string_view member) override;
  const KeyRecord* find_key(std::string_view scope, std::string_view key) override;
  void put_key(std::string_view scope, std::string_view key, const KeyRecord& record) override;
  PurchaseRecord* find_purchase(std::string_view org, std::string_view key) override;
  void put_purchase(std::string_view org, std::string_view key, const PurchaseRecord& record) override;
  PartitionState& partition(PartitionId partition) override;

 private:
  struct Hash {
    using is_transparent = void;
    std::size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
  };
  template <typename T>
  using Cache = std::unordered_map<std::string, T, Hash, std::equal_to<>>;
  struct KeyEntry {
    KeyRecord record;
    bool dirty = false;
  };

  // Reads `key` of `db` into `out`; false if absent or on error (then error_ is set).
  template <typename T>
  bool load(Db db, std::string_view key, T& out);
  void fail(Status status);
  template <typename T>
  int write_back(Db db, const Cache<T>& cache, bool only_dirty, std::string& failed_call);

  StoreEnv& env_;
  MDB_txn* txn_ = nullptr;
  Status error_;
  Cache<OrgState> orgs_;
  Cache<MemberState> members_;
  Cache<KeyEntry> keys_;
  Cache<PurchaseRecord> purchases_;
  std::map<int32_t, PartitionState> partitions_;
  std::string scratch_;
  std::string encoded_;
};

}  // namespace tally::store
