#include "projections/partitioned_layout.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "engine/limits.h"
#include "lmdb/env.h"

namespace tally {
namespace {

std::string layout_path(const std::string& root) {
  return (std::filesystem::path(root) / std::string(partitioned_layout_file)).string();
}

Status io_error(const std::string& call, const std::string& path, int err) {
  return Status::error(Status::Code::io_error, call + "(" + path + "): " + std::strerror(err));
}

std::string layout_text(int32_t partition_count) {
  return std::string(partitioned_layout_magic) + "\npartitions " + std::to_string(partition_count) + "\n";
}

// Writes `text` to `path` through a synced temporary file and a rename, so a crash leaves the
// whole file or none.
Status write_file_atomically(const std::string& path, const std::string& text) {
  const std::string tmp = path + ".tmp";
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return io_error("open", tmp, errno);
  std::size_t done = 0;
  while (done < text.size()) {
    const ssize_t n = ::write(fd, text.data() + done, text.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      const int err = errno;
      ::close(fd);
      return io_error("write", tmp, err);
    }
    done += static_cast<std::size_t>(n);
  }
  if (::fsync(fd) != 0) {
    const int err = errno;
    ::close(fd);
    return io_error("fsync", tmp, err);
  }
  ::close(fd);
  if (::rename(tmp.c_str(), path.c_str()) != 0) return io_error("rename", tmp, errno);
  return Status::ok();
}

}  // namespace

std::string partition_store_dir(const std::string& root, PartitionId partition) {
  char name[16];
  std::snprintf(name, sizeof name, "p%04d", static_cast<int>(partition.value));
  return (std::filesystem::path(root) / name).string();
}

bool holds_single_store(const std::string& root) {
  std::error_code ec;
  return std::filesystem::exists(std::filesystem::path(root) / "data.mdb", ec);
}

Result<int32_t> read_partitioned_layout(const std::string& root) {
  const std::string path = layout_path(root);
  std::ifstream in(path);
  if (!in) {
    std::error_code ec;
    if (!std::filesystem::exists(path, ec)) {
      return Status::error(Status::Code::not_found, "no partitioned views in " + root);
    }
    return io_error("open", path, errno);
  }
  std::stringstream text;
  text << in.rdbuf();
  const std::string bytes = text.str();
  const std::string head = std::string(partitioned_layout_magic) + "\npartitions ";
  const auto malformed = [&] {
    return Status::error(Status::Code::corruption, "layout",
                         path + " is not a views layout this build reads: \"" + bytes.substr(0, 64) + "\"");
  };
  if (bytes.compare(0, head.size(), head) != 0 || bytes.back() != '\n') return malformed();
  int64_t count = 0;
  const std::string digits = bytes.substr(head.size(), bytes.size() - head.size() - 1);
  if (digits.empty() || digits.size() > 5) return malformed();
  for (char c : digits) {
    if (c < '0' || c > '9') return malformed();
    count = count * 10 + (c - '0');
  }
  if (count <= 0 || count > limits::partitions_max) return malformed();
  return static_cast<int32_t>(count);
}

Status write_partitioned_layout(const std::string& root, int32_t partition_count) {
  if (partition_count <= 0 || partition_count > limits::partitions_max) {
    return Status::invalid("partitions", "partition count " + std::to_string(partition_count) + " is not in 1.." +
                                             std::to_string(limits::partitions_max));
  }
  if (holds_single_store(root)) {
    return Status::invalid("data dir", root +
                                           " holds the views of every partition in one store (an earlier layout); "
                                           "views are now one store per partition: move it aside and start again "
                                           "(the views are folded anew from the log)");
  }
  Result<int32_t> existing = read_partitioned_layout(root);
  if (existing.is_ok()) {
    if (existing.value() == partition_count) return Status::ok();
    return Status::error(Status::Code::conflict, "partitions",
                         root + " holds the views of " + std::to_string(existing.value()) +
                             " partitions, the log has " + std::to_string(partition_count));
  }
  if (existing.status().code() != Status::Code::not_found) return existing.status();
  if (Status made = lmdb::create_private_dirs(root); !made.is_ok()) return made;
  return write_file_atomically(layout_path(root), layout_text(partition_count));
}

}  // namespace tally
