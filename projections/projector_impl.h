// Internal: the state of a Projector (projections/projector.h). projector.cpp has the lifecycle
// (open, start, run, waiting); projector_batch.cpp folds and commits one batch.
#pragma once

#include <condition_variable>
#include <map>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "engine/fold.h"
#include "projections/lmdb_ledger.h"
#include "projections/projector.h"
#include "projections/records.h"
#include "projections/store.h"

namespace tally {

// Key/value pairs of one batch in one arena: no allocation per entry once warmed up.
class PutBuffer {
 public:
  void clear() {
    arena_.clear();
    entries_.clear();
  }
  void add(std::string_view key, std::string_view value) {
    entries_.push_back(Entry{arena_.size(), key.size(), value.size()});
    arena_.append(key).append(value);
  }
  std::size_t size() const { return entries_.size(); }
  // Sorts by key (stable: equal keys keep insertion order).
  void sort_by_key();
  template <typename F>
  int for_each(F&& f) const {
    for (const Entry& e : entries_) {
      if (int rc = f(key(e), value(e)); rc != 0) return rc;
    }
    return 0;
  }

 private:
  struct Entry {
    std::size_t offset;
    std::size_t key_size;
    std::size_t value_size;
  };
  std::string_view key(const Entry& e) const { return std::string_view(arena_).substr(e.offset, e.key_size); }
  std::string_view value(const Entry& e) const {
    return std::string_view(arena_).substr(e.offset + e.key_size, e.value_size);
  }
  std::string arena_;
  std::vector<Entry> entries_;
};

// One record of the batch being folded, copied out of the reader's buffers (they are only valid
// until the next poll, and a batch may take several polls and be refolded after MDB_MAP_FULL).
struct BatchRecord {
  LogPosition position;
  std::size_t value_offset = 0;
  std::size_t value_size = 0;
};

struct Projector::Impl {
  std::string data_dir;
  ProjectorOptions options;
  std::shared_ptr<store::StoreEnv> env;
  int lock_fd = -1;
  store::LmdbLedger ledger;

  // Set by start().
  bool started = false;
  int32_t partition_count = 0;
  std::vector<int32_t> projected;  // sorted partitions this projector reads

  // Committed state (the projector thread writes; readers of applied_offset take `mutex`).
  mutable std::mutex mutex;
  mutable std::condition_variable applied_cv;
  std::vector<Offset> committed_next;  // index = partition
  uint64_t outbox_next = 1;
  store::StoredStats stats;
  std::size_t stored_map_size = 0;
  ProjectorMetrics metrics;

  // The batch being folded.
  std::string batch_arena;
  std::vector<BatchRecord> batch;
  std::vector<LogRecord> polled;
  FoldResult result;
  std::vector<Offset> batch_next;
  std::vector<bool> batch_touched;
  uint64_t batch_outbox_next = 1;
  store::StoredStats batch_stats;
  PutBuffer history;
  PutBuffer rejects;
  PutBuffer outbox;
  struct StringHash {
    using is_transparent = void;
    std::size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
  };
  std::unordered_map<std::string, UsageRollup, StringHash, std::equal_to<>> rollups;
  std::vector<const std::pair<const std::string, UsageRollup>*> rollups_sorted;
  DigestBuilder digest_scratch;
  std::string key_scratch;
  std::string value_scratch;
  std::string history_chunk;

  explicit Impl(std::shared_ptr<store::StoreEnv> e) : env(std::move(e)), ledger(*env) {}

  Status load_committed();
  Status load_committed_state();  // in one read txn
  Status collect_batch(LogReader& reader);
  // Folds batch[0, count) and commits it. On MDB_TXN_FULL with count > 1 it sets `count` to the
  // part that was committed. Returns ok or the error that stopped the batch.
  Status fold_and_commit(std::size_t& count);
  // One attempt: returns an LMDB code (0 = committed) or sets `error` for a non-LMDB failure.
  int attempt(std::size_t count, Status& error, std::string& failed_call);
  void record_effects(LogPosition position);
  int write_batch(MDB_txn* txn, std::string& failed_call);
  template <typename Put>
  int write_history(Put& put);
  int write_rollups(MDB_txn* txn, std::string& failed_call);
  void publish(std::size_t count, int64_t latency_us, uint64_t outbox_added);
};

}  // namespace tally
