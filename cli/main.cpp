#include <cstdio>
#include <string>
#include <string_view>

#include "cli/commands.h"

namespace {

void print_usage() {
  std::printf("tally: an event-sourced credit ledger\n\nusage: tally <command> [options]   (tally <command> --help)\n\n");
  for (const auto& command : tally::cli::commands()) std::printf("  %-14s %s\n", command.name, command.summary);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2 || std::string_view(argv[1]) == "--help" || std::string_view(argv[1]) == "-h") {
    print_usage();
    return argc < 2 ? 2 : 0;
  }
  const std::string_view name = argv[1];
  tally::cli::Args args(argv + 2, argv + argc);
  for (const auto& command : tally::cli::commands()) {
    if (name == command.name) return command.run(args);
  }
  std::fprintf(stderr, "tally: unknown command '%.*s' (see tally --help)\n", static_cast<int>(name.size()), name.data());
  return 2;
}
