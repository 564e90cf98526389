// Committing one batch on the writer thread: one LMDB write transaction, grown on MDB_MAP_FULL and
// retried with backoff on an operating error (a full or failing disk), never skipped.
#include <algorithm>
#include <cerrno>
#include <chrono>

#include "projections/projector_impl.h"

namespace tally {
namespace {

using Clock = std::chrono::steady_clock;

// Map doublings of one batch: each doubles the map, so more is not growth but a fault.
inline constexpr int batch_map_grows_max = 48;

int64_t unix_ms_now() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace

bool commit_error_is_transient(int rc) {
  switch (rc) {
    case ENOSPC:   // disk full: space may be freed
    case EDQUOT:   // quota: may be raised
    case EIO:      // a failing write or fsync: the device may come back (the batch is written again whole)
    case ENOMEM:
    case EAGAIN:
    case EINTR:
    case EROFS:    // remounted read-only after an error: may be remounted
    case ENFILE:
    case EMFILE:
      return true;
    default:
      return false;  // LMDB's own codes (corruption, MDB_PANIC, a bad transaction) and the rest
  }
}

WriteOutcome Projector::Impl::commit(BatchOutput& out) {
  int map_grows = 0;
  for (uint64_t failures = 0;;) {
    WriteOutcome outcome = commit_once(out);
    if (outcome.rc == 0 && outcome.error.is_ok()) {
      if (failures > 0) recovered();
      return outcome;
    }
    if (outcome.rc == MDB_MAP_FULL) {
      // Grow and put the same batch again (the fold is not repeated).
      outcome.error = ++map_grows > batch_map_grows_max
                          ? Status::error(Status::Code::io_error, "the batch still does not fit after " +
                                                                      std::to_string(batch_map_grows_max) +
                                                                      " map doublings")
                          : grow_map();
      if (!outcome.error.is_ok()) return outcome;
      continue;
    }
    if (!outcome.error.is_ok() || !commit_error_is_transient(outcome.rc)) return outcome;  // final
    if (!wait_to_retry(outcome, ++failures)) {
      outcome.error = Status::error(Status::Code::unavailable,
                                    "stopped while retrying a failed commit (" +
                                        store::lmdb_error(outcome.failed_call, outcome.rc).message() +
                                        "); the batch is not committed and is folded again on the next start");
      return outcome;
    }
  }
}

// One attempt: a write transaction with the batch's puts, committed.
WriteOutcome Projector::Impl::commit_once(BatchOutput& out) {
  const auto us = [](auto d) { return std::chrono::duration_cast<std::chrono::microseconds>(d).count(); };
  WriteOutcome outcome;
  const auto started_at = Clock::now();
  lmdb::Txn txn;
  if (outcome.rc = txn.begin(env->get()); outcome.rc != 0) {
    outcome.failed_call = "mdb_txn_begin(write)";
    return outcome;
  }
  if (options.commit_fault) outcome.rc = options.commit_fault();
  if (outcome.rc != 0) {
    outcome.failed_call = "commit_fault (injected)";
  } else {
    outcome.rc = write_batch(txn.get(), out, outcome.failed_call);
  }
  const auto written_at = Clock::now();
  if (outcome.rc != 0) return outcome;  // `txn` aborts
  outcome.rc = txn.commit();            // ends the txn, committed or not
  if (outcome.rc != 0) {
    outcome.failed_call = "mdb_txn_commit";
    return outcome;
  }
  publish(out, us(written_at - started_at), us(Clock::now() - written_at));
  return outcome;
}

Status Projector::Impl::grow_map() {
  const std::size_t current = env->map_size();
  if (current >= options.map_size_max_bytes) {
    return Status::error(Status::Code::too_large, "the views need more than map_size_max_bytes (" +
                                                      std::to_string(options.map_size_max_bytes) + " bytes)");
  }
  // Waits for the fold's read txn to end (it never waits for this thread while holding it).
  if (Status s = env->set_map_size(std::min(current * 2, options.map_size_max_bytes)); !s.is_ok()) return s;
  std::lock_guard lock(mutex);
  stored_map_size = env->map_size();
  ++metrics.map_grows;
  ++metrics.batch_retries;
  return Status::ok();
}

// Marks the projector degraded, then waits the backoff of the `failures`-th failed attempt (or
// until request_stop()). False when stopped.
bool Projector::Impl::wait_to_retry(const WriteOutcome& outcome, uint64_t failures) {
  const int shift = static_cast<int>(std::min<uint64_t>(failures - 1, 30));
  const int64_t backoff_ms = std::min<int64_t>(int64_t{options.commit_retry_initial_ms} << shift,
                                               options.commit_retry_max_ms);
  std::unique_lock lock(mutex);
  if (!health.degraded) {
    health.degraded = true;
    health.since_unix_ms = unix_ms_now();
  }
  health.reason = store::lmdb_error(outcome.failed_call, outcome.rc).message();
  health.failed_attempts = failures;
  ++metrics.commit_retries;
  return !retry_cv.wait_for(lock, std::chrono::milliseconds(backoff_ms), [this] { return stop_requested; });
}

void Projector::Impl::recovered() {
  std::lock_guard lock(mutex);
  health = ProjectorHealth{};
}

void Projector::Impl::publish(BatchOutput& out, int64_t write_us, int64_t sync_us) {
  committed_chain = out.chain_heads;  // the writer thread's own: no lock
  const int64_t latency_us = std::chrono::duration_cast<std::chrono::microseconds>(
                                 std::chrono::steady_clock::now() - out.started_at)
                                 .count();
  // Committed: the outcomes may be seen now, and before committed_next says so, so that a waiter
  // woken for its record finds them.
  if (outcome_board) outcome_board->publish(std::span<RecordOutcome>(out.outcomes.data(), out.outcome_count));
  {
    std::lock_guard lock(mutex);
    committed_next = out.next;
    outbox_next = out.outbox_next;
    stats = out.stats;
    ++metrics.batches;
    metrics.events += out.records;
    metrics.last_commit_latency_us = latency_us;
    metrics.max_commit_latency_us = std::max(metrics.max_commit_latency_us, latency_us);
    metrics.total_commit_latency_us += static_cast<uint64_t>(latency_us);
    metrics.total_fold_us += static_cast<uint64_t>(out.fold_us);
    metrics.total_write_us += static_cast<uint64_t>(write_us);
    metrics.total_sync_us += static_cast<uint64_t>(sync_us);
    if (options.on_commit) {
      CommittedBatch& committed = to_announce.emplace_back();
      committed.events = out.records;
      committed.next_offsets = committed_next;
      committed.outbox_next = out.outbox_next;
      committed.outbox_added = out.outbox_added;
      committed.commit_latency_us = latency_us;
    }
    // Under the lock: a waiter leaves (and its condition goes) only under it.
    for (AppliedWaiter* waiter : applied_waiters) {
      if (is_applied(waiter->position)) waiter->cv.notify_one();
    }
  }
}

}  // namespace tally
