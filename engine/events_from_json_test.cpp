// events_from_json: a request body of one event or an array of them, parsed once and strictly
// (a key repeated anywhere is refused, by its path), every event encoded and validated without a
// FlatBuffers verification, and the bytes those of flatc's object API.
#include <boost/test/unit_test.hpp>

#include <cstdint>
#include <string>
#include <vector>

#include "engine/event_json.h"
#include "engine/validate.h"
#include "tally/events_generated.h"

namespace tally {
namespace {

const std::string purchase =
    R"({"type":"purchase","idempotency_key":"ch_1","org_id":"acme","occurred_at_ms":1763856000000,)"
    R"("credits_micros":100000000,"paid_minor":10000,"currency":"usd","bundles":1,"payment_ref":"ch_1"})";
const std::string usage =
    R"({"type":"usage","idempotency_key":"req-1","org_id":"acme","occurred_at_ms":1763856001000,)"
    R"("member_id":"u1","meter":"llm_tokens","model":"claude-sonnet-4","input_tokens":1200})";
const std::string rate_card =
    R"({"type":"rate_card_published","idempotency_key":"rc-1","occurred_at_ms":1763856000000,"version":1,)"
    R"("markup_bp":15000,"models":[{"model":"b","input_per_mtok_micros":3},{"model":"a"}],)"
    R"("sandbox_classes":[{"class":"standard","per_hour_micros":360000}]})";

EventParseOptions batch_options() {
  EventParseOptions options;
  options.events_max = 100;
  return options;
}

Status parse_error(const std::string& json, const EventParseOptions& options = batch_options()) {
  Result<ParsedEvents> parsed = events_from_json(json, options);
  BOOST_REQUIRE_MESSAGE(!parsed.is_ok(), "accepted: " << json.substr(0, 200));
  return parsed.status();
}

// Regression: a batch element repeating a key was accepted (the HTTP route parsed the array with
// boost::json::parse, which keeps the last value, and re-serialised each element).
BOOST_AUTO_TEST_CASE(batch_element_with_duplicate_key_is_refused) {
  const std::string twice =
      R"({"type":"purchase","idempotency_key":"ch_2","org_id":"acme","occurred_at_ms":1,"currency":"usd",)"
      R"("bundles":1,"credits_micros":1,"credits_micros":100000000})";
  Status status = parse_error("[" + purchase + "," + usage + "," + usage + "," + twice + "]");
  BOOST_TEST(status.field() == "[3].credits_micros");
  BOOST_TEST(status.message() == "duplicate key");
  BOOST_TEST(status.to_string() == "[3].credits_micros: duplicate key");

  // Inside a nested object of an element too.
  const std::string nested = R"({"type":"rate_card_published","idempotency_key":"rc","occurred_at_ms":1,)"
                             R"("version":1,"markup_bp":1,"models":[{"model":"a"},{"model":"b","model":"c"}]})";
  status = parse_error("[" + purchase + "," + nested + "]");
  BOOST_TEST(status.field() == "[1].models[1].model");
}

BOOST_AUTO_TEST_CASE(a_batch_answers_each_event_in_order) {
  Result<ParsedEvents> parsed = events_from_json("[" + purchase + "," + rate_card + "," + usage + "]", batch_options());
  BOOST_REQUIRE_MESSAGE(parsed.is_ok(), parsed.status().to_string());
  BOOST_TEST(parsed->batch);
  BOOST_REQUIRE_EQUAL(parsed->events.size(), 3u);
  const std::vector<std::string> keys = {"ch_1", "rc-1", "req-1"};
  const std::vector<std::string> orgs = {"acme", "", "acme"};
  const std::vector<fb::Body> types = {fb::Body::Purchase, fb::Body::RateCardPublished, fb::Body::Usage};
  for (std::size_t i = 0; i < 3; ++i) {
    const ParsedEvent& event = parsed->events[i];
    BOOST_TEST(event.idempotency_key == keys[i]);
    BOOST_TEST(event.org_id == orgs[i]);
    BOOST_TEST((event.body_type == types[i]));
    BOOST_TEST(event.occurred_at_given);
    // The same bytes as the single-event entry point.
    const std::string single = i == 0 ? purchase : i == 1 ? rate_card : usage;
    BOOST_TEST(event.bytes == event_from_json(single).value());
  }

  Result<ParsedEvents> one = events_from_json(usage, batch_options());
  BOOST_REQUIRE(one.is_ok());
  BOOST_TEST(!one->batch);
  BOOST_REQUIRE_EQUAL(one->events.size(), 1u);

  Result<ParsedEvents> none = events_from_json("[]", batch_options());
  BOOST_REQUIRE(none.is_ok());
  BOOST_TEST(none->events.empty());
}

BOOST_AUTO_TEST_CASE(errors_in_a_batch_name_the_event) {
  const std::string bad_bundles =
      R"({"type":"purchase","idempotency_key":"k","org_id":"acme","occurred_at_ms":1,"credits_micros":1,"currency":"usd","bundles":11})";
  BOOST_TEST(parse_error("[" + usage + "," + bad_bundles + "]").field() == "[1].bundles");  // a range rule
  BOOST_TEST(parse_error("[" + usage + R"(,{"type":"gift"}])").field() == "[1].type");
  BOOST_TEST(parse_error("[" + usage + R"(,{"type":"usage","bogus":1}])").field() == "[1].bogus");
  BOOST_TEST(parse_error("[" + usage + ",7]").field() == "[1]");
  BOOST_TEST(parse_error("7").field() == "");
  BOOST_TEST(parse_error("[" + usage + "] x").field() == "");

  EventParseOptions single = batch_options();
  single.array_allowed = false;
  BOOST_TEST(parse_error("[" + usage + "]", single).message() == "an event must be a JSON object");
  BOOST_TEST(!event_from_json("[" + usage + "]").is_ok());
}

BOOST_AUTO_TEST_CASE(limits_are_refused_as_too_large) {
  EventParseOptions two = batch_options();
  two.events_max = 2;
  BOOST_TEST((parse_error("[" + usage + "," + usage + "," + usage + "]", two).code() == Status::Code::too_large));
  EventParseOptions short_text = batch_options();
  short_text.json_bytes_max = usage.size() - 1;
  BOOST_TEST((parse_error(usage, short_text).code() == Status::Code::too_large));

  // Deep nesting is refused before it costs stack.
  const std::string deep = std::string(event_json_depth_max + 1, '[') + std::string(event_json_depth_max + 1, ']');
  Status status = parse_error(deep);
  BOOST_TEST(status.message().find("deeper than") != std::string::npos, status.to_string());

  // An event that encodes to more than event_bytes_max.
  const std::string big = R"({"type":"rate_card_published","idempotency_key":"rc","occurred_at_ms":1,"version":1,)"
                          R"("markup_bp":1,"models":[)";
  std::string models;
  const std::string name(40, 'm');  // 3000 entries of 40-byte names: more than 64 KiB encoded
  for (int i = 0; i < 3000; ++i) models += (i ? "," : "") + std::string(R"({"model":")") + name + std::to_string(i) + "\"}";
  status = parse_error("[" + big + models + "]}]");
  BOOST_TEST((status.code() == Status::Code::too_large));
  BOOST_TEST(status.field() == "[0]");
}

BOOST_AUTO_TEST_CASE(occurred_at_is_required_unless_the_caller_stamps_it) {
  const std::string timeless = R"({"type":"usage","idempotency_key":"r","org_id":"acme","meter":"llm_tokens","model":"m"})";
  BOOST_TEST(parse_error(timeless).field() == "occurred_at_ms");
  BOOST_TEST(event_from_json(timeless).status().field() == "occurred_at_ms");

  EventParseOptions stamped = batch_options();
  stamped.occurred_at_default_ms = 1763856000123;
  Result<ParsedEvents> parsed = events_from_json("[" + timeless + "," + usage + "]", stamped);
  BOOST_REQUIRE_MESSAGE(parsed.is_ok(), parsed.status().to_string());
  BOOST_TEST(!parsed->events[0].occurred_at_given);
  BOOST_TEST(fb::GetEnvelope(parsed->events[0].bytes.data())->occurred_at_ms() == 1763856000123);
  BOOST_TEST(parsed->events[1].occurred_at_given);  // given: kept
  BOOST_TEST(fb::GetEnvelope(parsed->events[1].bytes.data())->occurred_at_ms() == 1763856001000);
}

// The fold's verification is the only one between a producer and the fold.
BOOST_AUTO_TEST_CASE(parsing_never_verifies_a_buffer) {
  const uint64_t before = envelope_verifications();
  Result<ParsedEvents> parsed = events_from_json("[" + purchase + "," + rate_card + "," + usage + "]", batch_options());
  BOOST_REQUIRE(parsed.is_ok());
  BOOST_REQUIRE(event_from_json(usage).is_ok());
  BOOST_TEST(envelope_verifications() == before);
  for (const ParsedEvent& event : parsed->events) BOOST_REQUIRE(validate_event(event.bytes).is_ok());
  BOOST_TEST(envelope_verifications() == before + 3);
}

// The codec lays a buffer out as flatc's object API does (UnPack then Pack rebuilds it byte for
// byte), so an event has the same bytes whichever way it was made.
BOOST_AUTO_TEST_CASE(bytes_are_those_of_the_object_api) {
  const std::vector<std::string> events = {
      purchase, usage, rate_card,
      R"({"type":"usage","idempotency_key":"sb","org_id":"acme","occurred_at_ms":0,"meter":"sandbox_seconds",)"
      R"("sandbox_class":"s","seconds":60,"reported_cost_micros":0,"source":"sandboxd","billing_path":"byok"})",
      R"({"type":"refund","idempotency_key":"re","org_id":"acme","occurred_at_ms":5,"purchase_key":"ch_1",)"
      R"("credits_micros":1,"force":true})",
      R"({"type":"org_opened","idempotency_key":"o","org_id":"acme","occurred_at_ms":5,"plan":"pro","billing_mode":"byok"})",
      R"({"type":"auto_refill_configured","idempotency_key":"a","org_id":"acme","occurred_at_ms":5,"enabled":true,)"
      R"("threshold_micros":5,"refill_credits_micros":7,"max_per_day":2})",
      R"({"type":"tick","idempotency_key":"t","occurred_at_ms":9})",
  };
  for (const std::string& json : events) {
    BOOST_TEST_CONTEXT(json) {
      Result<std::string> bytes = event_from_json(json);
      BOOST_REQUIRE_MESSAGE(bytes.is_ok(), bytes.status().to_string());
      fb::EnvelopeT unpacked;
      fb::GetEnvelope(bytes->data())->UnPackTo(&unpacked);
      flatbuffers::FlatBufferBuilder builder(1024);
      builder.Finish(fb::Envelope::Pack(builder, &unpacked), fb::EnvelopeIdentifier());
      const std::string packed(reinterpret_cast<const char*>(builder.GetBufferPointer()), builder.GetSize());
      BOOST_TEST(bytes.value() == packed);
    }
  }
}

}  // namespace
}  // namespace tally
