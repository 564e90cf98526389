#include "cli/commands.h"

namespace tally::cli {

const std::vector<Command>& commands() {
  static const std::vector<Command> all = {
      {"demo", "run the whole credit loop on the embedded default and tell the story", run_demo},
  };
  return all;
}

}  // namespace tally::cli
