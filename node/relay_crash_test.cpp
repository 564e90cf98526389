// Exactly one charge per recharge request, whatever crashes where: a child process
// (relay_node_child: journal, projector, emitter, recharge connector) SIGKILLs itself at a crash
// point, is restarted without it, and the emulator must hold exactly one charge for the org and
// the ledger exactly one applied AutoRefill.
//   recharge.after_charge   charged at Stripe, AutoRefill not appended (the dangerous one)
//   recharge.after_append   AutoRefill appended, consumer position not recorded
//   emitter.after_append    recharge_requested in the signals log, emitter progress not recorded
#include <boost/test/unit_test.hpp>

#include <signal.h>
#include <sys/wait.h>

#include <memory>
#include <string>

#include "log/journal.h"
#include "node/testing/node_test.h"
#include "outbound/stripe_client.h"
#include "outbound/testing/stripe_emulator.h"
#include "outbound/testing/stripe_test.h"
#include "projections/views.h"
#include "relay/outbox_emitter.h"
#include "relay/recharge.h"
#include "relay/testing/relay_harness.h"

using namespace tally;
using namespace tally::connectors;
using namespace tally::connectors::testing;

namespace {

StripeClient client() {
  StripeConfig config;
  config.base_url = emulator().base_url();
  config.api_key = StripeEmulator::api_key;
  return StripeClient(config);
}

pid_t start_child(const TempDir& dir, const std::string& crash_at) {
  std::vector<std::string> argv = {TALLY_RELAY_NODE_CHILD, "--data", dir.path(), "--stripe-url",
                                   emulator().base_url(), "--stripe-key", StripeEmulator::api_key};
  if (!crash_at.empty()) {
    argv.push_back("--crash-at");
    argv.push_back(crash_at);
  }
  return spawn(argv);
}

void crash_and_recover(const std::string& crash_at) {
  StripeClient stripe = client();
  auto customer = stripe.create_customer("tok_visa");
  BOOST_REQUIRE_MESSAGE(customer.is_ok(), customer.status().to_string());

  TempDir dir;
  NodeJournal journal(dir.path());
  const std::string org = unique_name("crash");
  OrgScript script(*journal.events, org);
  BOOST_REQUIRE(script.rate_card().is_ok());
  BOOST_REQUIRE(script.open().is_ok());
  BOOST_REQUIRE(script.purchase(100).is_ok());
  BOOST_REQUIRE(script.auto_refill(20, 100, customer.value()).is_ok());
  BOOST_REQUIRE(script.usage_output_tokens(4'000'000).is_ok());  // 90 credits: 10 left

  const pid_t crashing = start_child(dir, crash_at);
  const auto crashed = wait_exit(crashing);
  BOOST_REQUIRE_MESSAGE(crashed.has_value(), "the child did not reach " + crash_at);
  BOOST_REQUIRE_MESSAGE(WIFSIGNALED(*crashed) && WTERMSIG(*crashed) == SIGKILL,
                        "the child did not die at " + crash_at + " (status " + std::to_string(*crashed) + ")");
  if (crash_at == fault_recharge_after_charge) {
    BOOST_TEST(charges_with_metadata(stripe, "org_id", org) == 1u);  // money taken, nothing credited yet
  }

  const pid_t recovering = start_child(dir, "");
  std::unique_ptr<ViewReader> views;
  const bool refilled = wait_until([&] {
    if (!views) {
      auto opened = ViewReader::open(dir.sub("views"));
      if (!opened.is_ok()) return false;
      views = std::move(opened.value());
    }
    // Refilled, and this process's recharge connector has read every request since (it saw the
    // request the crash interrupted and did not charge it again): only then is it stopped.
    return count_history(*views, org, "auto_refill") == 1 &&
           recorded_offset(dir.sub("recharge.progress")) == static_cast<int64_t>(read_signals(dir.sub("journal")).size());
  });
  ::kill(recovering, SIGTERM);
  const auto stopped = wait_exit(recovering);
  BOOST_REQUIRE_MESSAGE(refilled, "no AutoRefill after restarting from " + crash_at);
  BOOST_REQUIRE(stopped.has_value());
  BOOST_TEST((WIFEXITED(*stopped) && WEXITSTATUS(*stopped) == 0));

  BOOST_TEST(charges_with_metadata(stripe, "org_id", org) == 1u);
  BOOST_TEST(count_history(*views, org, "auto_refill") == 1u);
  BOOST_TEST(count_history(*views, org, "payment_failed") == 0u);
  const auto state = org_state(*views, org);
  BOOST_REQUIRE(state.has_value());
  BOOST_TEST(state->balance_micros == Micros{110 * micros});
  BOOST_TEST(!state->refill_pending);
}

}  // namespace

BOOST_TEST_GLOBAL_FIXTURE(EmulatorFixture);

BOOST_AUTO_TEST_CASE(crash_between_charge_and_auto_refill_charges_once) {
  crash_and_recover(std::string(fault_recharge_after_charge));
}

BOOST_AUTO_TEST_CASE(crash_between_auto_refill_and_recorded_position_charges_once) {
  crash_and_recover(std::string(fault_recharge_after_append));
}

BOOST_AUTO_TEST_CASE(emitter_crash_before_recording_resends_and_still_charges_once) {
  crash_and_recover(std::string(fault_emitter_after_append));
}
