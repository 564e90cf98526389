// Mapped events are accepted by the canonical codec (engine/event_json.h) and survive its round
// trip: the mappers and the codec agree on type names, field names, types and ranges.
#include <boost/test/unit_test.hpp>

#include <boost/json.hpp>

#include "engine/event_json.h"
#include "ingest/litellm.h"
#include "ingest/stripe_events.h"
#include "ingest/test_util.h"

using namespace tally::connectors;
using tally::connectors::test::read_testdata;
namespace json = boost::json;

namespace {

// Encodes `event` with the codec, renders it back, and checks every mapped field came back equal.
void check_round_trip(const json::object& event) {
  const std::string text = json::serialize(event);
  auto encoded = tally::event_from_json(text);
  BOOST_REQUIRE_MESSAGE(encoded.is_ok(), text + " -> " + encoded.status().to_string());
  auto rendered = tally::event_to_json(encoded.value());
  BOOST_REQUIRE_MESSAGE(rendered.is_ok(), rendered.status().to_string());
  const json::object back = json::parse(rendered.value()).as_object();
  for (const auto& field : event) {
    BOOST_TEST_INFO("field " << field.key());
    BOOST_REQUIRE(back.contains(field.key()));
    BOOST_TEST(json::serialize(back.at(field.key())) == json::serialize(field.value()));
  }
}

}  // namespace

BOOST_AUTO_TEST_CASE(stripe_purchase_is_a_valid_event) {
  auto mapped = map_stripe_event(read_testdata("stripe_checkout_session_completed.json"), {});
  BOOST_REQUIRE(mapped.is_ok());
  check_round_trip(mapped->event);
}

BOOST_AUTO_TEST_CASE(stripe_refund_is_a_valid_event) {
  auto mapped = map_stripe_event(read_testdata("stripe_charge_refunded.json"), {});
  BOOST_REQUIRE(mapped.is_ok());
  check_round_trip(mapped->event);
}

BOOST_AUTO_TEST_CASE(litellm_usage_is_a_valid_event) {
  LitellmMapping mapping;
  mapping.team_to_org = {{"team-acme", "acme-corp"}};
  mapping.billing_path = "credits";
  auto mapped = map_litellm_payload(read_testdata("litellm_payload.json"), mapping);
  BOOST_REQUIRE(mapped.is_ok());
  check_round_trip(mapped->event);
}
