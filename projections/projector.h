// The projector: folds the events log into the LMDB views, exactly once (SPEC §6).
//
// CAVEATS (read these first)
//   - Exactly once comes from one place: every batch is ONE durable LMDB write transaction holding
//     the view changes, the history, the usage roll-ups, the rejects, the outbox entries (signals)
//     and the next offset of every partition it read. On start the projector seeks the log to the
//     stored offsets. A crash at any moment loses nothing and applies nothing twice; offsets
//     committed to Kafka (if any) are for lag monitoring only.
//   - One projector per data dir: open() takes an exclusive flock on DIR/projector.lock. A second
//     open (any process) fails with unavailable until the first is closed or dead.
//   - A data dir belongs to one log: the first start() records the log's identity and partition
//     count; a different identity or count, or a log that ends before the stored offsets (replaced
//     or truncated), is a startup error. Replay into a fresh data dir instead.
//   - Three threads: run_once folds batch N+1 on the calling thread while a writer thread (started
//     by start()) puts batch N into its write transaction and commits it, and a collector thread
//     reads batch N+2 from the caller's LogReader (only a batch this run_once will fold). run_once
//     returns only when every batch it folded is committed and the reader is no longer in use
//     (projections/projector_impl.h). The LogReader is used from one thread at a time, not always
//     the caller's.
//   - On MDB_MAP_FULL the batch's transaction is aborted, the map doubled (up to ProjectorOptions::
//     map_size_max_bytes) and the SAME batch put again; a batch is never skipped. Growth waits for
//     this process's read transactions (the fold's included). On MDB_TXN_FULL the folded state is
//     dropped and the log is read again from the committed offsets in half-size batches.
//   - A failed write (disk full, quota, an I/O error: ENOSPC, EDQUOT, EIO, ENOMEM, EROFS, …) pauses
//     the projector (SPEC §10): the SAME batch is put again after a backoff that doubles from
//     commit_retry_initial_ms to commit_retry_max_ms, for as long as it takes; health() says
//     degraded (and why, since when) meanwhile; readers are never blocked, and nothing is lost (the
//     log keeps the records, the views keep the last committed batch). Only LMDB's own errors
//     (corruption, MDB_PANIC after a failed meta write: restart the process) are final.
//   - Durable commits: one fsync per batch. Throughput comes from batch size and the threads, not
//     weaker commits. ProjectorOptions::defer_meta_sync (off unless set; `tally dev`/`serve` set it)
//     trades the last batch's durability against a system crash for one device flush per batch:
//     LMDB's MDB_NOMETASYNC, the view pages flushed at every commit and the meta page that makes
//     them current flushed by the next commit. It keeps the views whole (LMDB's integrity holds;
//     a process crash loses nothing), and a power loss can only take them back to the batch before,
//     never ahead of the log. That costs no acknowledged event: an event is acknowledged once the
//     LOG has it durably (journal: a synced commit; Kafka: acks=all), the views are derived from the
//     log alone, and the next start folds the lost batch again from the stored offsets to the same
//     views and the same outcomes (the fold is deterministic). What else rides on the views: an
//     outbox entry (signal) sent from the lost batch is sent again (at least once, as after any
//     crash between sending and recording it), and meta outbox_sent may fall back likewise.
//   - Determinism: views depend only on the log's records per partition, never on how partitions
//     interleave. An org's home partition is partition_for_key(org, partition count) (SPEC §3); its
//     events a producer put anywhere else are wrong_partition rejects, whichever is read first.
//
// Lifecycle: open() → start(reader) → run_once(reader)... or run(reader, stop) → destroy.
// THREAD SAFETY: start/run_once/run from one thread at a time. applied_offset, wait_until_applied,
// wait_for_outcome and metrics may be called from any thread, concurrently with run.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "engine/status.h"
#include "engine/types.h"
#include "log/log.h"
#include "projections/outcome_board.h"

namespace tally {

// What one committed batch did; handed to ProjectorOptions::on_commit after the commit.
struct CommittedBatch {
  std::size_t events = 0;
  std::vector<Offset> next_offsets;  // per partition (index = partition), after this batch
  uint64_t outbox_next = 1;          // sequence the next outbox entry will get
  uint64_t outbox_added = 0;         // entries this batch appended (sequences outbox_next - added ..)
  int64_t commit_latency_us = 0;     // fold + write + fsync of this batch
};

struct ProjectorOptions {
  std::size_t map_size_bytes = std::size_t{256} << 20;      // initial LMDB map size
  std::size_t map_size_max_bytes = std::size_t{1} << 42;    // growth stops here: run_once fails too_large
  std::size_t batch_events_max = 50'000;                    // records per batch (one write txn)
  int batch_time_max_ms = 100;                              // stop collecting a batch after this
  // Batches one run_once folds at most. Batch N+1 is folded while a writer thread commits batch N
  // and the next is read, so 1 means no overlap; run_once returns with every batch it folded
  // committed.
  std::size_t run_batches_max = 16;
  int poll_timeout_ms = 100;                                // wait this long for a batch's first record
  // Partitions to project; empty = all of the log. A subset is for a split deployment where each
  // projector owns some partitions in its own data dir.
  std::vector<int32_t> partitions;
  // Called on the projector thread (in run_once) after every committed batch, in commit order
  // (wake ?wait=1, the outbox emitter). While run_once folds the next batch it may come up to one
  // fold late; wait_until_applied wakes at the commit itself. Must not call back into run_once.
  std::function<void(const CommittedBatch&)> on_commit;
  // Backoff between attempts to commit a batch that failed with an operating error (see CAVEATS):
  // the first wait, and the most it doubles to.
  int commit_retry_initial_ms = 100;
  int commit_retry_max_ms = 5'000;
  // Fault injection, for tests of the recovery paths: called on the writer thread before each
  // attempt to put a batch into a write transaction; a non-zero code fails that attempt as if a
  // put had returned it (MDB_MAP_FULL grows the map, MDB_TXN_FULL refolds in smaller batches,
  // ENOSPC or EIO pause and retry, anything else is final). Empty in production.
  std::function<int()> commit_fault;
  // Commits flush the view pages but leave LMDB's meta page to the next commit (MDB_NOMETASYNC):
  // one device flush per batch instead of two. Only where the log is the source of truth and
  // acknowledges durably by itself (see CAVEATS); a replay into a data dir that nothing refolds
  // should leave it off.
  bool defer_meta_sync = false;
};

// Whether the projector is keeping up, for /healthz.
struct ProjectorHealth {
  bool degraded = false;         // a batch's commit is failing and being retried
  std::string reason;            // the last failure: "mdb_txn_commit: No space left on device"
  int64_t since_unix_ms = 0;     // the first failed attempt of this run of failures
  uint64_t failed_attempts = 0;  // attempts at the batch so far
};

struct ProjectorMetrics {
  uint64_t batches = 0;             // committed by this instance
  uint64_t events = 0;
  uint64_t map_grows = 0;
  uint64_t batch_retries = 0;       // batches put again after MDB_MAP_FULL, refolded after MDB_TXN_FULL
  uint64_t commit_retries = 0;      // failed attempts (disk full, I/O error) retried after a backoff
  int64_t last_commit_latency_us = 0;
  int64_t max_commit_latency_us = 0;
  uint64_t total_commit_latency_us = 0;
  // Where the time of committed batches went: folding, writing into the txn, mdb_txn_commit (the
  // page writes and fsyncs).
  uint64_t total_fold_us = 0;
  uint64_t total_write_us = 0;
  uint64_t total_sync_us = 0;
};

class Projector {
 public:
  // Opens (creating if missing) the store in `data_dir`.
  // Errors: invalid_argument (options out of range, field named); unavailable (another projector
  //   owns data_dir, or this process holds it read-only); corruption (format version); io_error.
  static Result<std::unique_ptr<Projector>> open(const std::string& data_dir, const ProjectorOptions& options);
  ~Projector();
  Projector(const Projector&) = delete;
  Projector& operator=(const Projector&) = delete;

  // Checks the log against the store (identity, partition count, end offsets) and seeks `reader`
  // to the stored next offset of every projected partition (0 for a new one). Must be called
  // before run_once on that reader, and again after seeking the reader elsewhere.
  // Errors: conflict (a different log or partition count), corruption (log shorter than the
  //   views), invalid_argument (a projected partition out of range), reader and LMDB errors.
  Status start(LogReader& reader);

  // Reads batches (each at most batch_events_max records and batch_time_max_ms of collecting;
  // waiting up to poll_timeout_ms for the first record only), folds and commits each in its own
  // write transaction, until the log has nothing more or run_batches_max batches are done.
  // Returns the number of records committed (0: nothing to read); all of them are committed
  // when it returns.
  // A failing commit (disk full, I/O error) is retried here until it succeeds: the call then
  // takes as long as that (request_stop() ends it).
  // Errors: reader errors; io_error/corruption from LMDB's own errors (nothing of the failed
  //   batch is committed; earlier ones are); too_large when the map would have to grow past
  //   map_size_max_bytes; unavailable after request_stop() during retries. An error is final:
  //   later calls return it again (reopen to go on, from the committed offsets).
  // REQUIRES: start(reader) succeeded.
  Result<std::size_t> run_once(LogReader& reader);

  // start(reader), then run_once until `stop` is set or an error occurs (returned). Set `stop`
  // and call request_stop() to end it while a commit is being retried (then ok is returned; the
  // uncommitted batch is folded again at the next start).
  Status run(LogReader& reader, const std::atomic<bool>& stop);

  // Makes a commit that is being retried give up at once, and every later one too (for shutdown).
  // Thread-safe.
  void request_stop();

  // Degraded while a commit is being retried. Thread-safe.
  ProjectorHealth health() const;

  // The next offset of `partition` that is committed (records below it are in the views).
  Offset applied_offset(PartitionId partition) const;
  // The same as a position: {partition, next committed offset} (an `as_of` for reads).
  LogPosition applied_position(PartitionId partition) const { return {partition, applied_offset(partition)}; }
  // Waits until the record at `position` is committed (read-your-writes). False on timeout or an
  // unknown partition.
  bool wait_until_applied(LogPosition position, int timeout_ms) const;
  // Waits until the record at `position` is committed and returns the outcome the fold gave it
  // (projections/outcome_board.h): ready; timed_out (not committed within timeout_ms, or a
  // partition this projector does not project); expired (committed, but before this projector
  // started or too many records ago for the partition's ring of recent outcomes).
  OutcomeWait wait_for_outcome(LogPosition position, int timeout_ms) const;

  ProjectorMetrics metrics() const;

  // Records that the outbox emitter has sent every entry up to `sequence` (meta "outbox_sent",
  // read back by ViewReader::stats). Never moves backwards: a smaller sequence is ignored.
  // Thread-safe: an emitter thread may call it while run() folds (LMDB serialises the writes).
  // Errors: invalid_argument (sequence beyond the outbox), io_error.
  Status record_outbox_sent(uint64_t sequence);
  const std::string& data_dir() const;

 private:
  struct Impl;
  explicit Projector(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace tally
