// While a hold is active, the node's ticker ticks often enough for its expiry to land (SPEC §11):
// a hold nobody captures or releases is released by the clock within hold_tick_interval_ms of its
// expiry, even though the regular tick interval is a minute away.
#include <boost/test/unit_test.hpp>

#include <chrono>
#include <string>
#include <thread>

#include "engine/event_factory.h"
#include "node/node.h"
#include "node/testing/node_test.h"
#include "relay/testing/relay_harness.h"

using namespace tally;
using namespace tally::connectors::testing;

namespace {

// Polls the views until `condition` holds of the org's state or the deadline passes.
template <class Condition>
bool state_becomes(ViewReader& views, const std::string& org, Condition condition, std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    const std::optional<OrgState> state = org_state(views, org);
    if (state && condition(*state)) return true;
    std::this_thread::yield();
  }
  return false;
}

}  // namespace

BOOST_AUTO_TEST_CASE(an_active_hold_is_expired_by_ticks_well_before_the_tick_interval) {
  TempDir dir;
  NodeOptions options = test_node_options(dir.path());
  options.role_api = false;
  options.tick_interval_ms = 60'000;       // a minute: the regular ticks would come far too late
  options.hold_tick_interval_ms = 200;     // the test's hold interval (5 s in production)
  const std::unique_ptr<Node> started = start_test_node(options);
  Node& node = *started;
  OrgScript script(node.events_writer(), "acme");
  BOOST_REQUIRE(script.purchase(10).is_ok());
  const std::string hold = make_hold_placed(EventHeader{"h-1", "acme", now_ms()},
                                            HoldFields{.amount_micros = 4'000'000, .ttl_ms = 1'000});
  BOOST_REQUIRE(node.events_writer().append({{AppendRequest{"acme", hold, false}}}).is_ok());
  BOOST_REQUIRE(state_becomes(*node.views(), "acme", [](const OrgState& s) { return s.held_micros.value() == 4'000'000; },
                              std::chrono::seconds(10)));
  // Nothing else is appended: only the ticker can move the clock past the expiry.
  BOOST_TEST(state_becomes(*node.views(), "acme", [](const OrgState& s) { return s.holds.empty() && s.held_micros.value() == 0; },
                           std::chrono::seconds(10)));
  node.stop();
}
