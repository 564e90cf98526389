// `tally produce`: appends events given as canonical JSON lines to the events log.
#include <cstdio>
#include <fstream>
#include <iostream>
#include <vector>

#include "cli/cli_util.h"
#include "engine/event_json.h"

namespace tally::cli {
namespace {

// Lines are appended in chunks of this many events: one durable append (one fsync) each.
constexpr std::size_t produce_chunk_events_max = 10'000;

Status flush(LogWriter& writer, std::vector<AppendRequest>& pending, std::size_t& appended) {
  if (pending.empty()) return Status::ok();
  auto positions = writer.append(pending);
  if (!positions.is_ok()) return positions.status();
  appended += pending.size();
  pending.clear();
  return Status::ok();
}

int run_produce(const Args& args) {
  LogLocation location;
  std::string input = "-";
  po::options_description options("options");
  add_log_options(options, location);
  options.add_options()("input", po::value(&input), "file of JSON lines, - for standard input (default)");
  po::positional_options_description positional;
  positional.add("input", 1);
  po::variables_map vm;
  if (auto code = parse_options("produce", "(--journal DIR | --kafka BROKERS) [FILE|-]", args, options, vm,
                                &positional)) {
    return *code;
  }
  if (Status s = check_log_location(location); !s.is_ok()) return fail("produce", s);
  std::ifstream file;
  if (input != "-") {
    file.open(input);
    if (!file) return fail("produce", Status::invalid("FILE", "cannot open " + input));
  }
  std::istream& in = input == "-" ? std::cin : file;
  auto writer = open_writer(location, "events");
  if (!writer.is_ok()) return fail("produce", writer.status());

  std::vector<AppendRequest> pending;
  std::size_t appended = 0;
  std::string line;
  for (std::size_t number = 1; std::getline(in, line); ++number) {
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    auto encoded = event_from_json(line);
    if (!encoded.is_ok()) {
      // Everything before the bad line is appended; nothing after it.
      Status flushed = flush(*writer.value(), pending, appended);
      std::fprintf(stderr, "tally produce: line %zu: %s\n", number, encoded.status().to_string().c_str());
      std::printf("appended %zu events\n", appended);
      if (!flushed.is_ok()) return fail("produce", flushed);
      return exit_failure;
    }
    pending.push_back(append_request_for(std::move(encoded.value())));
    if (pending.size() >= produce_chunk_events_max) {
      if (Status s = flush(*writer.value(), pending, appended); !s.is_ok()) return fail("produce", s);
    }
  }
  if (Status s = flush(*writer.value(), pending, appended); !s.is_ok()) return fail("produce", s);
  std::printf("appended %zu events\n", appended);
  return exit_ok;
}

const CommandRegistrar registrar{{"produce", "append events given as canonical JSON lines", run_produce}};

}  // namespace
}  // namespace tally::cli
