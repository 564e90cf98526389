#include "cli/cli_util.h"

#include <cstdio>
#include <filesystem>
#include <sstream>


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

int run_subcommand(const char* command, const char* usage, const Args& args, const std::vector<Command>& subcommands) {
  if (args.empty() || args[0] == "--help" || args[0] == "-h") {
    std::fputs(usage, args.empty() ? stderr : stdout);
    return args.empty() ? exit_usage : exit_ok;
  }
  const Args rest(args.begin() + 1, args.end());
  for (const Command& subcommand : subcommands) {
    if (args[0] == subcommand.name) return subcommand.run(rest);
  }
  std::fprintf(stderr, "tally %s: unknown subcommand '%s'\n%s", command, args[0].c_str(), usage);
  return exit_usage;
}

std::string views_dir(const std::string& data_dir) {
  const auto nested = std::filesystem::path(data_dir) / "views";
  return std::filesystem::exists(nested) ? nested.string() : data_dir;
}

std::string journal_dir(const std::string& data_dir) {
  return (std::filesystem::path(data_dir) / "journal").string();
}

void add_log_options(po::options_description& options, LogLocation& location) {
  location.create_signals_partitions = signals_partitions_default;
  options.add_options()
      ("journal", po::value(&location.journal_dir), "embedded journal directory (one machine)")
      ("kafka", po::value(&location.kafka_brokers), "Kafka bootstrap brokers, e.g. host:9092")
      ("topic-prefix", po::value(&location.topic_prefix)->default_value("tally"),
       "Kafka topics are <prefix>.events and <prefix>.signals")
      ("partitions", po::value(&location.create_events_partitions)->default_value(dev_events_partitions_default),
       "events partitions of a journal created by this command");
}

Status check_log_location(const LogLocation& location) {
  if (location.journal_dir.empty() == location.kafka_brokers.empty()) {
    return Status::invalid("--journal", "give exactly one of --journal DIR or --kafka BROKERS");
  }
  return Status::ok();
}

Result<std::unique_ptr<LogWriter>> open_writer(const LogLocation& location, std::string_view topic) {
  if (Status s = check_log_location(location); !s.is_ok()) return s;
  auto log = open_log(location);
  if (!log.is_ok()) return log.status();
  return log.value()->writer(topic);
}

Result<std::unique_ptr<LogReader>> open_events_reader(LogLocation location) {
  if (Status s = check_log_location(location); !s.is_ok()) return s;
  location.create_events_partitions = 0;  // an audit never makes a log up
  location.kafka_client_id = "tally-audit";
  auto log = open_log(location);
  if (!log.is_ok()) return log.status();
  return log.value()->reader(log_events_kind);  // the reader keeps what it reads open
}

Result<std::unique_ptr<ViewReader>> open_views(const std::string& data_dir) {
  return ViewReader::open(views_dir(data_dir));
}

}  // namespace tally::cli
