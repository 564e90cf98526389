#include "projections/partitioned_projector.h"

#include <algorithm>
#include <chrono>
#include <mutex>
#include <thread>

#include "engine/limits.h"
#include "projections/partitioned_layout.h"
#include "projections/store.h"

namespace tally {

// One owned partition: its Projector, the reader it folds from and, while run() runs, its thread.
struct PartitionedProjector::Slot {
  int32_t partition = 0;
  std::shared_ptr<Projector> projector;
  std::unique_ptr<LogReader> reader;
  std::atomic<bool> stop{false};  // remove(): start no new run_once
  std::thread thread;
  std::once_flag joined;  // run() and remove() may both end it: one joins, the other waits for that

  void join() {
    std::call_once(joined, [this] {
      if (thread.joinable()) thread.join();
    });
  }
};

namespace {

// How often run() looks at its stop flag when nothing wakes it (the flag has no notification).
constexpr int stop_check_ms = 50;

Status in_partition(int32_t partition, const Status& status) {
  return Status::error(status.code(), status.field(), "partition " + std::to_string(partition) + ": " + status.message());
}

}  // namespace

PartitionedProjector::PartitionedProjector(std::string root, int32_t partition_count, ProjectorOptions options,
                                           OnCommit on_commit)
    : root_(std::move(root)),
      partition_count_(partition_count),
      options_(std::move(options)),
      on_commit_(std::move(on_commit)),
      slots_(static_cast<std::size_t>(partition_count)) {}

Result<std::unique_ptr<PartitionedProjector>> PartitionedProjector::open(const std::string& root,
                                                                         int32_t partition_count,
                                                                         const ProjectorOptions& options,
                                                                         OnCommit on_commit, bool none_at_first) {
  if (Status s = write_partitioned_layout(root, partition_count); !s.is_ok()) return s;
  std::vector<int32_t> owned = options.partitions;
  if (owned.empty() && !none_at_first) {
    for (int32_t p = 0; p < partition_count; ++p) owned.push_back(p);
  }
  for (int32_t p : owned) {
    if (p < 0 || p >= partition_count) {
      return Status::invalid("partitions", "partition " + std::to_string(p) + " is not among the log's " +
                                               std::to_string(partition_count));
    }
  }
  std::unique_ptr<PartitionedProjector> self(
      new PartitionedProjector(root, partition_count, options, std::move(on_commit)));
  // Every partition's store is made and held open for writing from the start, owned or not: LMDB
  // allows one environment per directory per process, so a reader opened first would hold a
  // store read-only and keep a later add() from writing it (projections/store.h CAVEATS).
  for (int32_t p = 0; p < partition_count; ++p) {
    auto env = store::StoreEnv::open(partition_store_dir(root, PartitionId{p}), store::StoreEnv::Mode::read_write,
                                     options.map_size_bytes);
    if (!env.is_ok()) return in_partition(p, env.status());
    self->stores_.push_back(std::move(env.value()));
  }
  for (int32_t p : owned) {
    if (self->slots_[static_cast<std::size_t>(p)]) continue;
    auto slot = self->open_slot(p);
    if (!slot.is_ok()) return slot.status();
    self->slots_[static_cast<std::size_t>(p)] = std::move(slot.value());
  }
  return self;
}

PartitionedProjector::~PartitionedProjector() {
  for (const auto& slot : owned_slots()) remove(PartitionId{slot->partition}, true);
}

Result<std::shared_ptr<PartitionedProjector::Slot>> PartitionedProjector::open_slot(int32_t partition) const {
  ProjectorOptions one = options_;
  one.partitions = {partition};
  one.on_commit = nullptr;
  if (on_commit_) {
    one.on_commit = [on_commit = on_commit_, partition](const CommittedBatch& batch) {
      on_commit(PartitionId{partition}, batch);
    };
  }
  auto projector = Projector::open(partition_store_dir(root_, PartitionId{partition}), one);
  if (!projector.is_ok()) return in_partition(partition, projector.status());
  auto slot = std::make_shared<Slot>();
  slot->partition = partition;
  slot->projector = std::move(projector.value());
  return slot;
}

Status PartitionedProjector::start_slot(Slot& slot) const {
  auto reader = open_reader_();
  if (!reader.is_ok()) return in_partition(slot.partition, reader.status());
  if (reader.value()->partition_count() != partition_count_) {
    return Status::error(Status::Code::conflict, "partitions",
                         root_ + " holds the views of " + std::to_string(partition_count_) +
                             " partitions, the log has " + std::to_string(reader.value()->partition_count()));
  }
  if (Status s = slot.projector->start(*reader.value()); !s.is_ok()) return in_partition(slot.partition, s);
  slot.reader = std::move(reader.value());
  return Status::ok();
}

Status PartitionedProjector::start(OpenReader open_reader) {
  open_reader_ = std::move(open_reader);
  for (const auto& slot : owned_slots()) {
    if (Status s = start_slot(*slot); !s.is_ok()) return s;
  }
  return Status::ok();
}

Status PartitionedProjector::add(PartitionId partition) {
  if (partition.value < 0 || partition.value >= partition_count_) {
    return Status::invalid("partition", "partition " + std::to_string(partition.value) + " is not among the log's " +
                                            std::to_string(partition_count_));
  }
  if (this->partition(partition)) return Status::ok();
  auto slot = open_slot(partition.value);
  if (!slot.is_ok()) return slot.status();
  if (Status s = start_slot(*slot.value()); !s.is_ok()) return s;
  std::lock_guard lock(mutex_);
  slots_[static_cast<std::size_t>(partition.value)] = slot.value();
  if (running_) spawn(slot.value());
  return Status::ok();
}

void PartitionedProjector::remove(PartitionId partition, bool graceful) {
  std::shared_ptr<Slot> slot;
  {
    std::lock_guard lock(mutex_);
    if (partition.value < 0 || partition.value >= partition_count_) return;
    slot = std::move(slots_[static_cast<std::size_t>(partition.value)]);
  }
  if (!slot) return;
  slot->stop = true;
  if (!graceful) slot->projector->request_stop();
  slot->join();
}

void PartitionedProjector::spawn(const std::shared_ptr<Slot>& slot) {
  slot->thread = std::thread([this, slot] { fold_until_stopped(*slot); });
}

void PartitionedProjector::fold_until_stopped(Slot& slot) {
  const auto stopping = [&] {
    return slot.stop.load(std::memory_order_relaxed) || stop_->load(std::memory_order_relaxed) ||
           halt_.load(std::memory_order_relaxed);
  };
  while (!stopping()) {
    auto done = slot.projector->run_once(*slot.reader);
    if (done.is_ok()) continue;
    // A retried commit given up for shutdown or a lost partition (request_stop) is not a failure;
    // anything else is final for this partition and stops the others.
    if (stopping()) break;
    {
      std::lock_guard lock(mutex_);
      if (first_error_.is_ok()) first_error_ = in_partition(slot.partition, done.status());
      halt_ = true;
    }
    changed_.notify_all();
    break;
  }
}

Result<std::size_t> PartitionedProjector::run_once() {
  const std::vector<std::shared_ptr<Slot>> slots = owned_slots();
  std::vector<Result<std::size_t>> done(slots.size(), std::size_t{0});
  if (slots.size() == 1) {
    done[0] = slots[0]->projector->run_once(*slots[0]->reader);
  } else {
    std::vector<std::thread> threads;
    threads.reserve(slots.size());
    for (std::size_t i = 0; i < slots.size(); ++i) {
      threads.emplace_back([&, i] { done[i] = slots[i]->projector->run_once(*slots[i]->reader); });
    }
    for (std::thread& t : threads) t.join();
  }
  std::size_t records = 0;
  for (std::size_t i = 0; i < slots.size(); ++i) {
    if (!done[i].is_ok()) return in_partition(slots[i]->partition, done[i].status());
    records += done[i].value();
  }
  return records;
}

Status PartitionedProjector::run(const std::atomic<bool>& stop) {
  std::unique_lock lock(mutex_);
  stop_ = &stop;
  running_ = true;
  for (const auto& slot : slots_) {
    if (slot) spawn(slot);
  }
  while (!stop.load() && !halt_.load()) changed_.wait_for(lock, std::chrono::milliseconds(stop_check_ms));
  running_ = false;
  std::vector<std::shared_ptr<Slot>> slots;
  for (const auto& slot : slots_) {
    if (slot) slots.push_back(slot);
  }
  lock.unlock();
  if (halt_) request_stop();
  for (const auto& slot : slots) slot->join();
  lock.lock();
  return first_error_;
}

void PartitionedProjector::request_stop() {
  for (const auto& slot : owned_slots()) slot->projector->request_stop();
  changed_.notify_all();
}

std::vector<std::shared_ptr<PartitionedProjector::Slot>> PartitionedProjector::owned_slots() const {
  std::lock_guard lock(mutex_);
  std::vector<std::shared_ptr<Slot>> slots;
  for (const auto& slot : slots_) {
    if (slot) slots.push_back(slot);
  }
  return slots;
}

std::vector<int32_t> PartitionedProjector::partitions() const {
  std::vector<int32_t> owned;
  for (const auto& slot : owned_slots()) owned.push_back(slot->partition);
  return owned;
}

ProjectorHealth PartitionedProjector::health() const {
  for (const auto& slot : owned_slots()) {
    ProjectorHealth health = slot->projector->health();
    if (health.degraded) {
      health.reason = "partition " + std::to_string(slot->partition) + ": " + health.reason;
      return health;
    }
  }
  return {};
}

ProjectorMetrics PartitionedProjector::metrics() const {
  ProjectorMetrics sum;
  for (const auto& slot : owned_slots()) {
    const ProjectorMetrics m = slot->projector->metrics();
    sum.batches += m.batches;
    sum.events += m.events;
    sum.map_grows += m.map_grows;
    sum.batch_retries += m.batch_retries;
    sum.commit_retries += m.commit_retries;
    sum.last_commit_latency_us = std::max(sum.last_commit_latency_us, m.last_commit_latency_us);
    sum.max_commit_latency_us = std::max(sum.max_commit_latency_us, m.max_commit_latency_us);
    sum.total_commit_latency_us += m.total_commit_latency_us;
    sum.total_fold_us += m.total_fold_us;
    sum.total_write_us += m.total_write_us;
    sum.total_sync_us += m.total_sync_us;
  }
  return sum;
}

std::shared_ptr<Projector> PartitionedProjector::partition(PartitionId partition) const {
  std::lock_guard lock(mutex_);
  if (partition.value < 0 || partition.value >= partition_count_) return nullptr;
  const auto& slot = slots_[static_cast<std::size_t>(partition.value)];
  return slot ? slot->projector : nullptr;
}

std::shared_ptr<store::StoreEnv> PartitionedProjector::store(PartitionId partition) const {
  if (partition.value < 0 || partition.value >= partition_count_) return nullptr;
  return stores_[static_cast<std::size_t>(partition.value)];
}

Offset PartitionedProjector::applied_offset(PartitionId partition) const {
  const auto projector = this->partition(partition);
  return projector ? projector->applied_offset(partition) : Offset{0};
}

bool PartitionedProjector::wait_until_applied(LogPosition position, int timeout_ms) const {
  const auto projector = partition(position.partition);
  return projector && projector->wait_until_applied(position, timeout_ms);
}

OutcomeWait PartitionedProjector::wait_for_outcome(LogPosition position, int timeout_ms) const {
  const auto projector = partition(position.partition);
  return projector ? projector->wait_for_outcome(position, timeout_ms) : OutcomeWait{};
}

}  // namespace tally
