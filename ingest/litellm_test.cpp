// LiteLLM StandardLoggingPayload -> canonical usage events, on a real-shape fixture.
#include <boost/test/unit_test.hpp>

#include <boost/json.hpp>

#include "ingest/litellm.h"
#include "ingest/test_util.h"

using namespace tally::connectors;
using tally::connectors::test::read_testdata;
using tally::connectors::test::replace_once;
namespace json = boost::json;

namespace {

std::string fixture() { return read_testdata("litellm_payload.json"); }

LitellmMapping acme_mapping() {
  LitellmMapping mapping;
  mapping.team_to_org = {{"team-acme", "acme-corp"}};
  return mapping;
}

json::object map_ok(const std::string& payload, const LitellmMapping& mapping = acme_mapping()) {
  auto r = map_litellm_payload(payload, mapping);
  BOOST_REQUIRE_MESSAGE(r.is_ok(), r.status().to_string());
  BOOST_REQUIRE(!r->ignored);
  return r->event;
}

tally::Status map_error(const std::string& payload, const LitellmMapping& mapping = acme_mapping()) {
  auto r = map_litellm_payload(payload, mapping);
  BOOST_REQUIRE_MESSAGE(!r.is_ok(), "expected an error");
  return r.status();
}

std::string with_cost(const std::string& cost_text) {
  return replace_once(fixture(), R"("response_cost": 0.000123456,)", R"("response_cost": )" + cost_text + ",");
}

}  // namespace

BOOST_AUTO_TEST_CASE(fixture_maps_to_a_usage_event) {
  const json::object expected = json::parse(R"({
    "type": "usage",
    "idempotency_key": "4b7e1c2d-9a3f-4e6b-8c5d-1f2a3b4c5d6e",
    "org_id": "acme-corp",
    "occurred_at_ms": 1732300001987,
    "source": "litellm",
    "correlation_id": "a1b2c3d4-e5f6-4a7b-8c9d-0e1f2a3b4c5d",
    "member_id": "user-42",
    "workspace": "ws-main",
    "project": "office-7",
    "agent_id": "agent-3",
    "session_id": "sess-99",
    "meter": "llm_tokens",
    "model": "claude-3-5-sonnet-20240620",
    "provider": "anthropic",
    "input_tokens": 150,
    "output_tokens": 85,
    "cache_read_tokens": 1000,
    "cache_write_tokens": 50,
    "reported_cost_micros": 123
  })").as_object();
  BOOST_TEST(json::serialize(map_ok(fixture())) == json::serialize(expected));
}

BOOST_AUTO_TEST_CASE(response_cost_is_exact_and_rounded_half_up_once) {
  // 0.000123456 USD = 123.456 µcr -> 123 (half up: .456 < .5).
  BOOST_TEST(map_ok(fixture()).at("reported_cost_micros").as_int64() == 123);
  BOOST_TEST(map_ok(with_cost("0.0001235")).at("reported_cost_micros").as_int64() == 124);
  BOOST_TEST(map_ok(with_cost("0.0000125")).at("reported_cost_micros").as_int64() == 13);
  BOOST_TEST(map_ok(with_cost("1.5e-05")).at("reported_cost_micros").as_int64() == 15);
  BOOST_TEST(map_ok(with_cost("0.29")).at("reported_cost_micros").as_int64() == 290000);
  BOOST_TEST(map_ok(with_cost("0.0")).at("reported_cost_micros").as_int64() == 0);
  BOOST_TEST(map_ok(with_cost("\"0.000123456\"")).at("reported_cost_micros").as_int64() == 123);
}

BOOST_AUTO_TEST_CASE(unknown_cost_is_left_to_the_rate_card) {
  BOOST_TEST(!map_ok(with_cost("null")).contains("reported_cost_micros"));
  // LiteLLM sends 0.0 when it failed to compute a cost; the debug info says so.
  const std::string failed = replace_once(with_cost("0.0"), R"("response_cost_failure_debug_info": null)",
                                          R"("response_cost_failure_debug_info": {"error_str": "model not mapped", "traceback_str": ""})");
  BOOST_TEST(!map_ok(failed).contains("reported_cost_micros"));
}

BOOST_AUTO_TEST_CASE(bad_costs_are_named) {
  BOOST_TEST(map_error(with_cost("-0.01")).field() == "response_cost");
  BOOST_TEST(map_error(with_cost("\"cheap\"")).field() == "response_cost");
  BOOST_TEST(map_error(with_cost("true")).field() == "response_cost");
}

BOOST_AUTO_TEST_CASE(redelivered_callback_maps_to_the_same_key_and_body) {
  // LiteLLM retried the delivery later: new timestamps, same call. Same key, same body fields, so
  // the ledger records a duplicate (the digest excludes occurred_at_ms).
  const json::object first = map_ok(fixture());
  std::string again = replace_once(fixture(), R"("endTime": 1732300001.987654)", R"("endTime": 1732300009.5)");
  json::object second = map_ok(again);
  BOOST_TEST(second.at("idempotency_key") == first.at("idempotency_key"));
  BOOST_TEST(second.at("occurred_at_ms").as_int64() == 1732300009500);
  second["occurred_at_ms"] = first.at("occurred_at_ms");
  BOOST_TEST(json::serialize(second) == json::serialize(first));
}

BOOST_AUTO_TEST_CASE(key_falls_back_to_id_without_litellm_call_id) {
  const std::string payload =
      replace_once(fixture(), R"("litellm_call_id": "4b7e1c2d-9a3f-4e6b-8c5d-1f2a3b4c5d6e",)", "");
  BOOST_TEST(map_ok(payload).at("idempotency_key").as_string() == "chatcmpl-9f3c2a1b-7d4e-4c8a-b6f5-2e1d0c9b8a7f");
  const std::string neither = replace_once(payload, R"("id": "chatcmpl-9f3c2a1b-7d4e-4c8a-b6f5-2e1d0c9b8a7f",)", "");
  BOOST_TEST(map_error(neither).field() == "id");
}

BOOST_AUTO_TEST_CASE(time_accepts_floats_numeric_strings_and_iso) {
  const auto at = [](const std::string& value) {
    return map_ok(replace_once(fixture(), R"("endTime": 1732300001.987654)", R"("endTime": )" + value))
        .at("occurred_at_ms")
        .as_int64();
  };
  BOOST_TEST(at("1732300001") == 1732300001000);
  BOOST_TEST(at("\"1732300001.25\"") == 1732300001250);
  BOOST_TEST(at("\"2024-01-01T00:00:00\"") == 1704067200000);
  BOOST_TEST(at("\"2024-01-01 00:00:00.5\"") == 1704067200500);
  BOOST_TEST(at("\"2024-01-01T01:00:00+01:00\"") == 1704067200000);
  // No endTime: startTime.
  const std::string start_only = replace_once(fixture(), R"("endTime": 1732300001.987654,)", "");
  BOOST_TEST(map_ok(start_only).at("occurred_at_ms").as_int64() == 1732300000123);
  BOOST_TEST(map_error(replace_once(fixture(), R"("endTime": 1732300001.987654)", R"("endTime": "soon")"))
                 .field() == "endTime");
  const std::string no_time = replace_once(start_only, R"("startTime": 1732300000.123456,)", "");
  BOOST_TEST(map_error(no_time).field() == "endTime");
}

BOOST_AUTO_TEST_CASE(org_mapping_rules) {
  LitellmMapping mapping;  // team-acme not listed
  BOOST_TEST(map_error(fixture(), mapping).field() == "metadata.user_api_key_team_id");
  mapping.default_org = "fallback-org";
  BOOST_TEST(map_ok(fixture(), mapping).at("org_id").as_string() == "fallback-org");
  mapping.team_id_as_org = true;
  BOOST_TEST(map_ok(fixture(), mapping).at("org_id").as_string() == "team-acme");
  mapping.team_to_org = {{"team-acme", "acme-corp"}};
  BOOST_TEST(map_ok(fixture(), mapping).at("org_id").as_string() == "acme-corp");
  // A team id that is not a valid org id cannot be used as one.
  LitellmMapping as_org;
  as_org.team_id_as_org = true;
  const std::string odd_team = replace_once(fixture(), R"("team-acme")", R"("team:acme")");
  BOOST_TEST(map_error(odd_team, as_org).field() == "metadata.user_api_key_team_id");
  // No team at all: the default org.
  LitellmMapping only_default;
  only_default.default_org = "solo";
  const std::string no_team = replace_once(fixture(), R"("user_api_key_team_id": "team-acme")",
                                           R"("user_api_key_team_id": null)");
  BOOST_TEST(map_ok(no_team, only_default).at("org_id").as_string() == "solo");
}

BOOST_AUTO_TEST_CASE(member_mapping_rules) {
  LitellmMapping mapping = acme_mapping();
  mapping.user_to_member = {{"user-42", "alice"}};
  BOOST_TEST(map_ok(fixture(), mapping).at("member_id").as_string() == "alice");
  mapping.end_user_as_member = true;
  BOOST_TEST(map_ok(fixture(), mapping).at("member_id").as_string() == "enduser-7");
  const std::string bad_user = replace_once(fixture(), R"("user_api_key_user_id": "user-42")",
                                            R"("user_api_key_user_id": "user 42")");
  BOOST_TEST(map_error(bad_user).field() == "metadata.user_api_key_user_id");
  const std::string no_user = replace_once(fixture(), R"("user_api_key_user_id": "user-42")",
                                           R"("user_api_key_user_id": null)");
  BOOST_TEST(!map_ok(no_user).contains("member_id"));
}

BOOST_AUTO_TEST_CASE(prompt_tokens_keep_cache_when_configured) {
  LitellmMapping mapping = acme_mapping();
  mapping.prompt_tokens_include_cache = false;
  BOOST_TEST(map_ok(fixture(), mapping).at("input_tokens").as_int64() == 1200);
  mapping.billing_path = "byok";
  BOOST_TEST(map_ok(fixture(), mapping).at("billing_path").as_string() == "byok");
}

BOOST_AUTO_TEST_CASE(cache_tokens_from_openai_style_details) {
  // No usage_object in metadata and no Anthropic fields: prompt_tokens_details.cached_tokens.
  std::string payload = fixture();
  payload = replace_once(payload, R"("cache_creation_input_tokens": 50,
      "cache_read_input_tokens": 1000)", R"("unused": 0)");
  payload = replace_once(payload, R"("total_tokens": 1285, "cache_creation_input_tokens": 50, "cache_read_input_tokens": 1000})",
                         R"("total_tokens": 1285})");
  const json::object event = map_ok(payload);
  BOOST_TEST(event.at("cache_read_tokens").as_int64() == 1000);
  BOOST_TEST(event.at("cache_write_tokens").as_int64() == 0);
  BOOST_TEST(event.at("input_tokens").as_int64() == 200);
}

BOOST_AUTO_TEST_CASE(failed_call_is_ignored) {
  const std::string payload = replace_once(fixture(), R"("status": "success",)", R"("status": "failure",)");
  auto r = map_litellm_payload(payload, acme_mapping());
  BOOST_REQUIRE(r.is_ok());
  BOOST_TEST(r->ignored);
}

BOOST_AUTO_TEST_CASE(missing_and_mistyped_fields_are_named) {
  BOOST_TEST(map_error(replace_once(fixture(), R"("model": "claude-3-5-sonnet-20240620",)", "")).field() == "model");
  BOOST_TEST(map_error(replace_once(fixture(), R"("prompt_tokens": 1200,)", "")).field() == "prompt_tokens");
  BOOST_TEST(map_error(replace_once(fixture(), R"("completion_tokens": 85,)", R"("completion_tokens": -1,)"))
                 .field() == "completion_tokens");
  BOOST_TEST(map_error(replace_once(fixture(), R"("completion_tokens": 85,)", R"("completion_tokens": 8.5,)"))
                 .field() == "completion_tokens");
  BOOST_TEST(map_error("[1,2]").field() == "");
  BOOST_TEST(map_error("nope").field() == "body");
}

BOOST_AUTO_TEST_CASE(batch_bodies_map_each_payload_separately) {
  const std::string good = fixture();
  const std::string bad = replace_once(fixture(), R"("model": "claude-3-5-sonnet-20240620",)", "");
  const std::string other = with_cost("0.5");

  auto array = map_litellm_body("[" + good + "," + bad + "," + other + "]", acme_mapping());
  BOOST_REQUIRE(array.is_ok());
  BOOST_REQUIRE(array->size() == 3u);
  BOOST_TEST(array.value()[0].is_ok());
  BOOST_TEST(!array.value()[1].is_ok());
  BOOST_TEST(array.value()[1].status().field() == "[1].model");
  BOOST_TEST(array.value()[2].value().event.at("reported_cost_micros").as_int64() == 500000);

  // NDJSON: one compact payload per line.
  const auto compact = [](const std::string& text) { return json::serialize(json::parse(text)); };
  auto lines = map_litellm_body(compact(good) + "\n" + compact(other) + "\n", acme_mapping());
  BOOST_REQUIRE(lines.is_ok());
  BOOST_REQUIRE(lines->size() == 2u);
  BOOST_TEST(lines.value()[1].value().event.at("reported_cost_micros").as_int64() == 500000);

  // A single (pretty-printed) object.
  auto single = map_litellm_body(good, acme_mapping());
  BOOST_REQUIRE(single.is_ok());
  BOOST_REQUIRE(single->size() == 1u);
  BOOST_TEST(single.value()[0].value().event.at("reported_cost_micros").as_int64() == 123);

  BOOST_TEST(!map_litellm_body("", acme_mapping()).is_ok());
  BOOST_TEST(!map_litellm_body("{\"id\": ", acme_mapping()).is_ok());
}
