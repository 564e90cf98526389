#include "relay/progress_file.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cassert>
#include <cerrno>
#include <cstring>
#include <filesystem>

namespace tally::connectors {
namespace {

constexpr std::string_view header_line = "tally-progress 1";

Status io_error(const std::string& call, const std::string& path, int error) {
  return Status::error(Status::Code::io_error, call + "(" + path + "): " + std::strerror(error));
}

Status write_all(int fd, const std::string& data, const std::string& path) {
  std::size_t done = 0;
  while (done < data.size()) {
    const ssize_t n = ::write(fd, data.data() + done, data.size() - done);
    if (n < 0) {
      if (errno == EINTR) continue;
      return io_error("write", path, errno);
    }
    done += static_cast<std::size_t>(n);
  }
  return Status::ok();
}

Status fsync_path(const std::string& path, int flags) {
  const int fd = ::open(path.c_str(), flags | O_CLOEXEC);
  if (fd < 0) return io_error("open", path, errno);
  const int rc = ::fsync(fd);
  const int error = errno;
  ::close(fd);
  return rc == 0 ? Status::ok() : io_error("fsync", path, error);
}

}  // namespace

Result<std::unique_ptr<ProgressFile>> ProgressFile::open(const std::string& path) {
  const std::string lock_path = path + ".lock";
  const int fd = ::open(lock_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, progress_file_mode);
  if (fd < 0) return io_error("open", lock_path, errno);
  if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
    const int error = errno;
    ::close(fd);
    if (error == EWOULDBLOCK) {
      return Status::error(Status::Code::unavailable, path + " is in use by another process (lock " + lock_path + ")");
    }
    return io_error("flock", lock_path, error);
  }
  return std::unique_ptr<ProgressFile>(new ProgressFile(path, fd));
}

ProgressFile::~ProgressFile() { ::close(lock_fd_); }  // releases the flock

Result<std::vector<std::string>> ProgressFile::load() const {
  const int fd = ::open(path_.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ENOENT) return std::vector<std::string>{};
    return io_error("open", path_, errno);
  }
  std::string data;
  char buffer[16 * 1024];
  for (;;) {
    const ssize_t n = ::read(fd, buffer, sizeof buffer);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      const int error = errno;
      ::close(fd);
      return io_error("read", path_, error);
    }
    if (n == 0) break;
    data.append(buffer, static_cast<std::size_t>(n));
    if (data.size() > progress_file_bytes_max) {
      ::close(fd);
      return Status::error(Status::Code::corruption, path_ + ": larger than " + std::to_string(progress_file_bytes_max) + " bytes");
    }
  }
  ::close(fd);
  std::vector<std::string> lines;
  for (std::size_t start = 0; start < data.size();) {
    const std::size_t end = data.find('\n', start);
    if (end == std::string::npos) {
      return Status::error(Status::Code::corruption, path_ + ": last line is not terminated");
    }
    lines.push_back(data.substr(start, end - start));
    start = end + 1;
  }
  if (lines.size() < 2 || lines.front() != header_line ||
      lines.back() != "end " + std::to_string(lines.size() - 2)) {
    return Status::error(Status::Code::corruption, path_ + ": not a progress record (header or trailer missing)");
  }
  lines.pop_back();
  lines.erase(lines.begin());
  return lines;
}

Status ProgressFile::store(const std::vector<std::string>& lines) {
  std::string data(header_line);
  data += '\n';
  for (const std::string& line : lines) {
    assert(line.find('\n') == std::string::npos);
    data += line;
    data += '\n';
  }
  data += "end " + std::to_string(lines.size()) + "\n";
  if (data.size() > progress_file_bytes_max) {
    return Status::error(Status::Code::too_large, path_ + ": record of " + std::to_string(data.size()) + " bytes");
  }
  const std::string tmp = path_ + ".tmp";
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, progress_file_mode);
  if (fd < 0) return io_error("open", tmp, errno);
  Status written = write_all(fd, data, tmp);
  if (written.is_ok() && ::fsync(fd) != 0) written = io_error("fsync", tmp, errno);
  ::close(fd);
  if (!written.is_ok()) return written;
  if (::rename(tmp.c_str(), path_.c_str()) != 0) return io_error("rename", tmp, errno);
  // The rename is durable only once the directory entry is.
  std::string dir = std::filesystem::path(path_).parent_path().string();
  if (dir.empty()) dir = ".";
  return fsync_path(dir, O_RDONLY | O_DIRECTORY);
}

}  // namespace tally::connectors
