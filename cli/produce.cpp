// `tally produce`: appends events given as canonical JSON lines to the events log.
#include <cstdio>
#include <fstream>
#include <iostream>
#include <vector>

#include "cli/cli_util.h"
#include "submit/submitter.h"

namespace tally::cli {
namespace {

// Lines are appended in chunks of this many events: one durable append (one fsync) each.
constexpr std::size_t produce_chunk_events_max = 10'000;

// One append of the events read so far (the submission path: they were validated as they were read).
Status flush(submit::Submitter& submitter, submit::PreparedEvents& pending, std::size_t& appended) {
  if (pending.events.empty()) return Status::ok();
  const std::size_t count = pending.events.size();
  Result<submit::Submitted> submitted = submitter.submit(std::move(pending), false);
  pending = submit::PreparedEvents{};
  if (!submitted.is_ok()) return submitted.status();
  appended += count;
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

  submit::Submitter submitter(*writer.value(), submit::SubmitterOptions{});
  submit::JsonOptions one_event;
  one_event.array_allowed = false;
  submit::PreparedEvents pending;
  std::size_t appended = 0;
  std::string line;
  for (std::size_t number = 1; std::getline(in, line); ++number) {
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    auto event = submit::prepare_json(line, one_event);
    if (!event.is_ok()) {
      // Everything before the bad line is appended; nothing after it.
      Status flushed = flush(submitter, pending, appended);
      std::fprintf(stderr, "tally produce: line %zu: %s\n", number, event.status().to_string().c_str());
      std::printf("appended %zu events\n", appended);
      if (!flushed.is_ok()) return fail("produce", flushed);
      return exit_failure;
    }
    pending.events.push_back(std::move(event->events.front()));
    if (pending.events.size() >= produce_chunk_events_max) {
      if (Status s = flush(submitter, pending, appended); !s.is_ok()) return fail("produce", s);
    }
  }
  if (Status s = flush(submitter, pending, appended); !s.is_ok()) return fail("produce", s);
  std::printf("appended %zu events\n", appended);
  return exit_ok;
}

const CommandRegistrar registrar{{"produce", "append events given as canonical JSON lines", run_produce}};

}  // namespace
}  // namespace tally::cli
