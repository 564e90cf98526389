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

// Every registered subcommand, sorted by name.
const std::vector<Command>& commands();

// Each command file registers itself at static initialisation, so adding a command is adding a
// file (cli/CMakeLists.txt globs cli/*.cpp):
//   static const tally::cli::CommandRegistrar registrar{{"demo", "…", run_demo}};
struct CommandRegistrar {
  explicit CommandRegistrar(Command command);
};

}  // namespace tally::cli
