// A small, durable record of how far a role got (the outbox emitter's sent sequence, a signal
// consumer's offsets): a text file replaced atomically.
//
// CAVEATS (read these first)
//   - store() is durable when it returns: it writes PATH.tmp, fsyncs it, renames it over PATH and
//     fsyncs the directory. A crash at any moment leaves either the old or the new record, whole.
//   - One owner: open() takes an exclusive flock on PATH.lock, held until the object is destroyed
//     (or the process dies). A second open of the same path, in any process, is unavailable: two
//     recharge connectors on one position would each act on every signal.
//   - Keep it small (at most progress_file_bytes_max): the whole file is rewritten by every store().
//   - Local filesystems only (flock and rename semantics).
//   - PATH, PATH.tmp and PATH.lock are created 0600 (progress_file_mode): ledger state, owner only.
//
// FORMAT: "tally-progress 1\n", the caller's lines, then "end <line count>\n". A file without the
// trailer (hand-edited, truncated by a non-POSIX filesystem) is corruption, never read as empty.
// Thread safety: not thread-safe; one owner thread.
#pragma once

#include <cstddef>
#include <memory>
#include <string>
#include <vector>

#include "engine/status.h"

namespace tally::connectors {

inline constexpr std::size_t progress_file_bytes_max = 4 * 1024 * 1024;
inline constexpr unsigned progress_file_mode = 0600;

class ProgressFile {
 public:
  // Opens (the file need not exist yet) and locks. The directory must exist.
  // Errors: unavailable (another owner holds the lock), io_error (the call and errno text).
  static Result<std::unique_ptr<ProgressFile>> open(const std::string& path);
  ~ProgressFile();
  ProgressFile(const ProgressFile&) = delete;
  ProgressFile& operator=(const ProgressFile&) = delete;

  // The stored lines; empty when nothing was stored yet.
  // Errors: corruption (bad header or trailer, too large), io_error.
  Result<std::vector<std::string>> load() const;

  // Replaces the record with `lines`, durably (see CAVEATS).
  // REQUIRES: no line contains '\n'. Errors: too_large, io_error (nothing replaced).
  Status store(const std::vector<std::string>& lines);

  const std::string& path() const { return path_; }

 private:
  ProgressFile(std::string path, int lock_fd) : path_(std::move(path)), lock_fd_(lock_fd) {}
  std::string path_;
  int lock_fd_;
};

}  // namespace tally::connectors
