// Fuzz target: any text as the TOML config file of `tally serve` and `tally dev`
// (cli/node_settings.h read_config, the only reader of toml++ input), with an environment that
// sets one variable for the *_env keys.
//
// Invariants: an error has a message; settings read without error hold only what the checks of
// set_setting allow (integers in range, no empty texts).
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <string>
#include <string_view>

#include "cli/node_settings.h"

namespace {

using namespace tally::cli;

[[noreturn]] void broken(const char* what, std::string_view detail) {
  std::fprintf(stderr, "config_file_fuzz: %s: %.*s\n", what, static_cast<int>(detail.size()), detail.data());
  std::abort();
}

void read_as(std::string_view text, NodeCommand command) {
  static const Environment environment = [](std::string_view name) -> std::optional<std::string> {
    if (name == "TALLY_FUZZ_SECRET") return std::string("a-secret-from-the-environment");
    return std::nullopt;
  };
  NodeSettings settings;
  const tally::Status status = read_config(text, "fuzz.toml", command, environment, settings);
  if (!status.is_ok()) {
    if (status.message().empty()) broken("an error without a message", status.to_string());
    return;
  }
  if (settings.tick_interval_ms < 0 || settings.tick_interval_ms > tick_interval_ms_max) {
    broken("tick_interval_ms out of range", std::to_string(settings.tick_interval_ms));
  }
  if (settings.partitions < 1) broken("partitions out of range", std::to_string(settings.partitions));
  for (const std::string& token : settings.tokens) {
    if (token.empty()) broken("an empty token", "");
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  read_as(text, NodeCommand::serve);
  read_as(text, NodeCommand::dev);
  return 0;
}
