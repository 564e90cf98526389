// Test support: the whole content of a text file (tests/support, header-only, standard library
// only). Test-only.
#pragma once

#include <fstream>
#include <sstream>
#include <string>

namespace tally::test_support {

// The file's bytes, or "" when it cannot be read (the caller's checks then fail on the content).
inline std::string read_text_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

}  // namespace tally::test_support
