// The group member: a subscribing librdkafka consumer whose rebalance callback turns the group's
// assignment into on_assigned / on_revoked / on_lost, and whose partitions stay paused (the node
// reads them with its own KafkaReader). Everything librdkafka calls back runs inside
// rd_kafka_consumer_poll or rd_kafka_consumer_close, both called only on the poll thread.
#include "log/kafka_group.h"

#include <algorithm>
#include <atomic>
#include <cstring>
#include <mutex>
#include <set>
#include <thread>

#include "engine/assert.h"
#include "log/kafka_client.h"

namespace tally {
namespace {

// Ascending partitions of `topic` in a librdkafka list (a group list names only our topic, but a
// foreign entry must not become a partition of ours).
std::vector<PartitionId> partitions_of(const rd_kafka_topic_partition_list_t* list, const std::string& topic) {
  std::vector<PartitionId> out;
  if (list == nullptr) return out;
  for (int i = 0; i < list->cnt; ++i) {
    if (topic == list->elems[i].topic) out.push_back(PartitionId{list->elems[i].partition});
  }
  std::sort(out.begin(), out.end());
  return out;
}

}  // namespace

struct KafkaGroupMember::Impl {
  // The conf opaque: librdkafka's callbacks find the member through it.
  struct Context : KafkaCallbacks {
    Impl* member = nullptr;
  };

  Context context;
  KafkaGroupOptions group;
  std::string topic;
  int32_t partitions = 0;
  rd_kafka_t* client = nullptr;
  std::thread poller;
  std::atomic<bool> stopping{false};

  std::mutex close_mutex;  // one close() at a time; the second waits for the first
  mutable std::mutex mutex;
  std::set<int32_t> owned;  // guarded by mutex
  bool closed = false;      // guarded by mutex: no commit after close()

  ~Impl() {
    TALLY_ASSERT(!poller.joinable(), "the poll thread is stopped before the member is destroyed");
    if (client != nullptr) rd_kafka_destroy(client);
  }

  void report(const std::string& message) const { context.report(message); }
  // "kafka group <id>: ", the start of every message about this member.
  std::string prefix() const { return "kafka group " + group.group_id + ": "; }

  void report_error(const std::string& what, rd_kafka_error_t* error) const {
    if (error == nullptr) return;
    report(prefix() + what + ": " + rd_kafka_error_string(error));
    rd_kafka_error_destroy(error);
  }

  bool cooperative() const {
    const char* protocol = rd_kafka_rebalance_protocol(client);
    return protocol != nullptr && std::strcmp(protocol, "COOPERATIVE") == 0;
  }

  rd_kafka_topic_partition_list_t* list_of(const std::vector<PartitionId>& partitions_listed) const {
    rd_kafka_topic_partition_list_t* list = rd_kafka_topic_partition_list_new(
        static_cast<int>(std::max<std::size_t>(partitions_listed.size(), 1)));
    for (const PartitionId partition : partitions_listed) {
      rd_kafka_topic_partition_list_add(list, topic.c_str(), partition.value);
    }
    return list;
  }

  std::vector<PartitionId> owned_now() const {
    std::lock_guard lock(mutex);
    return owned_list_locked();
  }

  // Pauses what was just assigned, so that this consumer fetches nothing from it. The APP pause
  // flag survives the assignment (librdkafka resets only its own LIB flag when it starts a fetcher).
  void pause(rd_kafka_topic_partition_list_t* list) const {
    rd_kafka_topic_partition_list_t* copy = rd_kafka_topic_partition_list_copy(list);
    const rd_kafka_resp_err_t err = rd_kafka_pause_partitions(client, copy);
    if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
      report(prefix() + "pause: " + rd_kafka_err2str(err));
    }
    for (int i = 0; i < copy->cnt; ++i) {
      if (copy->elems[i].err != RD_KAFKA_RESP_ERR_NO_ERROR) {
        report(prefix() + "pause " + copy->elems[i].topic + " partition " +
               std::to_string(copy->elems[i].partition) + ": " + rd_kafka_err2str(copy->elems[i].err));
      }
    }
    rd_kafka_topic_partition_list_destroy(copy);
  }

  void assigned(rd_kafka_topic_partition_list_t* list) {
    // A refused assignment (a fatal client error, a protocol mismatch) is not ours: librdkafka
    // rejoins by itself.
    if (cooperative()) {
      rd_kafka_error_t* error = rd_kafka_incremental_assign(client, list);
      if (error != nullptr) return report_error("incremental assign", error);
    } else {
      const rd_kafka_resp_err_t err = rd_kafka_assign(client, list);
      if (err != RD_KAFKA_RESP_ERR_NO_ERROR) return report(prefix() + "assign: " + rd_kafka_err2str(err));
    }
    pause(list);
    const std::vector<PartitionId> listed = partitions_of(list, topic);
    std::vector<PartitionId> added;
    {
      std::lock_guard lock(mutex);
      // Eager: the list is the whole assignment (everything was revoked before); cooperative: the
      // increment. Either way what is new to us is what was not owned.
      for (const PartitionId partition : listed) {
        if (owned.insert(partition.value).second) added.push_back(partition);
      }
    }
    if (!added.empty() && group.on_assigned) group.on_assigned(added);
  }

  // `lost`: taken away, not handed over. The callback runs before librdkafka is told, so that a
  // graceful hand-over completes before the group gives the partitions to another member.
  void revoked(rd_kafka_topic_partition_list_t* list, bool lost) {
    const bool incremental = cooperative();
    std::vector<PartitionId> removed;
    {
      std::lock_guard lock(mutex);
      // Eager revokes everything: what we own is what goes, whatever the list says.
      const std::vector<PartitionId> listed = incremental ? partitions_of(list, topic) : owned_list_locked();
      for (const PartitionId partition : listed) {
        if (owned.count(partition.value) != 0) removed.push_back(partition);
      }
    }
    if (!removed.empty()) {
      if (lost && group.on_lost) group.on_lost(removed);
      if (!lost && group.on_revoked) group.on_revoked(removed);
    }
    if (incremental) {
      report_error("incremental unassign", rd_kafka_incremental_unassign(client, list));
    } else {
      const rd_kafka_resp_err_t err = rd_kafka_assign(client, nullptr);
      if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
        report(prefix() + "unassign: " + rd_kafka_err2str(err));
      }
    }
    std::lock_guard lock(mutex);
    for (const PartitionId partition : removed) owned.erase(partition.value);
  }

  std::vector<PartitionId> owned_list_locked() const {
    std::vector<PartitionId> out;
    for (const int32_t partition : owned) out.push_back(PartitionId{partition});
    return out;
  }

  // A rebalance that failed (neither assign nor revoke): librdkafka asks the application to drop
  // its assignment to resynchronise; whatever we owned may be elsewhere already.
  void rebalance_failed(rd_kafka_resp_err_t err) {
    report(prefix() + "rebalance failed: " + rd_kafka_err2str(err) +
           "; dropping the assignment");
    const std::vector<PartitionId> lost = owned_now();
    rd_kafka_topic_partition_list_t* list = list_of(lost);
    if (!lost.empty() && group.on_lost) group.on_lost(lost);
    if (cooperative()) {
      report_error("incremental unassign", rd_kafka_incremental_unassign(client, list));
    } else {
      const rd_kafka_resp_err_t unassign_err = rd_kafka_assign(client, nullptr);
      if (unassign_err != RD_KAFKA_RESP_ERR_NO_ERROR) {
        report(prefix() + "unassign: " + rd_kafka_err2str(unassign_err));
      }
    }
    rd_kafka_topic_partition_list_destroy(list);
    std::lock_guard lock(mutex);
    owned.clear();
  }

  void rebalance(rd_kafka_resp_err_t err, rd_kafka_topic_partition_list_t* list) {
    switch (err) {
      case RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS:
        assigned(list);
        break;
      case RD_KAFKA_RESP_ERR__REVOKE_PARTITIONS:
        // Read before unassigning: any *assign() call resets the flag.
        revoked(list, rd_kafka_assignment_lost(client) != 0);
        break;
      default:
        rebalance_failed(err);
        break;
    }
  }

  // The member's own revoke before it leaves: the node closes everything while the group still
  // counts it as the owner, then librdkafka is told.
  void revoke_all() {
    const std::vector<PartitionId> all = owned_now();
    if (all.empty()) return;
    rd_kafka_topic_partition_list_t* list = list_of(all);
    revoked(list, false);
    rd_kafka_topic_partition_list_destroy(list);
  }

  void run() {
    while (!stopping.load(std::memory_order_acquire)) {
      if (group.before_poll_for_testing) group.before_poll_for_testing();
      rd_kafka_message_t* message = rd_kafka_consumer_poll(client, group.poll_wait_ms);
      if (message == nullptr) continue;
      // A record fetched before its partition's pause took effect is dropped: the node reads it
      // with its own reader. Errors are transient here (librdkafka rejoins by itself).
      if (message->err != RD_KAFKA_RESP_ERR_NO_ERROR) {
        report(prefix() + rd_kafka_message_errstr(message));
      }
      rd_kafka_message_destroy(message);
    }
    revoke_all();
    const rd_kafka_resp_err_t err = rd_kafka_consumer_close(client);
    if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
      report(prefix() + "close: " + rd_kafka_err2str(err));
    }
    std::lock_guard lock(mutex);
    owned.clear();
  }
};

namespace {

KafkaGroupMember::Impl* member_of(void* opaque) {
  return static_cast<KafkaGroupMember::Impl::Context*>(static_cast<KafkaCallbacks*>(opaque))->member;
}

void on_rebalance(rd_kafka_t*, rd_kafka_resp_err_t err, rd_kafka_topic_partition_list_t* list, void* opaque) {
  member_of(opaque)->rebalance(err, list);
}

void on_commit(rd_kafka_t*, rd_kafka_resp_err_t err, rd_kafka_topic_partition_list_t* offsets, void* opaque) {
  const KafkaGroupMember::Impl* member = member_of(opaque);
  // __NO_OFFSET: nothing to commit, not an error.
  if (err != RD_KAFKA_RESP_ERR_NO_ERROR && err != RD_KAFKA_RESP_ERR__NO_OFFSET) {
    member->report(member->prefix() + "lag commit failed: " + rd_kafka_err2str(err));
    return;
  }
  for (int i = 0; offsets != nullptr && i < offsets->cnt; ++i) {
    if (offsets->elems[i].err != RD_KAFKA_RESP_ERR_NO_ERROR) {
      member->report(member->prefix() + "lag commit of partition " +
                     std::to_string(offsets->elems[i].partition) + " failed: " + rd_kafka_err2str(offsets->elems[i].err));
    }
  }
}

Status check_group_options(const KafkaGroupOptions& group) {
  if (group.group_id.empty()) return Status::invalid("group_id", "a consumer group id is required");
  if (group.heartbeat_interval_ms < 1) return Status::invalid("heartbeat_interval_ms", "must be positive");
  if (group.session_timeout_ms <= group.heartbeat_interval_ms) {
    return Status::invalid("session_timeout_ms", "must exceed heartbeat_interval_ms");
  }
  if (group.max_poll_interval_ms < group.session_timeout_ms) {
    return Status::invalid("max_poll_interval_ms", "must be at least session_timeout_ms");
  }
  if (group.poll_wait_ms < 1) return Status::invalid("poll_wait_ms", "must be positive");
  if (group.assignment_strategy.empty()) return Status::invalid("assignment_strategy", "must not be empty");
  return Status::ok();
}

}  // namespace

KafkaGroupMember::KafkaGroupMember(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

KafkaGroupMember::~KafkaGroupMember() { close(); }

Result<std::unique_ptr<KafkaGroupMember>> KafkaGroupMember::open(const KafkaOptions& options, KafkaGroupOptions group) {
  Status valid = check_group_options(group);
  if (!valid.is_ok()) return valid;
  auto impl = std::make_unique<Impl>();
  impl->context.on_client_error = options.on_client_error;
  impl->context.member = impl.get();
  impl->topic = kafka_topic(options, kafka_events_kind);
  impl->group = std::move(group);
  const KafkaGroupOptions& g = impl->group;
  KafkaProperties required{
      {"group.id", g.group_id},
      {"partition.assignment.strategy", g.assignment_strategy},
      {"enable.auto.commit", "false"},
      {"enable.auto.offset.store", "false"},
      {"enable.partition.eof", "false"},
      {"session.timeout.ms", std::to_string(g.session_timeout_ms)},
      {"heartbeat.interval.ms", std::to_string(g.heartbeat_interval_ms)},
      {"max.poll.interval.ms", std::to_string(g.max_poll_interval_ms)},
  };
  if (!g.group_instance_id.empty()) required.emplace_back("group.instance.id", g.group_instance_id);
  auto client = kafka_client(options, RD_KAFKA_CONSUMER, required, &impl->context, [](rd_kafka_conf_t* conf) {
    rd_kafka_conf_set_rebalance_cb(conf, on_rebalance);
    rd_kafka_conf_set_offset_commit_cb(conf, on_commit);
  });
  if (!client.is_ok()) return client.status();
  impl->client = client.value();
  // Error and log events are served by rd_kafka_consumer_poll too, on the poll thread.
  rd_kafka_poll_set_consumer(impl->client);
  auto partitions = kafka_topic_partitions(impl->client, options, impl->topic);
  if (!partitions.is_ok()) return partitions.status();
  impl->partitions = partitions.value();
  rd_kafka_topic_partition_list_t* subscription = rd_kafka_topic_partition_list_new(1);
  rd_kafka_topic_partition_list_add(subscription, impl->topic.c_str(), RD_KAFKA_PARTITION_UA);
  const rd_kafka_resp_err_t err = rd_kafka_subscribe(impl->client, subscription);
  rd_kafka_topic_partition_list_destroy(subscription);
  if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
    return kafka_status(Status::Code::io_error, impl->prefix() + "subscribe " + impl->topic, err);
  }
  Impl* raw = impl.get();
  impl->poller = std::thread([raw] { raw->run(); });
  return std::unique_ptr<KafkaGroupMember>(new KafkaGroupMember(std::move(impl)));
}

std::vector<PartitionId> KafkaGroupMember::owned() const { return impl_->owned_now(); }

int32_t KafkaGroupMember::partition_count() const { return impl_->partitions; }

Status KafkaGroupMember::commit_lag(const std::vector<std::pair<PartitionId, Offset>>& next_offsets) {
  for (const auto& [partition, offset] : next_offsets) {
    if (partition.value < 0 || partition.value >= impl_->partitions) {
      return Status::invalid("partition", "partition " + std::to_string(partition.value) + " is not in 0.." +
                                              std::to_string(impl_->partitions - 1));
    }
    if (offset.value < 0) return Status::invalid("offset", "must not be negative");
  }
  std::lock_guard lock(impl_->mutex);
  if (impl_->closed) return Status::error(Status::Code::unavailable, impl_->prefix() + "closed");
  rd_kafka_topic_partition_list_t* list = rd_kafka_topic_partition_list_new(
      static_cast<int>(std::max<std::size_t>(next_offsets.size(), 1)));
  for (const auto& [partition, offset] : next_offsets) {
    if (impl_->owned.count(partition.value) == 0) continue;
    rd_kafka_topic_partition_list_add(list, impl_->topic.c_str(), partition.value)->offset = offset.value;
  }
  rd_kafka_resp_err_t err = RD_KAFKA_RESP_ERR_NO_ERROR;
  if (list->cnt > 0) err = rd_kafka_commit(impl_->client, list, 1);
  rd_kafka_topic_partition_list_destroy(list);
  if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
    return kafka_status(Status::Code::unavailable, impl_->prefix() + "lag commit", err);
  }
  return Status::ok();
}

void KafkaGroupMember::close() {
  std::lock_guard close_lock(impl_->close_mutex);
  TALLY_ASSERT(!impl_->poller.joinable() || impl_->poller.get_id() != std::this_thread::get_id(),
               "close() is not called from a group callback");
  {
    std::lock_guard lock(impl_->mutex);
    impl_->closed = true;
  }
  impl_->stopping.store(true, std::memory_order_release);
  if (impl_->poller.joinable()) impl_->poller.join();
}

}  // namespace tally
