#include "audit/log_source.h"

#include "log/journal.h"
#include "log/kafka_log.h"

namespace tally::audit {

Result<std::unique_ptr<LogReader>> open_events_reader(const LogSource& source) {
  const bool journal = !source.journal_dir.empty();
  const bool kafka = !source.kafka_brokers.empty();
  if (journal == kafka) {
    return Status::invalid(journal ? "kafka" : "journal", "give exactly one of --journal DIR or --kafka BROKERS");
  }
  if (journal) {
    JournalOptions options;
    options.create_if_missing = false;  // an audit never makes a log up
    auto opened = Journal::open(source.journal_dir, options);
    if (!opened.is_ok()) return opened.status();
    auto reader = opened.value()->reader(journal_events_topic);
    if (!reader.is_ok()) return reader.status();
    return std::move(reader.value());  // the reader keeps the environment open
  }
  KafkaOptions options;
  options.brokers = source.kafka_brokers;
  options.topic_prefix = source.topic_prefix;
  options.properties = source.kafka_properties;
  options.client_id = "tally-audit";
  options.group_id = "tally-audit";
  auto reader = KafkaReader::open(options, kafka_topic(options, kafka_events_kind));
  if (!reader.is_ok()) return reader.status();
  return std::unique_ptr<LogReader>(std::move(reader.value()));
}

std::string describe(const LogSource& source) {
  if (!source.journal_dir.empty()) return "journal " + source.journal_dir;
  return "kafka " + source.kafka_brokers + " topic " + source.topic_prefix + ".events";
}

}  // namespace tally::audit
