// A test harness that runs the Stripe emulator (npm package stripe-stateful-mock, pinned in
// tests/stripe/package-lock.json, installed by scripts/setup) as a child process for the duration
// of a test, on a free port.
//
// Lifecycle: start() launches `node tests/stripe/node_modules/.bin/stripe-stateful-mock` with
// PORT=<free port> (how the package takes its port) and waits, polling a TCP connect on
// 127.0.0.1, until it accepts connections or `start_timeout_ms` passes. The destructor sends
// SIGTERM and reaps the child (SIGKILL after stop_timeout_ms). State lives in the emulator's memory
// only: every start() is a fresh, empty Stripe account.
//
// Caveats: the package's own launcher listens on all interfaces, not only loopback. The free port
// is found by binding port 0 and closing it; if another process takes it first the child exits
// and start() tries another port (emulator_start_tries_max).
// Thread safety: not thread-safe; create and destroy on one thread.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <memory>
#include <string>

#include "engine/status.h"

namespace tally::connectors::testing {

inline constexpr int64_t emulator_start_timeout_ms = 15'000;
inline constexpr int64_t emulator_stop_timeout_ms = 5'000;
inline constexpr int32_t emulator_start_tries_max = 3;

struct StripeEmulatorOptions {
  // The repository root; empty = $TALLY_SOURCE_DIR (ctest sets it), else the build's source dir.
  std::string source_dir;
  int64_t start_timeout_ms = emulator_start_timeout_ms;
  // The emulator's LOG_LEVEL: silent, error, warn, info, debug.
  std::string log_level = "error";
};

class StripeEmulator {
 public:
  // Starts the emulator. Errors (the message says what to do):
  //   not_found    node, or tests/stripe/node_modules/.bin/stripe-stateful-mock, is missing
  //                ("run scripts/setup")
  //   unavailable  it did not accept connections within the deadline, or exited early
  static Result<std::unique_ptr<StripeEmulator>> start(const StripeEmulatorOptions& options = {});

  ~StripeEmulator();
  StripeEmulator(const StripeEmulator&) = delete;
  StripeEmulator& operator=(const StripeEmulator&) = delete;

  // "http://127.0.0.1:<port>": the Stripe base URL to configure clients with.
  std::string base_url() const;
  int32_t port() const { return port_; }
  // Any key starting with sk_test_ is accepted by the emulator.
  static constexpr const char* api_key = "sk_test_tally_emulator";

 private:
  StripeEmulator(pid_t pid, int32_t port) : pid_(pid), port_(port) {}
  pid_t pid_;
  int32_t port_;
};

}  // namespace tally::connectors::testing
