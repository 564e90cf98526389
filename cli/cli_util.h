// Shared plumbing of the `tally` subcommands: option parsing, where things live in a data dir,
// opening the events log (journal or Kafka) and the views.
//
// Data dir layout (tally dev, tally serve):  DIR/journal  the embedded journal (unless --journal/--kafka)
//                                             DIR/views    the projector's LMDB views
// Read commands accept either DIR or DIR/views.
#pragma once

#include <boost/program_options.hpp>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "cli/commands.h"
#include "engine/status.h"
#include "log/log.h"
#include "log/open_log.h"
#include "projections/views.h"

namespace tally::cli {

namespace po = boost::program_options;

inline constexpr int exit_ok = 0;
inline constexpr int exit_failure = 1;
inline constexpr int exit_usage = 2;
inline constexpr int32_t dev_events_partitions_default = 4;
inline constexpr int32_t signals_partitions_default = 1;

// Parses `args` into `vm`. Prints help (returns exit_ok) or a usage error (returns exit_usage);
// nullopt means go on.
std::optional<int> parse_options(const char* command, const char* synopsis, const Args& args,
                                 po::options_description& options, po::variables_map& vm,
                                 const po::positional_options_description* positional = nullptr);

// Prints "tally <command>: <status>" to stderr and returns exit_failure.
int fail(const char* command, const Status& status);

// A command made of subcommands ("tally audit verify|export"): runs the one `args` names first
// with the rest of `args`. No arguments: `usage` to stderr, exit_usage; --help/-h: `usage` to
// stdout, exit_ok; an unknown name: says so with `usage`, exit_usage.
int run_subcommand(const char* command, const char* usage, const Args& args, const std::vector<Command>& subcommands);

std::string views_dir(const std::string& data_dir);
std::string journal_dir(const std::string& data_dir);

// --journal DIR | --kafka BROKERS [--topic-prefix P] [--partitions N] into `location` (log/open_log.h);
// a journal created here gets N events partitions and signals_partitions_default.
void add_log_options(po::options_description& options, LogLocation& location);
// REQUIRES: exactly one of journal/kafka set (else invalid_argument naming --journal/--kafka).
Status check_log_location(const LogLocation& location);

// A writer of the events or signals topic ("events"/"signals") of the log at `location`.
Result<std::unique_ptr<LogWriter>> open_writer(const LogLocation& location, std::string_view topic);
// A reader of the events topic of an existing log (never made up here), for replay and audit.
Result<std::unique_ptr<LogReader>> open_events_reader(LogLocation location);

Result<std::unique_ptr<ViewReader>> open_views(const std::string& data_dir);

}  // namespace tally::cli
