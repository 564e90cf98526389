#include "cli/cli_util.h"

#include <cstdio>
#include <filesystem>
#include <sstream>

#include "log/journal.h"
#include "log/kafka_log.h"
#include "tally/events_generated.h"

namespace tally::cli {

std::optional<int> parse_options(const char* command, const char* synopsis, const Args& args,
                                 po::options_description& options, po::variables_map& vm,
                                 const po::positional_options_description* positional) {
  options.add_options()("help,h", "show this help");
  try {
    auto parser = po::command_line_parser(args).options(options);
    if (positional) parser.positional(*positional);
    po::store(parser.run(), vm);
    if (vm.count("help")) {
      std::ostringstream text;
      text << options;
      std::printf("usage: tally %s %s\n\n%s", command, synopsis, text.str().c_str());
      return exit_ok;
    }
    po::notify(vm);
  } catch (const po::error& e) {
    std::fprintf(stderr, "tally %s: %s (see tally %s --help)\n", command, e.what(), command);
    return exit_usage;
  }
  return std::nullopt;
}

int fail(const char* command, const Status& status) {
  std::fprintf(stderr, "tally %s: %s\n", command, status.to_string().c_str());
  return exit_failure;
}

std::string views_dir(const std::string& data_dir) {
  const auto nested = std::filesystem::path(data_dir) / "views";
  return std::filesystem::exists(nested) ? nested.string() : data_dir;
}

std::string journal_dir(const std::string& data_dir) {
  return (std::filesystem::path(data_dir) / "journal").string();
}

void add_log_options(po::options_description& options, LogLocation& location) {
  options.add_options()
      ("journal", po::value(&location.journal), "embedded journal directory (one machine)")
      ("kafka", po::value(&location.kafka), "Kafka bootstrap brokers, e.g. host:9092")
      ("topic-prefix", po::value(&location.topic_prefix)->default_value("tally"),
       "Kafka topics are <prefix>.events and <prefix>.signals")
      ("partitions", po::value(&location.partitions)->default_value(dev_events_partitions_default),
       "events partitions of a journal created by this command");
}

Status check_log_location(const LogLocation& location) {
  if (location.journal.empty() == location.kafka.empty()) {
    return Status::invalid("--journal", "give exactly one of --journal DIR or --kafka BROKERS");
  }
  return Status::ok();
}

namespace {

Result<std::unique_ptr<Journal>> open_journal(const LogLocation& location) {
  JournalOptions existing;
  existing.create_if_missing = false;
  auto journal = Journal::open(location.journal, existing);
  if (journal.is_ok() || journal.status().code() != Status::Code::not_found) return journal;
  return Journal::open(location.journal, journal_options(location.partitions, signals_partitions_default));
}

KafkaOptions kafka_options(const LogLocation& location) {
  KafkaOptions options;
  options.brokers = location.kafka;
  options.topic_prefix = location.topic_prefix;
  return options;
}

}  // namespace

Result<std::unique_ptr<LogWriter>> open_writer(const LogLocation& location, std::string_view topic) {
  if (Status s = check_log_location(location); !s.is_ok()) return s;
  if (!location.journal.empty()) {
    auto journal = open_journal(location);
    if (!journal.is_ok()) return journal.status();
    return journal.value()->writer(topic);
  }
  const KafkaOptions options = kafka_options(location);
  auto writer = KafkaWriter::open(options, kafka_topic(options, topic));
  if (!writer.is_ok()) return writer.status();
  return std::unique_ptr<LogWriter>(std::move(writer.value()));
}

Result<std::unique_ptr<LogReader>> open_reader(const LogLocation& location, std::string_view topic) {
  if (Status s = check_log_location(location); !s.is_ok()) return s;
  if (!location.journal.empty()) {
    auto journal = open_journal(location);
    if (!journal.is_ok()) return journal.status();
    return journal.value()->reader(topic);
  }
  const KafkaOptions options = kafka_options(location);
  auto reader = KafkaReader::open(options, kafka_topic(options, topic));
  if (!reader.is_ok()) return reader.status();
  return std::unique_ptr<LogReader>(std::move(reader.value()));
}

Result<std::unique_ptr<ViewReader>> open_views(const std::string& data_dir) {
  return ViewReader::open(views_dir(data_dir));
}

AppendRequest append_request_for(std::string encoded_event) {
  AppendRequest request;
  const auto* envelope = fb::GetEnvelope(encoded_event.data());
  if (envelope->org_id() && envelope->org_id()->size() > 0) {
    request.key = envelope->org_id()->str();
  } else {
    request.to_every_partition = true;  // rate cards and partition ticks
  }
  request.value = std::move(encoded_event);
  return request;
}

}  // namespace tally::cli
