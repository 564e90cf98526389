// The events log and the signals log, behind one interface with two implementations:
//   - Journal (log/journal.h): a durable append-only log in its own LMDB environment, one machine;
//   - Kafka (log/kafka_log.h): librdkafka producer and partition-assigned reader.
// Both have the same model: a topic has a fixed number of partitions; each partition is a sequence
// of records with increasing offsets; a record has a key (org id, may be empty) and a value (the
// FlatBuffers-encoded event or signal, at most limits::event_bytes_max bytes).
//
// The projector, the connectors and replay depend only on this header.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "engine/status.h"
#include "engine/types.h"

namespace tally {

// One record read from a log. key, value and damage point into the reader's buffers and stay valid
// until the next call to poll() or seek() on the same reader.
struct LogRecord {
  LogPosition position;
  std::string_view key;
  std::string_view value;
  // The log's append time (SPEC §3), Unix ms: the journal's stamp (set when the record was
  // appended, never lower than the partition's previous record's), or the Kafka record timestamp
  // (the broker's when the topic has message.timestamp.type=LogAppendTime; see log/kafka_log.h).
  // The fold's only clock: it is in the log, so a replay sees the same time.
  int64_t appended_at_ms = 0;
  // Empty for a record the log could read. Otherwise the log holds something at this position that
  // is not a record of its format (a damaged journal frame: "key length 300 past the end of the
  // 40-byte frame"): `damage` says what is wrong, `key` is empty and `value` holds the stored bytes
  // as they are (for the record, never to be decoded as an event). The projector records such a
  // record as a reject (damaged_record) and moves on; it never stops a partition.
  std::string_view damage = {};
  bool damaged() const { return !damage.empty(); }
};

// A record to append. `key` chooses the partition with partition_for_key() (engine/partitioner.h);
// an empty key with `to_every_partition` writes the value once into every partition (global events
// such as rate cards); an empty key without it is an invalid_argument.
struct AppendRequest {
  std::string key;
  std::string value;
  bool to_every_partition = false;
};

// Reads a topic from positions the caller gives. Not thread-safe: one thread per reader.
class LogReader {
 public:
  virtual ~LogReader() = default;
  virtual int32_t partition_count() const = 0;
  // Identity of the log (journal id, or Kafka cluster id + topic). Stored by the projector so that
  // a different log behind the same data dir is a clear startup error.
  virtual std::string identity() const = 0;
  // Reads partition `partition` from `offset` on (the next record returned from it has an offset
  // >= offset). Until seek() is called for a partition, it is not read.
  // Errors: invalid_argument for a partition out of range.
  virtual Status seek(PartitionId partition, Offset offset) = 0;
  // Appends up to `records_max` records to `out` (cleared first), waiting up to `timeout_ms` for
  // the first one. Records of one partition come in offset order; partitions interleave.
  // Returns ok with an empty `out` on timeout.
  virtual Status poll(std::vector<LogRecord>& out, std::size_t records_max, int timeout_ms) = 0;
  // The offset the next appended record of `partition` will get (end of the log).
  virtual Result<Offset> end_offset(PartitionId partition) = 0;
};

// Appends to a topic. Thread-safe: many threads may append through one writer.
class LogWriter {
 public:
  virtual ~LogWriter() = default;
  virtual int32_t partition_count() const = 0;
  // Appends all records, durably (journal: fsynced commit; Kafka: acks=all, idempotent producer),
  // and returns the position of each, in order (a to_every_partition request yields one position
  // per partition, ascending partition). Either every record is appended or an error says why;
  // the journal appends the batch atomically.
  virtual Result<std::vector<LogPosition>> append(std::span<const AppendRequest> records) = 0;
};

}  // namespace tally
