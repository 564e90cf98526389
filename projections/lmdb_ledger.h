// LmdbLedger: the fold's Ledger (engine/ledger.h) over the LMDB store, with a write-back cache.
// The projector folds a batch against it, then takes the batch's changes as puts (a write set) that
// its writer thread commits while the next batch is folded (projections/projector_impl.h).
//
// Lifecycle: begin(txn) → the fold calls find_*/create_*/put_*/partition() → take_changes() →
// the next batch's begin(txn) … Nothing is written to LMDB by this class.
//  - `txn` (a read txn, or any txn) serves lookups that miss the caches. It may be older than the
//    batches handed to the writer and not yet committed: everything those batches changed is still
//    cached here, so a miss never needs them.
//  - Org, member and partition states stay cached for the life of the ledger (only the projector
//    changes them; orgs and members are few next to events, so the cache holds every one touched
//    since start). take_changes() encodes every created entry and every entry of the batch that
//    differs from what was last handed out, in key order.
//  - Closed grants (SPEC §12) are looked up only by voids and never change: those put by this batch
//    and the last one handed out are kept in memory, others are read from the store.
//  - Purchases are looked up only by refunds: cached for one batch, and those of the batch last
//    handed out stay visible to the next one (it may not be committed yet when that one reads).
//  - Idempotency keys are permanent, so their records stay on disk, in the "keys" view's chunks;
//    memory holds a KeyLocator (engine/key_locator.h: a tag of each key and its chunk, ~9–13
//    bytes a key) and a directory of chunks (their LMDB keys, 12 bytes a chunk). The first begin()
//    reads every committed chunk to build them. put_key appends the key to its partition's open
//    chunk of this batch (a chunk holds at most keys_chunk_bytes_max bytes, so a lookup reads one
//    page); take_changes() hands the chunks out. A find_key whose tag is known reads the chunk
//    (from this batch, from the batch last handed out, which may not be committed yet, or from
//    the store) and compares the whole digest.
//  - reset() forgets everything (after a batch could not be committed): the next begin() reloads
//    from the store, which then holds only committed batches.
//  - Read or decode failures cannot be returned through the Ledger interface: the first one is
//    kept in error() (sticky until reset) and the lookup answers "absent". The projector checks
//    error() after folding and never hands such a batch to the writer.
//
// THREAD SAFETY: not thread-safe; one projector thread.
#pragma once

#include <array>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "engine/id_table.h"
#include "engine/key_index.h"
#include "engine/key_locator.h"
#include "engine/ledger.h"
#include "projections/put_buffer.h"
#include "projections/store.h"

namespace tally::store {

class LmdbLedger final : public Ledger {
 public:
  explicit LmdbLedger(StoreEnv& env) : env_(env) {}

  // The puts of one batch, for the writer: encoded states and one keys chunk per partition.
  struct Changes {
    PutBuffer orgs;
    PutBuffer members;
    PutBuffer purchases;
    PutBuffer keys;
    PutBuffer grants;  // closed grants (SPEC §12), each put once
    void clear() {
      orgs.clear();
      members.clear();
      purchases.clear();
      keys.clear();
      grants.clear();
    }
  };

  // REQUIRES: no batch in progress; `txn` is a txn of env, alive until take_changes(); every
  // batch handed out before the last one is committed and visible in `txn` (the projector waits
  // for its writer before it submits the next batch), or reset() was called. `records` sizes the
  // caches.
  void begin(MDB_txn* txn, std::size_t records);
  // Ends the batch: appends its changes to `out` and counts them as handed out.
  void take_changes(Changes& out);
  // Forgets every cached state, the key locator and the sticky error.
  void reset();
  // About how many keys the coming batches will add (the log's backlog): the first begin() sizes
  // the key locator for them at once instead of growing it batch after batch. A hint.
  void expect_new_keys(std::size_t keys) { expected_new_keys_ = keys; }
  const Status& error() const { return error_; }
  // How many cached org and member states the last take_changes() looked at: the ones the fold was
  // handed in that batch (a batch costs what it touches, not what the cache holds).
  std::size_t states_examined() const { return states_examined_; }
  // The log position of the record the fold is about to apply (the key of its "keys" entry).
  void set_position(LogPosition position) {
    position_ = position;
    memo_valid_ = false;
  }

  // The cached state of a partition, or null if this ledger has not loaded it.
  const PartitionState* cached_partition(PartitionId partition) const;

  OrgState* find_org(OrgIdView org) override;
  OrgState& create_org(OrgIdView org) override;
  MemberState* find_member(OrgIdView org, MemberIdView member) override;
  MemberState& create_member(OrgIdView org, MemberIdView member) override;
  const KeyRecord* find_key(std::string_view scope, std::string_view key) override;
  void put_key(std::string_view scope, std::string_view key, const KeyRecord& record) override;
  void prefetch_key(std::string_view scope, std::string_view key) override;
  bool wants_state_hints() const override { return orgs_.is_large() || members_.is_large(); }
  void prefetch_org(std::string_view org, PrefetchStage stage) override;
  void prefetch_member(std::string_view org, std::string_view member, PrefetchStage stage) override;
  PurchaseRecord* find_purchase(OrgIdView org, std::string_view key) override;
  void put_purchase(OrgIdView org, std::string_view key, const PurchaseRecord& record) override;
  const Grant* find_closed_grant(OrgIdView org, std::string_view grant_id) override;
  void put_closed_grant(OrgIdView org, const Grant& grant) override;
  PartitionState& partition(PartitionId partition) override;

 private:
  struct Hash {
    using is_transparent = void;
    std::size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
  };
  template <typename T>
  using Cache = std::unordered_map<std::string, T, Hash, std::equal_to<>>;
  // A chunk of "keys": its LMDB key (the position of its first key) and its records.
  struct KeyChunk {
    std::array<char, 12> key;
    std::string records;
  };
  // A cached state and what was last handed out (absent: created since). Only an entry handed to
  // the fold in this batch (`touched`: found or created) can have changed: the others are neither
  // compared nor copied at the batch's end (an org's state holds its grants, SPEC §12).
  template <typename T>
  struct Entry {
    T state;
    std::optional<T> stored;
    bool touched = true;
    bool changed() const { return touched && (!stored || !(*stored == state)); }
  };

  // Reads `key` of `db` into `out`; false if absent or on error (then error_ is set).
  template <typename T>
  bool load(Db db, std::string_view key, T& out);
  void fail(Status status);
  void load_key_index();
  void take_keys(PutBuffer& out);
  // The chunk numbered `chunk` (this batch's, the last handed out, or the store's).
  std::string_view key_chunk(KeyLocator::Chunk chunk);
  // Looks `key` up among the records of `chunk`; on a match decodes its record into found_key_.
  bool find_in_chunk(std::string_view chunk, const Digest128& key);
  // This batch's open chunk of the current position's partition, with room for `bytes` more.
  KeyChunk& open_key_chunk(std::size_t bytes);
  void take_closed_grants(PutBuffer& out);
  // idempotency_digest(scope, key), remembered for the record being applied: the fold looks a key
  // up and then puts it, with the same views into the record.
  Digest128 key_digest(std::string_view scope, std::string_view key);
  // The cached entries the fold was handed in this batch: only these can have changed, so the end
  // of a batch costs what the batch touched, not what the cache holds (every org and member seen
  // since start).
  // Org and member states by id (engine/id_table.h: slots a caller folding in order can prefetch).
  template <typename T>
  using StateTable = IdTable<Entry<T>>;
  template <typename T>
  using Touched = std::vector<typename StateTable<T>::Entry*>;
  template <typename T>
  T& touch(typename StateTable<T>::Entry& entry, Touched<T>& touched);
  // Encodes the changed entries among `entries`, in key order.
  template <typename T>
  void take_states(const Touched<T>& entries, PutBuffer& out);
  // What was handed out is what the store will hold: the next batch writes only what it changes.
  template <typename T>
  static void hand_out(Touched<T>& touched);
  void take_purchases(PutBuffer& out);

  StoreEnv& env_;
  MDB_txn* txn_ = nullptr;
  Status error_;
  StateTable<OrgState> orgs_;
  StateTable<MemberState> members_;  // by pair_key(org, member)
  std::string hint_scratch_;
  Touched<OrgState> touched_orgs_;
  Touched<MemberState> touched_members_;
  std::size_t states_examined_ = 0;
  KeyLocator key_locator_;
  bool key_index_loaded_ = false;
  std::size_t expected_new_keys_ = 0;  // until the index is loaded
  // Chunk n's LMDB key is key_chunk_keys_[n - 1]; those from batch_chunks_first_ on are this
  // batch's (batch_key_chunks_), those from handed_out_chunks_first_ on the last batch handed out.
  std::vector<std::array<char, 12>> key_chunk_keys_;
  std::vector<KeyChunk> batch_key_chunks_;
  std::vector<std::pair<int32_t, std::size_t>> open_key_chunks_;  // partition, index in batch_key_chunks_
  std::vector<std::string> handed_out_key_chunks_;
  KeyLocator::Chunk batch_chunks_first_ = 1;
  KeyLocator::Chunk handed_out_chunks_first_ = 1;
  KeyRecord found_key_;
  std::string digest_scratch_;
  bool memo_valid_ = false;  // until the next set_position()
  std::string_view memo_scope_, memo_key_;
  Digest128 memo_digest_;
  LogPosition position_;
  Cache<Entry<PurchaseRecord>> purchases_;
  Cache<PurchaseRecord> handed_out_purchases_;  // the last batch's, maybe not committed yet
  Cache<Grant> closed_grants_;                  // put by this batch
  Cache<Grant> handed_out_grants_;              // the last batch's, maybe not committed yet
  Cache<Grant> loaded_grants_;                  // read from the store by this batch
  std::map<int32_t, PartitionState> partitions_;
  std::string scratch_;
  std::string encoded_;
};

}  // namespace tally::store
