// One way to open a log, whichever implementation holds it: the embedded journal (a directory) or
// Kafka (brokers and a topic prefix). The CLI, the audit commands and the node open their logs
// here; past open_log() they see only log/log.h.
//
// Topics are named by kind, "events" or "signals": the journal's topics of those names, or the
// Kafka topics <prefix>.events and <prefix>.signals.
//
// THREAD SAFETY: a Log is used by one thread at a time; its writers and readers follow log/log.h
// and may outlive it.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "engine/status.h"
#include "log/log.h"

namespace tally {

inline constexpr std::string_view log_events_kind = "events";
inline constexpr std::string_view log_signals_kind = "signals";

// Where a log is: exactly one of journal_dir and kafka_brokers.
struct LogLocation {
  std::string journal_dir;             // the embedded journal
  std::string kafka_brokers;           // bootstrap.servers, e.g. "kafka-1:9092,kafka-2:9092"
  std::string topic_prefix = "tally";  // Kafka topics are <prefix>.events and <prefix>.signals
  // Extra librdkafka properties (security, test.mock.*); see log/kafka_log.h.
  std::vector<std::pair<std::string, std::string>> kafka_properties;
  std::string kafka_client_id = "tally";  // client.id and group.id of every Kafka client
  // A journal missing from journal_dir is created with these partition counts; 0 events
  // partitions: never create one (a missing journal is not_found). An existing journal keeps the
  // counts it was created with.
  int32_t create_events_partitions = 0;
  int32_t create_signals_partitions = 1;
};

// "journal DIR" or "kafka BROKERS topic PREFIX.events", for messages.
std::string describe(const LogLocation& location, std::string_view kind = log_events_kind);

// The log at one location: writers and readers of its topics.
class Log {
 public:
  virtual ~Log() = default;
  // An appender for topic `kind`. Errors: not_found (no such topic); those of Journal::writer or
  // KafkaWriter::open.
  virtual Result<std::unique_ptr<LogWriter>> writer(std::string_view kind) = 0;
  // A reader of topic `kind`. Errors: not_found (no such topic); those of Journal::reader or
  // KafkaReader::open.
  virtual Result<std::unique_ptr<LogReader>> reader(std::string_view kind) = 0;
};

// Opens the log at `location`. A journal is opened (or created, see create_events_partitions) at
// once; Kafka is first contacted by writer() or reader().
// Errors: invalid_argument (field "journal_dir": neither or both of journal_dir and kafka_brokers
//   given); those of Journal::open (not_found, corruption, io_error, …).
Result<std::unique_ptr<Log>> open_log(const LogLocation& location);

}  // namespace tally
