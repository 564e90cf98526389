// The `tally` command: one binary, one subcommand per file. Each command parses its own options
// (Boost.Program_options), calls the engine, prints, and returns the process exit code.
// Exit codes: 0 ok, 1 operating error (bad input, unreachable log), 2 usage error.
#pragma once

#include <string>
#include <vector>

namespace tally::cli {

using Args = std::vector<std::string>;  // arguments after the subcommand name

struct Command {
  const char* name;
  const char* summary;
  int (*run)(const Args& args);
};

// Every subcommand, in the order `tally --help` lists them.
const std::vector<Command>& commands();

int run_demo(const Args& args);

}  // namespace tally::cli
