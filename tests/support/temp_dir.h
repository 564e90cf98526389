// Test support every folder's tests may use (tests/support, library tally_testing; never linked
// into the product): a scratch directory per test. It includes only the standard library, so the
// tests of the lowest folder (lmdb/) can use it as well as the node's end-to-end tests.
#pragma once

#include <string>
#include <string_view>
#include <utility>

namespace tally::test_support {

// A fresh directory under the system's temporary directory (TMPDIR), named <prefix>-XXXXXX — by
// default tally-<test program>-XXXXXX, so a directory left behind names the test that made it —
// and removed with everything in it when the TempDir goes.
// path() is canonical (no symbolic link in it), as the LMDB environment registry names directories.
// Throws std::runtime_error, naming the directory and the reason, if it cannot be made: the test
// that asked for it fails there. Movable (the moved-from one owns nothing), not copyable.
class TempDir {
 public:
  TempDir();
  explicit TempDir(std::string_view prefix);
  TempDir(TempDir&& from) noexcept : path_(std::exchange(from.path_, {})) {}
  TempDir& operator=(TempDir&&) = delete;
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  ~TempDir();

  const std::string& path() const { return path_; }
  // path()/name: a place inside the directory (not created).
  std::string sub(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;  // empty once moved from
};

}  // namespace tally::test_support
