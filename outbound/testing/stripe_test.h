// What the tests against a Stripe share (test-only; header-only, as it needs Boost.Test): one
// Stripe emulator for a whole Boost.Test module, the local Stripe of published example objects
// (stripe_fixtures.h) started for a test, and a charge outcome's kind printed in messages.
//
// The emulator, for the tests that charge against it (outbound/stripe_client_test,
// node/recharge_test, node/relay_crash_test): the test file registers
//   BOOST_TEST_GLOBAL_FIXTURE(tally::connectors::testing::EmulatorFixture);
// and its tests call emulator(). If the emulator cannot start (scripts/setup not run), the module
// still runs: every test that calls emulator() fails with the reason, the others pass or fail on
// their own.
#pragma once

#include <boost/test/unit_test.hpp>
#include <memory>
#include <ostream>
#include <string>

#include "outbound/stripe_client.h"
#include "outbound/testing/stripe_emulator.h"
#include "outbound/testing/stripe_fixtures.h"

namespace tally::connectors {
// For Boost.Test's messages.
inline std::ostream& operator<<(std::ostream& out, ChargeOutcome::Kind kind) { return out << kind_name(kind); }
}  // namespace tally::connectors

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

// A local Stripe (stripe_fixtures.h), started; the test fails here (REQUIRE), with the reason, if
// it cannot start.
inline std::unique_ptr<StripeFixtureServer> start_local_stripe() {
  Result<std::unique_ptr<StripeFixtureServer>> started = StripeFixtureServer::start();
  BOOST_REQUIRE_MESSAGE(started.is_ok(), started.status().to_string());
  return std::move(started.value());
}

}  // namespace tally::connectors::testing
