// LmdbLedger: the fold's Ledger (engine/ledger.h) over one LMDB write transaction, with a
// write-back cache. The projector folds a whole batch against it, then flushes it into the same
// transaction that records the batch's offsets.
//
// Lifecycle: begin(txn) → the fold calls find_*/create_*/put_*/partition() → flush() → commit or
// abort the txn → end(committed). Nothing is written to LMDB before flush().
//  - find_* reads the txn on a cache miss and caches the decoded value (and a copy of it); flush()
//    writes back, in key order, every created entry and every found entry that differs from what
//    was read (unchanged ones are not re-encoded). Node-based maps: pointers stay valid until end().
//  - Org, member and partition states stay cached across committed batches (only the projector
//    changes them; orgs and members are few next to events, so the cache holds every one touched
//    since start). end(false) drops them, so a retried batch refolds from committed state.
//    Purchases are looked up only by refunds and are cached for one batch.
//  - Idempotency keys live in memory: the first begin() loads every committed key of the "keys"
//    view into a KeyIndex (engine/key_index.h, ~53–107 bytes of memory per key) and find_key never
//    reads the store. put_key updates the index at once and queues the entry; flush() writes the
//    batch's entries in log-position order (they land on the last pages of each partition's run,
//    not all over the tree); end(false) undoes the batch's puts. Only this ledger writes the index
//    (one projector per dir).
//  - Read or decode failures cannot be returned through the Ledger interface: the first one is
//    kept in error() (sticky for the batch) and the lookup answers "absent". The projector checks
//    error() before committing and aborts the batch if it is set, so such an answer never lands.
//
// THREAD SAFETY: not thread-safe; one projector thread.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "engine/ledger.h"
#include "engine/key_index.h"
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
  // The log position of the record the fold is about to apply (the key of its "keys" entry).
  void set_position(LogPosition position) { position_ = position; }

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
  // A key put by this batch: what to write, and what to restore if the batch is not committed.
  struct PendingKey {
    LogPosition position;
    Digest128 key;
    KeyRecord record;
    std::optional<KeyRecord> previous;
  };
  // A cached state and what the store held (absent: created in this batch).
  template <typename T>
  struct Entry {
    T state;
    std::optional<T> stored;
    bool changed() const { return !stored || !(*stored == state); }
  };

  // Reads `key` of `db` into `out`; false if absent or on error (then error_ is set).
  template <typename T>
  bool load(Db db, std::string_view key, T& out);
  void fail(Status status);
  void load_key_index();
  int write_keys(std::string& failed_call);
  template <typename T>
  int write_back(Db db, const Cache<T>& cache, std::string& failed_call);

  StoreEnv& env_;
  MDB_txn* txn_ = nullptr;
  Status error_;
  Cache<Entry<OrgState>> orgs_;
  Cache<Entry<MemberState>> members_;
  KeyIndex key_index_;
  bool key_index_loaded_ = false;
  std::vector<PendingKey> pending_keys_;
  LogPosition position_;
  Cache<Entry<PurchaseRecord>> purchases_;
  std::map<int32_t, PartitionState> partitions_;
  std::string scratch_;
  std::string encoded_;
};

}  // namespace tally::store
