// The Kafka log: LogWriter and LogReader over librdkafka (see log/log.h for the contract).
//
// CAVEATS (read these first)
//   - Positions are Kafka's: offsets of a partition increase but may skip (Kafka's own markers).
//   - The writer uses the idempotent producer (enable.idempotence=true, acks=all): librdkafka's
//     retries never duplicate or reorder a partition. An append() that fails part-way may still have
//     appended some records; the caller retries the whole batch and the fold's idempotency keys make
//     the retry harmless (SPEC §4). A fatal producer error (fenced, out of sequence) makes every
//     later append() fail: open a new writer.
//   - Keys choose partitions with librdkafka's `murmur2_random` partitioner (the Java client's),
//     which equals partition_for_key(key, n) in engine/partitioner.h; check_topic() at startup makes
//     sure n is the count the ledger was built with.
//   - The reader never uses Kafka-stored offsets: the caller seeks every partition it wants
//     (rd_kafka_assign with explicit offsets). enable.auto.commit=false and auto.offset.reset=error:
//     an offset that no longer exists (deleted by retention) is an error from poll(), never a silent
//     jump. Kafka consumer groups are not used for positions; group.id only names the client.
//   - Transient broker errors (disconnects, a broker down) are retried inside librdkafka and
//     reported to KafkaOptions::on_client_error; they are not errors of append() or poll() unless
//     they outlast message.timeout.ms (writer).
//   - The append time of a record (LogRecord::appended_at_ms, SPEC §3) is its Kafka timestamp.
//     Create the events topic with message.timestamp.type=LogAppendTime so that the broker sets
//     it when it appends; with the default CreateTime the producer's clock sets it, and a producer
//     could then move the fold's clock. A reader of the events topic reports any other type it
//     sees (once, through on_client_error); KafkaReader::timestamp_type() says which it saw. A
//     record without a timestamp (message format before Kafka 0.10) gets appended_at_ms -1.
//   - librdkafka's mock cluster (log/kafka_testing.h) stands in for Kafka in tests; it keeps only
//     ~5 MiB per partition, so tests keep data small. Its topics have CreateTime timestamps.
//
// THREAD SAFETY: as log/log.h (writers: many threads; a reader: one thread at a time).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "engine/status.h"
#include "log/log.h"

namespace tally {

inline constexpr std::string_view kafka_events_kind = "events";
inline constexpr std::string_view kafka_signals_kind = "signals";
inline constexpr std::size_t kafka_record_key_bytes_max = 1024;
// Records one append() may have in flight, after to_every_partition expansion.
inline constexpr std::size_t kafka_append_records_max = 262'144;
// How long append() waits for delivery reports beyond message.timeout.ms before it declares
// librdkafka broken (librdkafka promises one report per message within message.timeout.ms).
inline constexpr int kafka_delivery_grace_ms = 60'000;

struct KafkaOptions {
  std::string brokers;                  // bootstrap.servers, e.g. "kafka-1:9092,kafka-2:9092"
  std::string topic_prefix = "tally";   // topics are <prefix>.events and <prefix>.signals
  // Extra librdkafka properties (security, tuning, test.mock.*), applied to every client this
  // module creates. The properties Tally relies on (idempotence, acks, partitioner, offsets
  // handling) cannot be changed: setting one to another value is an invalid_argument.
  std::vector<std::pair<std::string, std::string>> properties;
  int timeout_ms = 10'000;              // metadata, cluster id and watermark queries
  std::string client_id = "tally";
  std::string group_id = "tally";       // readers only: names the client, never stores positions
  // Transient client errors (broker down, disconnects), from librdkafka's threads. Empty: they are
  // written to stderr.
  std::function<void(std::string_view message)> on_client_error;
};

// "<prefix>.<kind>", e.g. kafka_topic(options, kafka_events_kind) == "tally.events".
std::string kafka_topic(const KafkaOptions& options, std::string_view kind);

// Startup check: `topic` exists with `expected_partitions` partitions.
// Errors: invalid_argument (no brokers; bad property; field "partitions": the topic has another
//   partition count), not_found (no such topic), unavailable (brokers unreachable within
//   options.timeout_ms). Each message names the brokers and the topic.
Status check_topic(const KafkaOptions& options, const std::string& topic, int32_t expected_partitions);
Status check_topic(const std::string& brokers, const std::string& topic, int32_t expected_partitions);

class KafkaWriter final : public LogWriter {
 public:
  // A producer for `topic`, which must exist. Errors: as check_topic (less the count check).
  static Result<std::unique_ptr<KafkaWriter>> open(const KafkaOptions& options, const std::string& topic);
  // Waits up to options.timeout_ms for queued records (there are none unless an append() is running,
  // which REQUIRES-not: destroy a writer only when no append() is in progress).
  ~KafkaWriter() override;
  KafkaWriter(const KafkaWriter&) = delete;
  KafkaWriter& operator=(const KafkaWriter&) = delete;

  int32_t partition_count() const override;
  // Produces every record and waits for all delivery reports. Errors: invalid_argument (empty key
  // without to_every_partition, key too long, too many records), too_large (value over
  // limits::event_bytes_max), unavailable (delivery failed: message says which partition and why),
  // io_error (fatal producer error).
  Result<std::vector<LogPosition>> append(std::span<const AppendRequest> records) override;

  struct Impl;

 private:
  explicit KafkaWriter(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

class KafkaReader final : public LogReader {
 public:
  // A consumer for `topic`, which must exist; reads nothing until seek(). identity() is
  // "kafka:<cluster id>/<topic>". Errors: as check_topic (less the count check).
  static Result<std::unique_ptr<KafkaReader>> open(const KafkaOptions& options, const std::string& topic);
  ~KafkaReader() override;
  KafkaReader(const KafkaReader&) = delete;
  KafkaReader& operator=(const KafkaReader&) = delete;

  int32_t partition_count() const override;
  std::string identity() const override;
  Status seek(PartitionId partition, Offset offset) override;
  // Errors (besides log.h's): not_found (an offset no longer or not yet in the log), unavailable
  // (topic or partition gone, authorization), io_error.
  Status poll(std::vector<LogRecord>& out, std::size_t records_max, int timeout_ms) override;
  // Kafka's high watermark. Errors: unavailable (brokers unreachable within options.timeout_ms).
  Result<Offset> end_offset(PartitionId partition) override;
  // The timestamp type of the records read so far: "LogAppendTime" (the broker's append time, as
  // it should be), "CreateTime" (the producer's clock), "none", or "" before the first record. If
  // records of several types came, the last one.
  std::string timestamp_type() const;

  struct Impl;

 private:
  explicit KafkaReader(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace tally
