// Helpers shared by the connectors' tests. Test-only.
#pragma once

#include <fstream>
#include <sstream>
#include <stdexcept>
#include <string>

namespace tally::connectors::test {

// The contents of ingest/testdata/<name>. TALLY_INGEST_TESTDATA is set by CMake.
inline std::string read_testdata(const std::string& name) {
  const std::string path = std::string(TALLY_INGEST_TESTDATA) + "/" + name;
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("cannot open " + path);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

// Replaces the first occurrence of `from` in `text` with `to`; throws if absent so a fixture edit
// that breaks a test's premise fails loudly.
inline std::string replace_once(std::string text, const std::string& from, const std::string& to) {
  const std::size_t at = text.find(from);
  if (at == std::string::npos) throw std::runtime_error("fixture lacks: " + from);
  return text.replace(at, from.size(), to);
}

}  // namespace tally::connectors::test
