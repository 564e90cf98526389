#include "tests/support/temp_dir.h"

#include <errno.h>
#include <stdlib.h>

#include <cstring>
#include <filesystem>
#include <stdexcept>
#include <system_error>

namespace tally::test_support {

TempDir::TempDir() : TempDir(std::string("tally-") + program_invocation_short_name) {}

TempDir::TempDir(std::string_view prefix) {
  std::string pattern = (std::filesystem::temp_directory_path() / (std::string(prefix) + "-XXXXXX")).string();
  if (::mkdtemp(pattern.data()) == nullptr) {
    throw std::runtime_error("cannot make the temporary directory " + pattern + ": " + std::strerror(errno));
  }
  path_ = std::filesystem::canonical(pattern).string();
}

TempDir::~TempDir() {
  if (path_.empty()) return;
  std::error_code ignored;  // a test's leftovers must not turn a pass into a crash
  std::filesystem::remove_all(path_, ignored);
}

}  // namespace tally::test_support
