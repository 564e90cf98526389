// One Stripe emulator for a whole Boost.Test module (test-only, header-only: it needs Boost.Test),
// for the tests that charge against it: outbound/stripe_client_test, node/recharge_test,
// node/relay_crash_test. The test file registers it:
//   BOOST_TEST_GLOBAL_FIXTURE(tally::connectors::testing::EmulatorFixture);
// and its tests call emulator(). If the emulator cannot start (scripts/setup not run), the module
// still runs: every test that calls emulator() fails with the reason, the others pass or fail on
// their own.
#pragma once

#include <boost/test/unit_test.hpp>
#include <memory>
#include <string>

#include "outbound/testing/stripe_emulator.h"

namespace tally::connectors::testing {

struct EmulatorFixture {
  // The module's emulator, or null with the reason it did not start.
  static inline std::unique_ptr<StripeEmulator> running;
  static inline std::string start_error;

  EmulatorFixture() {
    auto started = StripeEmulator::start();
    if (started.is_ok()) {
      running = std::move(started.value());
    } else {
      start_error = started.status().to_string();
    }
  }
  ~EmulatorFixture() { running.reset(); }  // SIGTERM + waitpid
};

// The module's emulator; fails the calling test if it did not start.
inline StripeEmulator& emulator() {
  BOOST_REQUIRE_MESSAGE(EmulatorFixture::running != nullptr,
                        "Stripe emulator unavailable: " + EmulatorFixture::start_error);
  return *EmulatorFixture::running;
}

}  // namespace tally::connectors::testing
