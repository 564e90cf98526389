// Internal: the state of a Projector (projections/projector.h). projector.cpp has the lifecycle
// (open, start, run, waiting); projector_batch.cpp folds a batch and writes it into a transaction;
// projector_commit.cpp commits it on the writer thread (growing the map, retrying failed writes),
// after chaining its records (projector_chain.cpp: SHA-256 costs about a third of a fold, so it is
// done beside the fold, not in it).
//
// Pipeline: run_once folds batch N+1 on the calling thread while the writer thread puts batch N
// into one LMDB write txn and commits it (the two halves take about as long), and the collector
// thread reads batch N+2 from the log. At most one batch is with the writer and one with the
// collector; run_once returns only when both are idle, so everything it counted is committed and
// the caller's LogReader is no longer in use (a batch is read ahead only when the same run_once
// call will fold it). The fold reads the store through a read txn: what batch N changed is in the
// ledger's caches (projections/lmdb_ledger.h). A batch the writer cannot commit (other than MDB_MAP_FULL,
// which grows the map and puts the same batch again, and an operating error such as ENOSPC or EIO,
// after which the writer waits and puts the same batch again: the pipeline pauses meanwhile) stops
// the pipeline: MDB_TXN_FULL drops the folded state, rewinds the reader to the committed offsets
// and goes on with smaller batches; any other error is final for this Projector.
#pragma once

#include <array>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "engine/fold.h"
#include "projections/lmdb_ledger.h"
#include "projections/one_job_worker.h"
#include "projections/outcome_board.h"
#include "projections/projector.h"
#include "projections/put_buffer.h"
#include "projections/records.h"
#include "projections/store.h"

namespace tally {
namespace fb { struct Usage; }

// One record of the batch being folded, copied out of the reader's buffers (they are only valid
// until the next poll, and a batch may take several polls).
struct BatchRecord {
  LogPosition position;
  std::size_t value_offset = 0;
  std::size_t value_size = 0;
  int64_t appended_at_ms = 0;      // LogRecord::appended_at_ms
  std::size_t damage_offset = 0;   // LogRecord::damage, in the arena after the value
  std::size_t damage_size = 0;     // 0: an intact record
  // Set by the fold for the writer's hash chain: false for a record skipped as already folded.
  bool folded = false;
  Outcome outcome = Outcome::applied;
  RejectReason reason = RejectReason::none;
};

// The records of one batch as read from the log (collect_batch).
struct BatchInput {
  std::string arena;                // 8-byte aligned copies of the values
  std::vector<BatchRecord> batch;
  std::vector<LogRecord> polled;    // scratch of LogReader::poll
};

// Everything one batch writes: filled by the fold on the projector thread, committed by the
// writer thread in one LMDB write transaction while the next batch is folded.
struct BatchOutput {
  // The records (aligned copies): the fold reads them, and `histories` points into them until the
  // writer is done with this batch.
  std::string arena;
  std::vector<BatchRecord> batch;
  // A history entry to encode: the writer encodes it (views into `arena`, `detail` a copy), and
  // for applied usage also its roll-up delta. A `hold_expired` entry has no record of its own: its
  // org and hold id are copies too (`expired`), viewed by the writer.
  struct PendingHistory {
    store::HistoryFields fields;
    std::string_view org_id;
    uint64_t sequence = 0;
    std::string detail;
    const fb::Usage* usage = nullptr;  // applied usage: the event's body (in `arena`)
    bool expired = false;  // a hold_expired or grant_expired entry: its org id and key are copies below
    std::string expired_org_id, expired_hold_id;
    std::string fundings;  // store::encode_fundings of the fold's fundings (SPEC §12)
  };
  std::vector<PendingHistory> histories;
  std::size_t history_count = 0;  // used entries of `histories` (kept to reuse their strings)

  store::LmdbLedger::Changes states;  // orgs, members, purchases, keys
  PutBuffer history;                  // org \0 sequence → entry (the writer's), packed into chunks
  PutBuffer rejects;
  PutBuffer org_rejects;              // org \0 position → placement + entry (the "org_rejects" index)
  PutBuffer outbox;
  PutBuffer org_signals;              // org \0 outbox sequence → kind (the "org_signals" index)
  PutBuffer partitions;               // partition key → encode(PartitionState); the writer adds offset and chain
  PutBuffer chain;                    // "chain" chunks (the writer's)
  std::vector<ChainHead> chain_heads; // per partition, after this batch (the writer's)
  bool chained = false;               // chain and chain_heads are filled (MAP_FULL retries reuse them)
  PutBuffer usage;                    // usage key → one usage event's roll-up delta (with names; the writer's)
  PutBuffer payments;                 // payment ref → purchase (the writer's)
  // The outcome of every folded record, published to waiters once the batch is committed. Used
  // entries: outcome_count (the rest keep their strings for reuse).
  std::vector<RecordOutcome> outcomes;
  std::size_t outcome_count = 0;
  std::vector<Offset> next;           // per partition, after this batch
  uint64_t outbox_next = 1;
  uint64_t outbox_added = 0;
  store::StoredStats stats;
  std::size_t records = 0;            // records of the batch (folded or skipped as already folded)
  std::chrono::steady_clock::time_point started_at;
  int64_t fold_us = 0;

  void clear();
};

// What the writer thread reports for one batch.
struct WriteOutcome {
  int rc = 0;                // 0: committed; else the LMDB code of failed_call
  Status error;              // a non-LMDB failure (too_large, …)
  std::string failed_call;
};

// A commit error that may go away (disk full, I/O error, …): the batch is retried, not failed.
bool commit_error_is_transient(int rc);

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
  // Set when a batch failed for good: every later run_once returns it (reopen to go on).
  Status failure;
  ProjectorHealth health;        // under `mutex`; the writer sets it while retrying a commit
  bool stop_requested = false;   // under `mutex`: request_stop()
  mutable std::condition_variable retry_cv;  // wakes a writer waiting to retry (request_stop)

  // Committed state (the writer thread writes it; readers take `mutex`).
  mutable std::mutex mutex;
  // A thread in wait_until_applied/wait_for_outcome, woken only once its record is committed:
  // with dozens of requests waiting, waking every one of them at every commit (one shared
  // condition) cost more CPU than the requests' own work. Registered under `mutex`.
  struct AppliedWaiter {
    LogPosition position;
    std::condition_variable cv;
  };
  mutable std::vector<AppliedWaiter*> applied_waiters;
  std::vector<Offset> committed_next;  // index = partition
  uint64_t outbox_next = 1;
  store::StoredStats stats;
  std::size_t stored_map_size = 0;
  ProjectorMetrics metrics;
  std::vector<CommittedBatch> to_announce;  // committed, on_commit not called yet (under `mutex`)
  // The hash chain of every partition as committed (index = partition). The writer thread's once
  // started: it chains each batch from it and adopts the batch's heads when the batch commits.
  std::vector<ChainHead> committed_chain;
  // Outcomes of committed records, for wait_for_outcome. Made by the first start() (under `mutex`).
  std::unique_ptr<OutcomeBoard> outcome_board;

  // Folded state: committed plus the batches handed to the writer (projector thread only).
  std::vector<Offset> folded_next;
  uint64_t folded_outbox_next = 1;
  store::StoredStats folded_stats;
  std::size_t batch_limit = 0;  // records per batch; halved after MDB_TXN_FULL

  // The batch being folded: outputs[filling].batch.
  FoldResult result;
  std::vector<bool> batch_touched;
  std::array<BatchOutput, 2> outputs;
  std::size_t filling = 0;  // index into outputs of the batch being folded
  std::string prefetch_scope;
  std::string value_scratch;
  std::string history_key_of_index;  // fold-thread scratch: keys of "org_rejects" and "org_signals"

  // The writer thread commits a batch; the collector thread reads the next batch from a reader
  // into `collected`.
  OneJobWorker<BatchOutput*, WriteOutcome> writer;
  OneJobWorker<LogReader*, Status> collector;
  BatchInput collected;
  BatchInput sync_input;    // scratch of the batches run_once reads itself

  // Writer-thread scratch.
  std::string write_scratch;
  std::string history_key_scratch;
  std::string history_chunk;
  std::string usage_key_scratch;
  std::string usage_value_scratch;
  DigestBuilder usage_digest_scratch;
  std::vector<std::string> chain_chunks;  // per partition
  std::vector<Offset> chain_first, chain_expected;

  explicit Impl(std::shared_ptr<store::StoreEnv> e) : env(std::move(e)), ledger(*env) {}
  ~Impl();

  Status load_committed();
  Status load_committed_state();  // in one read txn
  // Resets the folded state to the committed one (start, and after a batch was dropped).
  void rewind_folded();
  // Drops the folded state, seeks `reader` back to the committed offsets and sets the batch size.
  Status rewind(LogReader& reader, std::size_t next_batch_limit);
  // Makes `status` final (run_once returns it from now on), once the writer is idle.
  Status fail(Status status);
  // Reads the next batch into `into` (at most batch_limit records; waits for the first record up
  // to poll_timeout_ms if `wait`). Touches nothing else of Impl, so the collector thread can run it.
  Status collect_batch(LogReader& reader, bool wait, BatchInput& into) const;
  // Moves a collected batch into outputs[filling] (its old buffers go back to `input` for reuse).
  void take_input(BatchInput& input);

  // Folds the collected batch into outputs[filling] against a read txn.
  Status fold_batch();
  // Folds a record the log could not read (LogRecord::damage) as a rejected damaged_record.
  void fold_damaged(const BatchRecord& record, std::string_view damage);
  void record_effects(LogPosition position, BatchOutput& out);
  void record_outcome(LogPosition position, BatchOutput& out);
  void record_org_reject(LogPosition position, const OrgState* org, bool in_history, BatchOutput& out);
  void record_expired_holds(LogPosition position, BatchOutput& out);
  store::HistoryFields* add_clock_entry(LogPosition position, BatchOutput& out, std::string_view org_id,
                                        std::string_view key, std::string detail);
  // The grant_expired entries of the grants the clock expired while folding this record (SPEC §12):
  // those of the record's own org expired before its event (`before_event`: written before its
  // entry), or the others (after it). projector_grants.cpp.
  void record_expired_grants(LogPosition position, BatchOutput& out, bool before_event);

  // Waits until the writer is idle; returns the outcome of its last job (rc 0 if none) and calls
  // on_commit for every batch committed since the last call.
  WriteOutcome wait_writer();
  // Whether `position` is committed (under `mutex`).
  bool is_applied(LogPosition position) const;
  // Waits on `lock` (of `mutex`) until `position` is committed or `timeout_ms` passed.
  bool wait_applied(std::unique_lock<std::mutex>& lock, LogPosition position, int timeout_ms) const;
  // Commits `out` in one write txn, growing the map on MDB_MAP_FULL and putting it again, retrying
  // after a backoff on an operating error (projector_commit.cpp).
  WriteOutcome commit(BatchOutput& out);
  WriteOutcome commit_once(BatchOutput& out);
  Status grow_map();
  bool wait_to_retry(const WriteOutcome& outcome, uint64_t failures);
  void recovered();
  int write_batch(MDB_txn* txn, BatchOutput& out, std::string& failed_call);
  // Encodes the batch's history entries and usage deltas (once: MAP_FULL retries reuse them).
  void encode_histories(BatchOutput& out);
  template <typename Put>
  int write_history(BatchOutput& out, Put& put);
  int write_rollups(MDB_txn* txn, BatchOutput& out, std::string& failed_call);
  // Chains the batch's folded records onto committed_chain: out.chain_heads and the "chain"
  // chunks (once per batch). projector_chain.cpp.
  void chain_batch(BatchOutput& out);
  // Puts the "chain" chunks and the "partitions" values (offset, chain head, state) of the batch.
  int write_chain(MDB_txn* txn, BatchOutput& out, std::string& failed_call);
  void publish(const BatchOutput& out, int64_t write_us, int64_t sync_us);
  void publish(BatchOutput& out, int64_t write_us, int64_t sync_us);
};

}  // namespace tally
