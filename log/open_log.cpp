#include "log/open_log.h"

#include "log/journal.h"
#include "log/kafka_log.h"

namespace tally {
namespace {

class JournalLog final : public Log {
 public:
  explicit JournalLog(std::unique_ptr<Journal> journal) : journal_(std::move(journal)) {}
  Result<std::unique_ptr<LogWriter>> writer(std::string_view kind) override { return journal_->writer(kind); }
  Result<std::unique_ptr<LogReader>> reader(std::string_view kind) override { return journal_->reader(kind); }

 private:
  std::unique_ptr<Journal> journal_;
};

class KafkaLog final : public Log {
 public:
  explicit KafkaLog(KafkaOptions options) : options_(std::move(options)) {}
  Result<std::unique_ptr<LogWriter>> writer(std::string_view kind) override {
    auto writer = KafkaWriter::open(options_, kafka_topic(options_, kind));
    if (!writer.is_ok()) return writer.status();
    return std::unique_ptr<LogWriter>(std::move(writer.value()));
  }
  Result<std::unique_ptr<LogReader>> reader(std::string_view kind) override {
    auto reader = KafkaReader::open(options_, kafka_topic(options_, kind));
    if (!reader.is_ok()) return reader.status();
    return std::unique_ptr<LogReader>(std::move(reader.value()));
  }

 private:
  KafkaOptions options_;
};

Result<std::unique_ptr<Journal>> open_journal(const LogLocation& location) {
  JournalOptions existing;
  existing.create_if_missing = false;
  auto journal = Journal::open(location.journal_dir, existing);
  if (journal.is_ok() || journal.status().code() != Status::Code::not_found || location.create_events_partitions <= 0) {
    return journal;
  }
  // Only a new journal takes our partition counts.
  return Journal::open(location.journal_dir,
                       journal_options(location.create_events_partitions, location.create_signals_partitions));
}

}  // namespace

std::string describe(const LogLocation& location, std::string_view kind) {
  if (!location.journal_dir.empty()) return "journal " + location.journal_dir;
  return "kafka " + location.kafka_brokers + " topic " + location.topic_prefix + "." + std::string(kind);
}

Result<std::unique_ptr<Log>> open_log(const LogLocation& location) {
  if (location.journal_dir.empty() == location.kafka_brokers.empty()) {
    return Status::invalid("journal_dir", "give exactly one of a journal directory or Kafka brokers");
  }
  if (!location.journal_dir.empty()) {
    auto journal = open_journal(location);
    if (!journal.is_ok()) return journal.status();
    return std::unique_ptr<Log>(new JournalLog(std::move(journal.value())));
  }
  return std::unique_ptr<Log>(new KafkaLog(KafkaOptions{.brokers = location.kafka_brokers,
                                                         .topic_prefix = location.topic_prefix,
                                                         .properties = location.kafka_properties,
                                                         .client_id = location.kafka_client_id,
                                                         .group_id = location.kafka_client_id,
                                                         .on_client_error = {}}));
}

}  // namespace tally
