// The Kafka LogWriter: an idempotent librdkafka producer. append() produces every record, then
// waits for each one's delivery report, served by a poller thread.
#include <atomic>
#include <cassert>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <thread>

#include "engine/limits.h"
#include "log/kafka_client.h"

namespace tally {
namespace {

constexpr int poller_wait_ms = 100;      // how long the poller blocks in rd_kafka_poll per round
constexpr int queue_full_wait_ms = 10;   // how long a producer waits for room in librdkafka's queue

const KafkaProperties producer_properties{
    {"enable.idempotence", "true"},
    {"acks", "all"},
    {"partitioner", "murmur2_random"},
};

// One append() call's outstanding deliveries.
struct Delivery {
  std::mutex mutex;
  std::condition_variable done;
  std::size_t outstanding = 0;
  std::vector<LogPosition> positions;
  Status error;
};

struct Slot {
  Delivery* delivery;
  std::size_t index;
};

Status delivery_status(rd_kafka_t* client, const rd_kafka_message_t& message, const std::string& topic) {
  const std::string where = "kafka: delivery to " + topic + " partition " + std::to_string(message.partition);
  if (message.err == RD_KAFKA_RESP_ERR__FATAL) {
    char reason[512];
    const rd_kafka_resp_err_t cause = rd_kafka_fatal_error(client, reason, sizeof reason);
    return Status::error(Status::Code::io_error, where + ": fatal producer error " + rd_kafka_err2name(cause) + ": " +
                                                     reason + " (open a new writer)");
  }
  if (message.err == RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE) {
    return kafka_status(Status::Code::too_large, where, message.err);
  }
  return kafka_status(Status::Code::unavailable, where, message.err);
}

void on_delivery(rd_kafka_t* client, const rd_kafka_message_t* message, void* /*opaque*/) {
  auto* slot = static_cast<Slot*>(message->_private);
  Delivery& delivery = *slot->delivery;
  std::lock_guard lock(delivery.mutex);
  if (message->err != RD_KAFKA_RESP_ERR_NO_ERROR) {
    if (delivery.error.is_ok()) delivery.error = delivery_status(client, *message, rd_kafka_topic_name(message->rkt));
  } else if (message->offset < 0) {
    if (delivery.error.is_ok()) {
      delivery.error = Status::error(Status::Code::io_error, "kafka: delivery report without an offset");
    }
  } else {
    delivery.positions[slot->index] = LogPosition{PartitionId{message->partition}, Offset{message->offset}};
  }
  // Notify under the lock: the waiter destroys `delivery` as soon as it sees zero.
  if (--delivery.outstanding == 0) delivery.done.notify_all();
}

}  // namespace

struct KafkaWriter::Impl {
  KafkaCallbacks callbacks;
  rd_kafka_t* client = nullptr;
  rd_kafka_topic_t* topic = nullptr;
  std::string topic_name;
  int32_t partitions = 0;
  int message_timeout_ms = 0;
  int close_timeout_ms = 0;
  std::atomic<bool> stop{false};
  std::thread poller;

  ~Impl() {
    if (poller.joinable()) {
      stop = true;
      poller.join();
    }
    if (client != nullptr) rd_kafka_flush(client, close_timeout_ms);
    if (topic != nullptr) rd_kafka_topic_destroy(topic);
    if (client != nullptr) rd_kafka_destroy(client);
  }
};

KafkaWriter::KafkaWriter(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
KafkaWriter::~KafkaWriter() = default;

Result<std::unique_ptr<KafkaWriter>> KafkaWriter::open(const KafkaOptions& options, const std::string& topic) {
  auto impl = std::make_unique<Impl>();
  impl->callbacks.on_client_error = options.on_client_error;
  impl->topic_name = topic;
  impl->close_timeout_ms = options.timeout_ms;
  auto client = kafka_client(options, RD_KAFKA_PRODUCER, producer_properties, &impl->callbacks,
                             [](rd_kafka_conf_t* conf) { rd_kafka_conf_set_dr_msg_cb(conf, on_delivery); });
  if (!client.is_ok()) return client.status();
  impl->client = client.value();
  auto partitions = kafka_topic_partitions(impl->client, options, topic);
  if (!partitions.is_ok()) return partitions.status();
  impl->partitions = partitions.value();
  impl->topic = rd_kafka_topic_new(impl->client, topic.c_str(), nullptr);
  if (impl->topic == nullptr) {
    return kafka_status(Status::Code::io_error, "kafka: topic handle for " + topic, rd_kafka_last_error());
  }
  char value[64];
  std::size_t size = sizeof value;
  impl->message_timeout_ms = 300'000;  // librdkafka's default, if the property cannot be read
  if (rd_kafka_conf_get(rd_kafka_conf(impl->client), "message.timeout.ms", value, &size) == RD_KAFKA_CONF_OK) {
    impl->message_timeout_ms = std::atoi(value);
  }
  Impl* raw = impl.get();
  impl->poller = std::thread([raw] {
    while (!raw->stop) rd_kafka_poll(raw->client, poller_wait_ms);
  });
  return std::unique_ptr<KafkaWriter>(new KafkaWriter(std::move(impl)));
}

int32_t KafkaWriter::partition_count() const { return impl_->partitions; }

namespace {

struct Planned {
  const AppendRequest* record;
  int32_t partition;  // RD_KAFKA_PARTITION_UA: chosen by the murmur2_random partitioner
};

// Checks every record and expands to_every_partition: one entry per message to produce.
Result<std::vector<Planned>> plan_append(std::span<const AppendRequest> records, int32_t partitions) {
  std::vector<Planned> planned;
  for (std::size_t i = 0; i < records.size(); ++i) {
    const AppendRequest& record = records[i];
    const std::string field = "records[" + std::to_string(i) + "]";
    if (record.key.empty() && !record.to_every_partition) {
      return Status::invalid(field + ".key", "empty key: a record needs its org id as key, or to_every_partition");
    }
    if (record.key.size() > kafka_record_key_bytes_max) {
      return Status::invalid(field + ".key", std::to_string(record.key.size()) + " bytes, more than the " +
                                                 std::to_string(kafka_record_key_bytes_max) + "-byte limit");
    }
    if (record.value.size() > limits::event_bytes_max) {
      return Status::error(Status::Code::too_large, field + ".value: " + std::to_string(record.value.size()) +
                                                        " bytes, more than the " +
                                                        std::to_string(limits::event_bytes_max) + "-byte record limit");
    }
    if (record.to_every_partition) {
      for (int32_t p = 0; p < partitions; ++p) planned.push_back({&record, p});
    } else {
      planned.push_back({&record, RD_KAFKA_PARTITION_UA});
    }
    if (planned.size() > kafka_append_records_max) {
      return Status::invalid("records", "more than " + std::to_string(kafka_append_records_max) + " records in one append");
    }
  }
  return planned;
}

}  // namespace

Result<std::vector<LogPosition>> KafkaWriter::append(std::span<const AppendRequest> records) {
  auto plan = plan_append(records, impl_->partitions);
  if (!plan.is_ok()) return plan.status();
  const std::vector<Planned>& planned = plan.value();
  if (planned.empty()) return std::vector<LogPosition>{};

  Delivery delivery;
  delivery.outstanding = planned.size();
  delivery.positions.resize(planned.size());
  std::vector<Slot> slots(planned.size());
  const auto deadline = std::chrono::steady_clock::now() +
                        std::chrono::milliseconds(impl_->message_timeout_ms + kafka_delivery_grace_ms);
  for (std::size_t i = 0; i < planned.size(); ++i) {
    slots[i] = Slot{&delivery, i};
    const AppendRequest& record = *planned[i].record;
    rd_kafka_resp_err_t err;
    // No copy: librdkafka reads the caller's bytes until the delivery report, which we wait for.
    while ((err = rd_kafka_producev(
                impl_->client, RD_KAFKA_V_RKT(impl_->topic), RD_KAFKA_V_PARTITION(planned[i].partition),
                RD_KAFKA_V_KEY(record.key.empty() ? nullptr : record.key.data(), record.key.size()),
                RD_KAFKA_V_VALUE(const_cast<char*>(record.value.data()), record.value.size()),
                RD_KAFKA_V_OPAQUE(&slots[i]), RD_KAFKA_V_END)) == RD_KAFKA_RESP_ERR__QUEUE_FULL &&
           std::chrono::steady_clock::now() < deadline) {
      // librdkafka's queue is full of earlier records: serve delivery reports until there is room.
      rd_kafka_poll(impl_->client, queue_full_wait_ms);
    }
    if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
      std::lock_guard lock(delivery.mutex);
      delivery.outstanding -= planned.size() - i;  // these were never handed to librdkafka
      if (delivery.error.is_ok()) {
        delivery.error = kafka_status(err == RD_KAFKA_RESP_ERR__FATAL ? Status::Code::io_error : Status::Code::unavailable,
                                      "kafka: produce to " + impl_->topic_name, err);
      }
      break;
    }
  }
  std::unique_lock lock(delivery.mutex);
  if (!delivery.done.wait_until(lock, deadline, [&] { return delivery.outstanding == 0; })) {
    // librdkafka reports every message within message.timeout.ms; past that, `slots` may still be
    // referenced and returning would corrupt memory.
    std::fprintf(stderr, "kafka: %zu delivery reports missing long after message.timeout.ms\n", delivery.outstanding);
    std::abort();
  }
  if (!delivery.error.is_ok()) return delivery.error;
  return std::move(delivery.positions);
}

}  // namespace tally
