// The projector of a partitioned views directory (projections/partitioned_layout.h, SPEC §13):
// one Projector (projections/projector.h) per events partition this node owns, each folding its
// partition into its own LMDB store with its own reader, on its own thread.
//
// CAVEATS (read these first)
//   - Every guarantee of Projector holds per partition: a batch is one durable write transaction
//     of ONE partition's store (its views, offsets, outbox and chain head), so a partition moves
//     between machines, or is copied, as one environment. Partitions commit independently: a
//     read across partitions (org_ids, rejects, digests) may see one partition a batch ahead of
//     another. An org lives in one partition (its home), so every read of one org is consistent.
//   - Views depend only on each partition's records (the fold never reads another partition), so
//     the merged digests equal those of one Projector over every partition (tested).
//   - Threads: each owned partition has a thread running its Projector (which itself runs a
//     writer and a collector thread). A final error of one partition stops them all and is
//     returned by run(); the other partitions keep what they committed.
//   - Ownership may change while it runs (a consumer group's assignment, SPEC §13): add() opens a
//     partition's store, seeks a new reader to its stored offset and starts folding it; remove()
//     lets its in-flight run_once finish (graceful revoke) or asks it to give up a retried commit
//     (lost), joins its thread and closes its store. Whatever was committed stays in the store
//     for a later add() on this node. A Projector handed out by partition() stays valid while the
//     caller holds it, even across remove().
//   - The outbox of each partition has its own sequence from 1; an emitter per partition sends it
//     (Projector::record_outbox_sent on that partition's projector, partition()).
//
// Lifecycle: open() → start(open_reader) → run_once()... or run(stop) → destroy; add()/remove()
// at any time after start().
// THREAD SAFETY: start/run_once/run from one thread at a time; add and remove from one thread at
// a time (any thread, also while run runs). applied_offset, wait_until_applied, wait_for_outcome,
// health, metrics, partitions and partition() from any thread.
#pragma once

#include <atomic>
#include <cstddef>
#include <functional>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "engine/status.h"
#include "engine/types.h"
#include "log/log.h"
#include "projections/projector.h"

namespace tally {

namespace store {
class StoreEnv;
}

class PartitionedProjector {
 public:
  // Opens a reader of the events log positioned nowhere (one per owned partition).
  using OpenReader = std::function<Result<std::unique_ptr<LogReader>>()>;
  // Called after every committed batch of a partition, on that partition's thread.
  using OnCommit = std::function<void(PartitionId, const CommittedBatch&)>;

  // Makes `root` a partitioned views directory of `partition_count` partitions (or checks it is
  // one), makes every partition's store and holds it open for writing (so readers of this process
  // share it and add() can write it later), and opens the Projector of every owned partition: options.partitions (empty = all, unless
  // `none_at_first`: then none until add()). The options apply to each partition's Projector
  // (options.on_commit is ignored: use on_commit).
  // Errors: those of write_partitioned_layout (a directory of one store for every partition is
  //   refused, saying what to do) and Projector::open; invalid_argument (an owned partition out of
  //   range).
  static Result<std::unique_ptr<PartitionedProjector>> open(const std::string& root, int32_t partition_count,
                                                            const ProjectorOptions& options, OnCommit on_commit = {},
                                                            bool none_at_first = false);
  ~PartitionedProjector();
  PartitionedProjector(const PartitionedProjector&) = delete;
  PartitionedProjector& operator=(const PartitionedProjector&) = delete;

  // Opens a reader per owned partition and starts each partition's Projector on it (seeks it to
  // the partition's stored offset); keeps open_reader for add(). Errors: those of open_reader and
  // Projector::start; conflict when a reader's partition count is not the layout's.
  Status start(OpenReader open_reader);

  // Takes `partition` on: opens its store (made if new), starts it on a new reader and, while run()
  // runs, folds it on a thread of its own. No-op if owned. Errors: invalid_argument (out of
  // range); those of Projector::open and start (the partition is then not owned): unavailable
  // while someone still holds the Projector of an earlier remove() (its store is still open).
  // REQUIRES: start succeeded.
  Status add(PartitionId partition);
  // Gives `partition` up: no new batch starts; `graceful` lets the in-flight run_once commit what
  // it folded, otherwise a commit being retried gives up at once (a lost partition). Returns once
  // its thread has ended; the store closes when the last holder of its Projector lets go.
  // No-op if not owned.
  void remove(PartitionId partition, bool graceful);

  // One Projector::run_once of every owned partition, side by side. Returns the records committed
  // in all (0: nothing to read anywhere). Errors: the first partition's error (final, as
  // Projector::run_once). REQUIRES: start succeeded.
  Result<std::size_t> run_once();

  // Runs every owned partition (and every one add()ed meanwhile) until `stop` is set or one fails
  // (its error is returned; the others are stopped). Once per PartitionedProjector.
  // REQUIRES: start succeeded.
  Status run(const std::atomic<bool>& stop);

  // Projector::request_stop of every partition (shutdown while a commit is being retried).
  void request_stop();

  // Degraded if any partition is (the first such partition's reason, named).
  ProjectorHealth health() const;
  // Summed over the partitions (latency maxima: the largest).
  ProjectorMetrics metrics() const;

  Offset applied_offset(PartitionId partition) const;  // 0 for a partition not owned here
  bool wait_until_applied(LogPosition position, int timeout_ms) const;
  // As Projector::wait_for_outcome; timed_out for a partition not owned here.
  OutcomeWait wait_for_outcome(LogPosition position, int timeout_ms) const;

  // The Projector of `partition`, nullptr when it is not owned here.
  std::shared_ptr<Projector> partition(PartitionId partition) const;
  // The store of `partition` (every partition's is held open), nullptr out of range.
  std::shared_ptr<store::StoreEnv> store(PartitionId partition) const;
  // The partitions owned now, ascending.
  std::vector<int32_t> partitions() const;
  int32_t partition_count() const { return partition_count_; }
  const std::string& root() const { return root_; }

 private:
  struct Slot;
  PartitionedProjector(std::string root, int32_t partition_count, ProjectorOptions options, OnCommit on_commit);
  Result<std::shared_ptr<Slot>> open_slot(int32_t partition) const;
  Status start_slot(Slot& slot) const;
  void spawn(const std::shared_ptr<Slot>& slot);  // REQUIRES: mutex_ held, running_
  void fold_until_stopped(Slot& slot);           // a partition's thread while run() runs
  std::vector<std::shared_ptr<Slot>> owned_slots() const;

  const std::string root_;
  const int32_t partition_count_;
  const ProjectorOptions options_;
  const OnCommit on_commit_;
  OpenReader open_reader_;
  std::vector<std::shared_ptr<store::StoreEnv>> stores_;  // index = partition, every one
  mutable std::mutex mutex_;
  std::condition_variable changed_;                 // halt_, stop requests
  std::vector<std::shared_ptr<Slot>> slots_;        // index = partition; nullptr: not owned
  bool running_ = false;                            // run() is running (under mutex_)
  const std::atomic<bool>* stop_ = nullptr;         // run()'s stop flag while it runs
  std::atomic<bool> halt_{false};                   // a partition failed: stop the others
  Status first_error_;                              // under mutex_
};

}  // namespace tally
