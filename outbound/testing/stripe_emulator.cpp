#include "outbound/testing/stripe_emulator.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <thread>
#include <vector>

extern char** environ;

namespace tally::connectors::testing {
namespace {

using Clock = std::chrono::steady_clock;

// Between connection probes: short, so start() returns soon after the server is up. This is a
// poll interval with a deadline, not a guess at how long startup takes.
constexpr auto probe_interval = std::chrono::milliseconds(20);

std::string setup_hint() { return " — run scripts/setup (installs node and the Stripe emulator via npm)"; }

bool is_executable(const std::string& path) {
  struct stat info {};
  return ::stat(path.c_str(), &info) == 0 && S_ISREG(info.st_mode) && ::access(path.c_str(), X_OK) == 0;
}

// The absolute path of `name` on $PATH, or empty.
std::string find_on_path(const std::string& name) {
  const char* path = std::getenv("PATH");
  if (path == nullptr) return {};
  std::string_view rest(path);
  while (true) {
    const std::size_t colon = rest.find(':');
    std::string dir(rest.substr(0, colon));
    if (dir.empty()) dir = ".";
    const std::string candidate = dir + "/" + name;
    if (is_executable(candidate)) return candidate;
    if (colon == std::string_view::npos) return {};
    rest.remove_prefix(colon + 1);
  }
}

// A port that was free a moment ago (bind to 0, read it back, close).
Result<int32_t> free_loopback_port() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return Status::error(Status::Code::io_error, std::string("socket: ") + std::strerror(errno));
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  address.sin_port = 0;
  socklen_t length = sizeof(address);
  if (::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)) != 0 ||
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length) != 0) {
    const std::string error = std::strerror(errno);
    ::close(fd);
    return Status::error(Status::Code::io_error, "bind: " + error);
  }
  ::close(fd);
  return static_cast<int32_t>(ntohs(address.sin_port));
}

bool accepts_connections(int32_t port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return false;
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  address.sin_port = htons(static_cast<uint16_t>(port));
  const bool ok = ::connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)) == 0;
  ::close(fd);
  return ok;
}

// Stops `pid`: SIGTERM, then SIGKILL if it has not exited by the deadline.
void stop_child(pid_t pid) {
  ::kill(pid, SIGTERM);
  const auto deadline = Clock::now() + std::chrono::milliseconds(emulator_stop_timeout_ms);
  while (true) {
    int status = 0;
    const pid_t reaped = ::waitpid(pid, &status, WNOHANG);
    if (reaped == pid || (reaped < 0 && errno != EINTR)) return;
    if (Clock::now() >= deadline) {
      ::kill(pid, SIGKILL);
      while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
      }
      return;
    }
    std::this_thread::sleep_for(probe_interval);
  }
}

// The child's environment: ours, plus PORT and LOG_LEVEL (replacing any inherited ones).
std::vector<std::string> child_environment(int32_t port, const std::string& log_level) {
  std::vector<std::string> environment;
  for (char** entry = environ; *entry != nullptr; ++entry) {
    const std::string_view text(*entry);
    if (text.rfind("PORT=", 0) == 0 || text.rfind("LOG_LEVEL=", 0) == 0) continue;
    environment.emplace_back(text);
  }
  environment.push_back("PORT=" + std::to_string(port));
  environment.push_back("LOG_LEVEL=" + log_level);
  return environment;
}

}  // namespace

Result<std::unique_ptr<StripeEmulator>> StripeEmulator::start(const StripeEmulatorOptions& options) {
  std::string source_dir = options.source_dir;
  if (source_dir.empty()) {
    const char* from_env = std::getenv("TALLY_SOURCE_DIR");
    if (from_env != nullptr && from_env[0] != '\0') source_dir = from_env;
  }
#ifdef TALLY_SOURCE_DIR_DEFAULT
  if (source_dir.empty()) source_dir = TALLY_SOURCE_DIR_DEFAULT;
#endif
  if (source_dir.empty()) {
    return Status::error(Status::Code::not_found, "TALLY_SOURCE_DIR is not set (ctest sets it to the repository root)");
  }
  const std::string node = find_on_path("node");
  if (node.empty()) return Status::error(Status::Code::not_found, "node is not on PATH" + setup_hint());
  const std::string launcher = source_dir + "/tests/stripe/node_modules/.bin/stripe-stateful-mock";
  if (!is_executable(launcher) && ::access(launcher.c_str(), R_OK) != 0) {
    return Status::error(Status::Code::not_found, launcher + " is missing" + setup_hint());
  }

  Status last_error = Status::error(Status::Code::unavailable, "emulator did not start");
  for (int32_t attempt = 1; attempt <= emulator_start_tries_max; ++attempt) {
    Result<int32_t> port = free_loopback_port();
    if (!port.is_ok()) return port.status();

    std::vector<std::string> environment = child_environment(port.value(), options.log_level);
    std::vector<char*> envp;
    for (std::string& entry : environment) envp.push_back(entry.data());
    envp.push_back(nullptr);
    std::string arg0 = node;
    std::string arg1 = launcher;
    char* argv[] = {arg0.data(), arg1.data(), nullptr};

    pid_t pid = 0;
    const int spawned = ::posix_spawn(&pid, node.c_str(), nullptr, nullptr, argv, envp.data());
    if (spawned != 0) {
      return Status::error(Status::Code::unavailable, "cannot run " + node + ": " + std::strerror(spawned));
    }
    auto emulator = std::unique_ptr<StripeEmulator>(new StripeEmulator(pid, port.value()));

    const auto deadline = Clock::now() + std::chrono::milliseconds(options.start_timeout_ms);
    bool exited = false;
    while (Clock::now() < deadline) {
      if (accepts_connections(port.value())) return emulator;
      int status = 0;
      if (::waitpid(pid, &status, WNOHANG) == pid) {
        exited = true;
        emulator->pid_ = -1;  // already reaped
        last_error = Status::error(Status::Code::unavailable,
                                   "the Stripe emulator exited during startup (status " + std::to_string(status) +
                                       ", port " + std::to_string(port.value()) + ")");
        break;
      }
      std::this_thread::sleep_for(probe_interval);
    }
    if (!exited) {
      return Status::error(Status::Code::unavailable,
                           "the Stripe emulator did not accept connections on port " + std::to_string(port.value()) +
                               " within " + std::to_string(options.start_timeout_ms) + " ms");
    }
    // Exited early, most likely because someone took the port: try another one.
  }
  return last_error;
}

StripeEmulator::~StripeEmulator() {
  if (pid_ > 0) stop_child(pid_);
}

std::string StripeEmulator::base_url() const { return "http://127.0.0.1:" + std::to_string(port_); }

}  // namespace tally::connectors::testing
