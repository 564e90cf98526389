// The Kafka LogReader: a librdkafka consumer with a manual assignment (rd_kafka_assign) at the
// offsets the caller seeks to. Records are returned without copying: the librdkafka messages are
// held until the next poll() or seek().
#include <algorithm>
#include <chrono>

#include "log/kafka_client.h"

namespace tally {
namespace {

using Clock = std::chrono::steady_clock;

const KafkaProperties consumer_properties{
    {"enable.auto.commit", "false"},
    {"enable.auto.offset.store", "false"},
    {"auto.offset.reset", "error"},
    {"enable.partition.eof", "false"},
};

const char* timestamp_type_name(rd_kafka_timestamp_type_t type) {
  switch (type) {
    case RD_KAFKA_TIMESTAMP_LOG_APPEND_TIME: return "LogAppendTime";
    case RD_KAFKA_TIMESTAMP_CREATE_TIME: return "CreateTime";
    default: return "none";
  }
}

// Errors a consumer reports that stop reading; every other one is transient (librdkafka retries).
bool stops_reading(rd_kafka_resp_err_t err) {
  switch (err) {
    case RD_KAFKA_RESP_ERR__AUTO_OFFSET_RESET:
    case RD_KAFKA_RESP_ERR_OFFSET_OUT_OF_RANGE:
    case RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART:
    case RD_KAFKA_RESP_ERR__UNKNOWN_TOPIC:
    case RD_KAFKA_RESP_ERR__UNKNOWN_PARTITION:
    case RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED:
    case RD_KAFKA_RESP_ERR__FATAL:
      return true;
    default:
      return false;
  }
}

}  // namespace

struct KafkaReader::Impl {
  KafkaCallbacks callbacks;
  rd_kafka_t* client = nullptr;
  rd_kafka_queue_t* queue = nullptr;
  std::string topic;
  std::string identity;
  int32_t partitions = 0;
  int timeout_ms = 0;
  std::vector<int64_t> next;  // next offset to read per partition; -1: not seeked
  bool assignment_changed = false;
  Status stopped;  // an error that stops reading, until the next seek()
  std::vector<rd_kafka_message_t*> held;     // the messages `out` points into
  std::vector<rd_kafka_message_t*> batch;    // consume buffer
  rd_kafka_timestamp_type_t timestamp_type = RD_KAFKA_TIMESTAMP_NOT_AVAILABLE;
  bool timestamp_seen = false;
  bool events_topic = false;  // the fold's clock comes from its timestamps: report a wrong type

  // The record's timestamp as its append time; reports the timestamp type when it changes.
  int64_t append_time(const rd_kafka_message_t* message) {
    rd_kafka_timestamp_type_t type = RD_KAFKA_TIMESTAMP_NOT_AVAILABLE;
    const int64_t ms = rd_kafka_message_timestamp(message, &type);
    if (!timestamp_seen || type != timestamp_type) {
      timestamp_seen = true;
      timestamp_type = type;
      if (events_topic && type != RD_KAFKA_TIMESTAMP_LOG_APPEND_TIME) {
        callbacks.report("kafka: records of " + topic + " carry " + std::string(timestamp_type_name(type)) +
                         " timestamps, not the broker's append time: set message.timestamp.type=LogAppendTime on "
                         "the topic, so that no producer's clock sets the ledger's append time");
      }
    }
    return type == RD_KAFKA_TIMESTAMP_NOT_AVAILABLE ? -1 : ms;
  }

  void release() {
    for (rd_kafka_message_t* message : held) rd_kafka_message_destroy(message);
    held.clear();
  }

  ~Impl() {
    release();
    if (queue != nullptr) rd_kafka_queue_destroy(queue);
    if (client != nullptr) {
      rd_kafka_consumer_close(client);
      rd_kafka_destroy(client);
    }
  }

  Status assign() {
    rd_kafka_topic_partition_list_t* list = rd_kafka_topic_partition_list_new(partitions);
    for (int32_t p = 0; p < partitions; ++p) {
      const int64_t offset = next[static_cast<std::size_t>(p)];
      if (offset >= 0) rd_kafka_topic_partition_list_add(list, topic.c_str(), p)->offset = offset;
    }
    const rd_kafka_resp_err_t err = rd_kafka_assign(client, list);
    rd_kafka_topic_partition_list_destroy(list);
    if (err != RD_KAFKA_RESP_ERR_NO_ERROR) return kafka_status(Status::Code::io_error, "kafka: assign " + topic, err);
    assignment_changed = false;
    return Status::ok();
  }

  // Takes what is queued now, or waits up to `wait_ms` for the first message and then takes what is
  // queued. rd_kafka_consume_batch_queue alone would wait the whole timeout for a full batch.
  std::size_t consume(std::size_t records_max, int wait_ms) {
    batch.resize(records_max);
    ssize_t n = rd_kafka_consume_batch_queue(queue, 0, batch.data(), records_max);
    if (n <= 0 && wait_ms > 0) {
      rd_kafka_message_t* first = rd_kafka_consume_queue(queue, wait_ms);
      if (first == nullptr) return 0;
      batch[0] = first;
      const ssize_t more = records_max > 1 ? rd_kafka_consume_batch_queue(queue, 0, batch.data() + 1, records_max - 1) : 0;
      n = 1 + std::max<ssize_t>(more, 0);
    }
    return n > 0 ? static_cast<std::size_t>(n) : 0;
  }
};

KafkaReader::KafkaReader(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
KafkaReader::~KafkaReader() = default;

Result<std::unique_ptr<KafkaReader>> KafkaReader::open(const KafkaOptions& options, const std::string& topic) {
  auto impl = std::make_unique<Impl>();
  impl->callbacks.on_client_error = options.on_client_error;
  impl->topic = topic;
  impl->events_topic = topic == kafka_topic(options, kafka_events_kind);
  impl->timeout_ms = options.timeout_ms;
  KafkaProperties required = consumer_properties;
  required.emplace_back("group.id", options.group_id);
  auto client = kafka_client(options, RD_KAFKA_CONSUMER, required, &impl->callbacks);
  if (!client.is_ok()) return client.status();
  impl->client = client.value();
  rd_kafka_poll_set_consumer(impl->client);
  impl->queue = rd_kafka_queue_get_consumer(impl->client);
  auto partitions = kafka_topic_partitions(impl->client, options, topic);
  if (!partitions.is_ok()) return partitions.status();
  impl->partitions = partitions.value();
  impl->next.assign(static_cast<std::size_t>(impl->partitions), -1);
  char* cluster_id = rd_kafka_clusterid(impl->client, options.timeout_ms);
  if (cluster_id == nullptr) {
    return Status::error(Status::Code::unavailable, "kafka: no cluster id from brokers " + options.brokers + " within " +
                                                        std::to_string(options.timeout_ms) + " ms");
  }
  impl->identity = "kafka:" + std::string(cluster_id) + "/" + topic;
  rd_kafka_mem_free(impl->client, cluster_id);
  return std::unique_ptr<KafkaReader>(new KafkaReader(std::move(impl)));
}

int32_t KafkaReader::partition_count() const { return impl_->partitions; }
std::string KafkaReader::identity() const { return impl_->identity; }

Status KafkaReader::seek(PartitionId partition, Offset offset) {
  if (partition.value < 0 || partition.value >= impl_->partitions) {
    return Status::invalid("partition", "partition " + std::to_string(partition.value) + " is not in 0.." +
                                            std::to_string(impl_->partitions - 1));
  }
  if (offset.value < 0) return Status::invalid("offset", "must not be negative");
  impl_->release();
  impl_->next[static_cast<std::size_t>(partition.value)] = offset.value;
  impl_->assignment_changed = true;
  impl_->stopped = Status::ok();
  return Status::ok();
}

Status KafkaReader::poll(std::vector<LogRecord>& out, std::size_t records_max, int timeout_ms) {
  out.clear();
  impl_->release();
  if (records_max == 0) return Status::invalid("records_max", "must be at least 1");
  if (!impl_->stopped.is_ok()) return impl_->stopped;
  if (impl_->assignment_changed) {
    Status assigned = impl_->assign();
    if (!assigned.is_ok()) return assigned;
  }
  const auto deadline = Clock::now() + std::chrono::milliseconds(std::max(timeout_ms, 0));
  for (;;) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
    const std::size_t n = impl_->consume(records_max, static_cast<int>(std::max<int64_t>(left, 0)));
    for (std::size_t i = 0; i < n; ++i) {
      rd_kafka_message_t* message = impl_->batch[i];
      const bool ours = message->rkt != nullptr && message->partition >= 0 && message->partition < impl_->partitions;
      if (message->err != RD_KAFKA_RESP_ERR_NO_ERROR) {
        if (!stops_reading(message->err)) {
          impl_->callbacks.report("kafka: reading " + impl_->topic + ": " + rd_kafka_message_errstr(message));
        } else if (impl_->stopped.is_ok()) {
          const std::string where = "kafka: reading " + impl_->topic +
                                    (ours ? " partition " + std::to_string(message->partition) : std::string());
          const auto code = message->err == RD_KAFKA_RESP_ERR__AUTO_OFFSET_RESET ||
                                    message->err == RD_KAFKA_RESP_ERR_OFFSET_OUT_OF_RANGE
                                ? Status::Code::not_found
                                : Status::Code::unavailable;
          impl_->stopped = Status::error(code, where + ": " + rd_kafka_message_errstr(message));
        }
        rd_kafka_message_destroy(message);
        continue;
      }
      int64_t* next = ours ? &impl_->next[static_cast<std::size_t>(message->partition)] : nullptr;
      // A message from before the latest seek (fetched earlier) is stale: drop it.
      if (next == nullptr || *next < 0 || message->offset < *next) {
        rd_kafka_message_destroy(message);
        continue;
      }
      *next = message->offset + 1;
      impl_->held.push_back(message);
      out.push_back(LogRecord{
          LogPosition{PartitionId{message->partition}, Offset{message->offset}},
          std::string_view(static_cast<const char*>(message->key), message->key == nullptr ? 0 : message->key_len),
          std::string_view(static_cast<const char*>(message->payload), message->payload == nullptr ? 0 : message->len),
          impl_->append_time(message), {}});
    }
    // Records that arrived before an error are returned first; the error comes with the next poll.
    if (out.empty() && !impl_->stopped.is_ok()) return impl_->stopped;
    if (!out.empty() || Clock::now() >= deadline) return Status::ok();
  }
}

std::string KafkaReader::timestamp_type() const {
  return impl_->timestamp_seen ? timestamp_type_name(impl_->timestamp_type) : "";
}

Result<Offset> KafkaReader::end_offset(PartitionId partition) {
  if (partition.value < 0 || partition.value >= impl_->partitions) {
    return Status::invalid("partition", "partition " + std::to_string(partition.value) + " is not in 0.." +
                                            std::to_string(impl_->partitions - 1));
  }
  int64_t low = 0;
  int64_t high = 0;
  const rd_kafka_resp_err_t err = rd_kafka_query_watermark_offsets(impl_->client, impl_->topic.c_str(), partition.value,
                                                                   &low, &high, impl_->timeout_ms);
  if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
    return kafka_status(Status::Code::unavailable,
                        "kafka: end offset of " + impl_->topic + " partition " + std::to_string(partition.value), err);
  }
  return Offset{high};
}

}  // namespace tally
