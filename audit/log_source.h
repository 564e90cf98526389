// Where replay and audit read the events log from: the embedded journal or Kafka. The CLI fills a
// LogSource from its options; everything past open_events_reader() sees only log/log.h.
#pragma once

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "engine/status.h"
#include "log/log.h"

namespace tally::audit {

struct LogSource {
  std::string journal_dir;            // the embedded journal (exactly one of journal_dir, kafka_brokers)
  std::string kafka_brokers;          // bootstrap.servers
  std::string topic_prefix = "tally"; // Kafka topics are <prefix>.events and <prefix>.signals
  // Extra librdkafka properties (security, test.mock.*); see log/kafka_log.h.
  std::vector<std::pair<std::string, std::string>> kafka_properties;
};

// A reader of the events topic of `source`. An existing journal is required (never created).
// Errors: invalid_argument (field "journal"/"kafka": neither or both given); not_found (no journal
//   in the directory, no such topic); unavailable (brokers unreachable); io_error; corruption.
Result<std::unique_ptr<LogReader>> open_events_reader(const LogSource& source);

// "journal DIR" or "kafka BROKERS topic T", for messages.
std::string describe(const LogSource& source);

}  // namespace tally::audit
