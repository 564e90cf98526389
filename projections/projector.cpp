#include "projections/projector.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <algorithm>
#include <cassert>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <utility>

#include "engine/assert.h"
#include "engine/limits.h"
#include "projections/projector_impl.h"

namespace tally {

using store::Db;
using store::from_val;
using store::to_val;

namespace {

// Keys the key locator is sized for at start, at most (about 56 MB of locator at 4M keys).
inline constexpr std::size_t key_index_reserve_max = std::size_t{4} << 20;

Status check_options(const ProjectorOptions& o) {
  if (o.map_size_bytes < store::map_size_min_bytes) {
    return Status::invalid("map_size_bytes", "must be >= " + std::to_string(store::map_size_min_bytes));
  }
  if (o.map_size_max_bytes < o.map_size_bytes) return Status::invalid("map_size_max_bytes", "must be >= map_size_bytes");
  if (o.batch_events_max == 0 || o.batch_events_max > 1'000'000) {
    return Status::invalid("batch_events_max", "must be 1..1000000");
  }
  if (o.batch_time_max_ms < 0) return Status::invalid("batch_time_max_ms", "must be >= 0");
  if (o.run_batches_max == 0) return Status::invalid("run_batches_max", "must be >= 1");
  if (o.poll_timeout_ms < 0) return Status::invalid("poll_timeout_ms", "must be >= 0");
  if (o.commit_retry_initial_ms < 1) return Status::invalid("commit_retry_initial_ms", "must be >= 1");
  if (o.commit_retry_max_ms < o.commit_retry_initial_ms) {
    return Status::invalid("commit_retry_max_ms", "must be >= commit_retry_initial_ms");
  }
  for (int32_t p : o.partitions) {
    if (p < 0 || p >= limits::partitions_max) return Status::invalid("partitions", "partition out of range");
  }
  return Status::ok();
}

Status lock_data_dir(const std::string& dir, int& fd) {
  const std::string path = dir + "/projector.lock";
  fd = ::open(path.c_str(), O_CREAT | O_RDWR | O_CLOEXEC, 0600);  // owner only, as the views (SPEC §10)
  if (fd < 0) return Status::error(Status::Code::io_error, "open " + path + ": " + std::strerror(errno));
  if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
    const int err = errno;
    ::close(fd);
    fd = -1;
    if (err == EWOULDBLOCK) {
      return Status::error(Status::Code::unavailable, "another projector is running on " + dir);
    }
    return Status::error(Status::Code::io_error, "flock " + path + ": " + std::strerror(err));
  }
  return Status::ok();
}

// Identity and partition count of the log: recorded by the first start, checked by every later one.
Status check_log_identity(store::StoreEnv& env, const std::string& data_dir, const std::string& identity,
                          int32_t count) {
  lmdb::Txn txn;
  if (int rc = txn.begin(env.get()); rc != 0) return store::lmdb_error("mdb_txn_begin", rc);
  MDB_val key = to_val(store::meta_log_identity);
  MDB_val value;
  int rc = mdb_get(txn.get(), env.dbi(Db::meta), &key, &value);
  if (rc == MDB_NOTFOUND) {
    std::string count_bytes;
    store::put_u32_be(count_bytes, static_cast<uint32_t>(count));
    MDB_val id_val = to_val(identity);
    MDB_val count_key = to_val(store::meta_partition_count);
    MDB_val count_val = to_val(count_bytes);
    rc = mdb_put(txn.get(), env.dbi(Db::meta), &key, &id_val, 0);
    if (rc == 0) rc = mdb_put(txn.get(), env.dbi(Db::meta), &count_key, &count_val, 0);
    if (rc != 0) return store::lmdb_error("mdb_put(meta log_identity)", rc);
    if (rc = txn.commit(); rc != 0) return store::lmdb_error("mdb_txn_commit(log identity)", rc);
    return Status::ok();
  }
  if (rc != 0) return store::lmdb_error("mdb_get(meta log_identity)", rc);
  const std::string stored(from_val(value));
  MDB_val count_key = to_val(store::meta_partition_count);
  MDB_val count_val;
  rc = mdb_get(txn.get(), env.dbi(Db::meta), &count_key, &count_val);
  const int64_t stored_count =
      rc == 0 && count_val.mv_size == 4 ? int64_t{store::get_u32_be(from_val(count_val))} : int64_t{-1};
  txn.abort();
  if (stored != identity) {
    return Status::error(Status::Code::conflict, "the views in " + data_dir + " were folded from log \"" + stored +
                                                     "\", not \"" + identity +
                                                     "\"; replay this log into a fresh data dir");
  }
  if (stored_count != count) {
    return Status::error(Status::Code::conflict, "the views in " + data_dir + " were folded from " +
                                                     std::to_string(stored_count) + " partitions, the log has " +
                                                     std::to_string(count));
  }
  return Status::ok();
}

}  // namespace

Projector::Projector(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

Projector::~Projector() {
  if (impl_ && impl_->lock_fd >= 0) ::close(impl_->lock_fd);
}

const std::string& Projector::data_dir() const { return impl_->data_dir; }

Result<std::unique_ptr<Projector>> Projector::open(const std::string& data_dir, const ProjectorOptions& options) {
  if (Status s = check_options(options); !s.is_ok()) return s;
  auto env = store::StoreEnv::open(data_dir, store::StoreEnv::Mode::read_write, options.map_size_bytes);
  if (!env.is_ok()) return env.status();
  // Before any transaction of this projector (ProjectorOptions::defer_meta_sync). Set either way:
  // the environment is shared with the process's readers and may outlive an earlier Projector.
  if (int rc = mdb_env_set_flags(env.value()->get(), MDB_NOMETASYNC, options.defer_meta_sync ? 1 : 0); rc != 0) {
    return store::lmdb_error("mdb_env_set_flags(MDB_NOMETASYNC)", rc);
  }
  auto impl = std::make_unique<Impl>(env.value());
  impl->data_dir = data_dir;
  impl->options = options;
  if (Status s = lock_data_dir(env.value()->dir(), impl->lock_fd); !s.is_ok()) return s;
  if (Status s = impl->load_committed(); !s.is_ok()) return s;
  return std::unique_ptr<Projector>(new Projector(std::move(impl)));
}

// Reads what the store has committed: offsets, outbox sequence, stats, map size.
Status Projector::Impl::load_committed() {
  if (Status s = load_committed_state(); !s.is_ok()) return s;
  // Adopt the size the previous run grew to, so it does not grow again from the option's size.
  if (stored_map_size > env->map_size()) return env->set_map_size(stored_map_size);
  return Status::ok();
}

Status Projector::Impl::load_committed_state() {
  auto txn = store::ReadTxn::begin(*env);
  if (!txn.is_ok()) return txn.status();
  std::string_view value;
  int rc = txn->get(Db::meta, store::meta_outbox_next, value);
  if (rc == 0 && value.size() == 8) {
    outbox_next = store::get_u64_be(value);
  } else if (rc != MDB_NOTFOUND) {
    return Status::error(Status::Code::corruption, "meta outbox_next is damaged");
  }
  rc = txn->get(Db::meta, store::meta_stats, value);
  if (rc == 0 && !store::decode_stats(value, stats)) return Status::error(Status::Code::corruption, "meta stats is damaged");
  rc = txn->get(Db::meta, store::meta_map_size, value);
  if (rc == 0 && value.size() == 8) stored_map_size = static_cast<std::size_t>(store::get_u64_be(value));

  committed_next.clear();
  committed_chain.clear();
  MDB_cursor* cursor = nullptr;
  if (rc = mdb_cursor_open(txn->get(), env->dbi(Db::partitions), &cursor); rc != 0) {
    return store::lmdb_error("mdb_cursor_open(partitions)", rc);
  }
  MDB_val k, v;
  for (rc = mdb_cursor_get(cursor, &k, &v, MDB_FIRST); rc == 0; rc = mdb_cursor_get(cursor, &k, &v, MDB_NEXT)) {
    const std::string_view key = from_val(k);
    Offset next;
    ChainHead chain;
    PartitionState state;
    if (key.size() != 4 || !store::decode_partition(from_val(v), next, chain, state)) {
      mdb_cursor_close(cursor);
      return Status::error(Status::Code::corruption, "undecodable record in \"partitions\"");
    }
    const auto partition = static_cast<std::size_t>(store::get_u32_be(key));
    if (committed_next.size() <= partition) committed_next.resize(partition + 1);
    committed_next[partition] = next;
    if (committed_chain.size() <= partition) committed_chain.resize(partition + 1);
    committed_chain[partition] = chain;
  }
  mdb_cursor_close(cursor);
  if (rc != MDB_NOTFOUND) return store::lmdb_error("mdb_cursor_get(partitions)", rc);
  return Status::ok();
}

Status Projector::start(LogReader& reader) {
  Impl& m = *impl_;
  const int32_t count = reader.partition_count();
  const std::string identity = reader.identity();
  if (count <= 0 || count > limits::partitions_max) {
    return Status::error(Status::Code::invalid_argument, "log has an invalid partition count " + std::to_string(count));
  }
  if (Status s = check_log_identity(*m.env, m.data_dir, identity, count); !s.is_ok()) return s;
  m.partition_count = count;
  m.projected.clear();
  if (m.options.partitions.empty()) {
    for (int32_t p = 0; p < count; ++p) m.projected.push_back(p);
  } else {
    m.projected = m.options.partitions;
    std::sort(m.projected.begin(), m.projected.end());
    m.projected.erase(std::unique(m.projected.begin(), m.projected.end()), m.projected.end());
    if (m.projected.back() >= count) {
      return Status::invalid("partitions", "partition " + std::to_string(m.projected.back()) +
                                               " is out of range (the log has " + std::to_string(count) + ")");
    }
  }
  {
    std::lock_guard lock(m.mutex);
    if (m.committed_next.size() > static_cast<std::size_t>(count)) {
      return Status::error(Status::Code::corruption, "the views hold offsets of more partitions than the log has");
    }
    m.committed_next.resize(static_cast<std::size_t>(count));
    // Once: the writer thread publishes into it without the lock (it starts after this).
    if (!m.outcome_board) m.outcome_board = std::make_unique<OutcomeBoard>(m.projected, count);
  }
  std::size_t backlog = 0;  // records between the stored offsets and the log's ends
  for (int32_t p : m.projected) {
    const Offset next = m.committed_next[static_cast<std::size_t>(p)];
    auto end = reader.end_offset(PartitionId{p});
    if (!end.is_ok()) return end.status();
    if (end.value() > next) backlog += static_cast<std::size_t>(end.value().value - next.value);
    if (end.value() < next) {
      return Status::error(Status::Code::corruption,
                           "log \"" + identity + "\" partition " + std::to_string(p) + " ends at offset " +
                               std::to_string(end.value().value) + " but the views in " + m.data_dir +
                               " have applied it up to offset " + std::to_string(next.value) +
                               "; the log was truncated or replaced (replay into a fresh data dir)");
    }
    if (Status s = reader.seek(PartitionId{p}, next); !s.is_ok()) return s;
  }
  // At most one key per record. Capped: a log that keeps only recent records may start far past
  // the stored offsets, and beyond the cap the index still grows as it fills.
  m.ledger.expect_new_keys(std::min(backlog, key_index_reserve_max));
  m.rewind_folded();
  m.batch_limit = m.options.batch_events_max;
  m.writer.start([&m](BatchOutput* out) { return m.commit(*out); });
  m.collector.start([&m](LogReader* r) { return m.collect_batch(*r, false, m.collected); });
  m.started = true;
  return Status::ok();
}

Result<std::size_t> Projector::run_once(LogReader& reader) {
  Impl& m = *impl_;
  assert(m.started);
  if (!m.failure.is_ok()) return m.failure;
  std::size_t committed = 0;
  std::size_t in_flight = 0;  // records of the batch the writer has
  bool read_ahead = false;    // the collector is reading the next batch
  for (std::size_t batches = 0;; ++batches) {
    // Fold the next batch while the writer commits the previous one and the collector reads the
    // one after.
    bool folded = false;
    if (batches < m.options.run_batches_max) {
      if (read_ahead) {
        read_ahead = false;
        if (Status s = m.collector.wait(); !s.is_ok()) return m.fail(s);
        m.take_input(m.collected);
      } else {
        if (Status s = m.collect_batch(reader, committed == 0 && in_flight == 0, m.sync_input); !s.is_ok()) {
          return m.fail(s);
        }
        m.take_input(m.sync_input);
      }
      if (!m.outputs[m.filling].batch.empty()) {
        if (batches + 1 < m.options.run_batches_max) {
          m.collector.submit(&reader);
          read_ahead = true;
        }
        if (Status s = m.fold_batch(); !s.is_ok()) return m.fail(s);
        folded = true;
      }
    }
    const WriteOutcome outcome = m.wait_writer();
    if (outcome.rc == MDB_TXN_FULL && in_flight > 1) {
      // Too many dirty pages for one transaction: drop the batch and the one folded after it (and
      // the one read ahead), and read them again in batches half as big.
      // The batch read ahead is dropped with the others and read again after the rewind, so
      // whatever its read answered no longer matters.
      (void)m.collector.wait();
      read_ahead = false;
      if (Status s = m.rewind(reader, std::max<std::size_t>(1, in_flight / 2)); !s.is_ok()) return m.fail(s);
      in_flight = 0;
      batches = 0;
      continue;
    }
    if (outcome.rc != 0) return m.fail(store::lmdb_error(outcome.failed_call, outcome.rc));
    if (!outcome.error.is_ok()) return m.fail(outcome.error);
    committed += in_flight;
    in_flight = 0;
    if (!folded) return committed;
    m.writer.submit(&m.outputs[m.filling]);
    m.filling ^= 1;
    in_flight = m.outputs[m.filling ^ 1].batch.size();
  }
}

Status Projector::Impl::fail(Status status) {
  // Only quiescing the threads: `status` is the failure reported, whatever the read ahead or the
  // batch being written answer now (the views stay at the last commit either way).
  (void)collector.wait();
  wait_writer();
  ledger.reset();
  failure = status;
  return status;
}

Status Projector::Impl::rewind(LogReader& reader, std::size_t next_batch_limit) {
  batch_limit = next_batch_limit;
  {
    std::lock_guard lock(mutex);
    ++metrics.batch_retries;
  }
  ledger.reset();
  rewind_folded();
  for (int32_t p : projected) {
    if (Status s = reader.seek(PartitionId{p}, folded_next[static_cast<std::size_t>(p)]); !s.is_ok()) return s;
  }
  return Status::ok();
}

void Projector::Impl::rewind_folded() {
  std::lock_guard lock(mutex);
  folded_next = committed_next;
  folded_outbox_next = outbox_next;
  folded_stats = stats;
}

Status Projector::run(LogReader& reader, const std::atomic<bool>& stop) {
  if (Status s = start(reader); !s.is_ok()) return s;
  while (!stop.load(std::memory_order_relaxed)) {
    auto done = run_once(reader);
    if (done.is_ok()) continue;
    std::lock_guard lock(impl_->mutex);
    return impl_->stop_requested && stop.load() ? Status::ok() : done.status();
  }
  return Status::ok();
}

void Projector::request_stop() {
  {
    std::lock_guard lock(impl_->mutex);
    impl_->stop_requested = true;
  }
  impl_->retry_cv.notify_all();
}

ProjectorHealth Projector::health() const {
  std::lock_guard lock(impl_->mutex);
  return impl_->health;
}

Offset Projector::applied_offset(PartitionId partition) const {
  std::lock_guard lock(impl_->mutex);
  const auto p = static_cast<std::size_t>(partition.value);
  return partition.value >= 0 && p < impl_->committed_next.size() ? impl_->committed_next[p] : Offset{0};
}

bool Projector::Impl::is_applied(LogPosition position) const {
  const auto p = static_cast<std::size_t>(position.partition.value);
  return p < committed_next.size() && committed_next[p] > position.offset;
}

bool Projector::Impl::wait_applied(std::unique_lock<std::mutex>& lock, LogPosition position, int timeout_ms) const {
  if (is_applied(position)) return true;
  AppliedWaiter waiter{position, {}};
  applied_waiters.push_back(&waiter);
  const bool applied = waiter.cv.wait_for(lock, std::chrono::milliseconds(std::max(timeout_ms, 0)),
                                          [&] { return is_applied(position); });
  const auto it = std::find(applied_waiters.begin(), applied_waiters.end(), &waiter);
  TALLY_ASSERT(it != applied_waiters.end(), "a waiter stays registered until it leaves");
  *it = applied_waiters.back();
  applied_waiters.pop_back();
  return applied;
}

bool Projector::wait_until_applied(LogPosition position, int timeout_ms) const {
  if (position.partition.value < 0 || position.partition.value >= limits::partitions_max) return false;
  std::unique_lock lock(impl_->mutex);
  return impl_->wait_applied(lock, position, timeout_ms);
}

OutcomeWait Projector::wait_for_outcome(LogPosition position, int timeout_ms) const {
  OutcomeWait wait;
  const OutcomeBoard* board = nullptr;
  {
    if (position.partition.value < 0 || position.partition.value >= limits::partitions_max) return wait;
    std::unique_lock lock(impl_->mutex);
    if (!impl_->wait_applied(lock, position, timeout_ms)) return wait;
    board = impl_->outcome_board.get();
  }
  wait.state = OutcomeWait::State::expired;
  // Published before committed_next moved (Impl::publish), so never `pending` here.
  if (board != nullptr && board->find(position, wait.outcome) == OutcomeBoard::Found::ready) {
    wait.state = OutcomeWait::State::ready;
  }
  return wait;
}

Status Projector::record_outbox_sent(uint64_t sequence) {
  Impl& m = *impl_;
  {
    std::lock_guard lock(m.mutex);
    if (sequence >= m.outbox_next) {
      return Status::invalid("sequence", "outbox has no entry " + std::to_string(sequence) + " yet");
    }
  }
  // Shared: map growth (exclusive) must not run while this write txn is open.
  std::shared_lock lock(m.env->map_mutex());
  lmdb::Txn txn;
  if (int rc = txn.begin(m.env->get()); rc != 0) return store::lmdb_error("mdb_txn_begin", rc);
  MDB_val key = to_val(store::meta_outbox_sent);
  MDB_val value;
  int rc = mdb_get(txn.get(), m.env->dbi(Db::meta), &key, &value);
  if (rc == 0 && value.mv_size == 8 && store::get_u64_be(from_val(value)) >= sequence) return Status::ok();
  std::string bytes;
  store::put_u64_be(bytes, sequence);
  value = to_val(bytes);
  if (rc = mdb_put(txn.get(), m.env->dbi(Db::meta), &key, &value, 0); rc != 0) {
    return store::lmdb_error("mdb_put(meta outbox_sent)", rc);
  }
  if (rc = txn.commit(); rc != 0) return store::lmdb_error("mdb_txn_commit(outbox_sent)", rc);
  return Status::ok();
}

ProjectorMetrics Projector::metrics() const {
  std::lock_guard lock(impl_->mutex);
  return impl_->metrics;
}

Status Projector::Impl::collect_batch(LogReader& reader, bool wait, BatchInput& into) const {
  std::vector<BatchRecord>& batch = into.batch;
  std::string& batch_arena = into.arena;
  batch.clear();
  batch_arena.clear();
  const auto started_at = std::chrono::steady_clock::now();
  const auto deadline = started_at + std::chrono::milliseconds(options.batch_time_max_ms);
  int timeout_ms = wait ? options.poll_timeout_ms : 0;
  while (batch.size() < batch_limit) {
    if (Status s = reader.poll(into.polled, batch_limit - batch.size(), timeout_ms); !s.is_ok()) return s;
    if (into.polled.empty()) break;  // caught up: commit what we have now (read-your-writes latency)
    for (const LogRecord& record : into.polled) {
      // 8-byte aligned copies: FlatBuffers reads scalars in place, and the fold would otherwise
      // copy every misaligned record once more.
      batch_arena.resize((batch_arena.size() + 7) / 8 * 8);
      BatchRecord& copied = batch.emplace_back();
      copied.position = record.position;
      copied.value_offset = batch_arena.size();
      copied.value_size = record.value.size();
      copied.appended_at_ms = record.appended_at_ms;
      batch_arena.append(record.value);
      copied.damage_offset = batch_arena.size();
      copied.damage_size = record.damage.size();
      batch_arena.append(record.damage);
    }
    timeout_ms = 0;
    if (std::chrono::steady_clock::now() >= deadline) break;
  }
  return Status::ok();
}

void Projector::Impl::take_input(BatchInput& input) {
  BatchOutput& out = outputs[filling];
  out.arena.swap(input.arena);
  out.batch.swap(input.batch);
}

}  // namespace tally
