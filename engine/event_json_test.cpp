// The canonical JSON form of events and signals: exact round trips for every body, and errors
// that name the field at fault.
#include <boost/test/unit_test.hpp>

#include <cstdint>
#include <functional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include <boost/json.hpp>

#include "engine/event_json.h"
#include "engine/limits.h"
#include "tally/events_generated.h"
#include "tally/signals_generated.h"

namespace tally {
namespace {

const fb::Envelope& decode(const std::string& bytes) {
  flatbuffers::Verifier verifier(reinterpret_cast<const std::uint8_t*>(bytes.data()), bytes.size());
  BOOST_REQUIRE(fb::VerifyEnvelopeBuffer(verifier));
  return *fb::GetEnvelope(bytes.data());
}

std::string str(const flatbuffers::String* s) { return s ? s->str() : std::string(); }

std::string to_bytes(const flatbuffers::FlatBufferBuilder& builder) {
  return std::string(reinterpret_cast<const char*>(builder.GetBufferPointer()), builder.GetSize());
}

struct Example {
  std::string input;      // what a producer might send (any field order, defaults omitted)
  std::string canonical;  // what event_to_json renders
  std::function<void(const fb::Envelope&)> check;
};

// One example of every body. Canonical form: `type` first, then envelope and body fields in
// schema order; empty strings, unset enums and a null reported cost left out; numbers and bools
// always present.
std::vector<Example> examples() {
  return {
      {R"({"type":"org_opened","org_id":"acme","idempotency_key":"open-1","occurred_at_ms":1763856000000,"billing_mode":"deferred","plan":"enterprise"})",
       R"({"type":"org_opened","idempotency_key":"open-1","org_id":"acme","occurred_at_ms":1763856000000,"plan":"enterprise","billing_mode":"deferred"})",
       [](const fb::Envelope& e) {
         BOOST_TEST(str(e.idempotency_key()) == "open-1");
         BOOST_TEST(str(e.org_id()) == "acme");
         BOOST_TEST(e.occurred_at_ms() == 1763856000000);
         BOOST_TEST((e.body_as_OrgOpened()->plan() == fb::Plan::enterprise));
         BOOST_TEST((e.body_as_OrgOpened()->billing_mode() == fb::BillingMode::deferred));
       }},
      {R"({"type":"billing_mode_changed","idempotency_key":"bm-1","org_id":"acme","occurred_at_ms":1763856000000,"billing_mode":"byok"})",
       R"({"type":"billing_mode_changed","idempotency_key":"bm-1","org_id":"acme","occurred_at_ms":1763856000000,"billing_mode":"byok"})",
       [](const fb::Envelope& e) {
         BOOST_TEST((e.body_as_BillingModeChanged()->plan() == fb::Plan::unset));
         BOOST_TEST((e.body_as_BillingModeChanged()->billing_mode() == fb::BillingMode::byok));
       }},
      {R"({"type":"signup_allocation","idempotency_key":"signup-1","org_id":"acme","occurred_at_ms":1763856000000,"credits_micros":25000000000})",
       R"({"type":"signup_allocation","idempotency_key":"signup-1","org_id":"acme","occurred_at_ms":1763856000000,"credits_micros":25000000000})",
       [](const fb::Envelope& e) { BOOST_TEST(e.body_as_SignupAllocation()->credits_micros() == 25000000000); }},
      {R"({"type":"purchase","idempotency_key":"ch_1","org_id":"acme","occurred_at_ms":1763856000000,"credits_micros":100000000,"paid_minor":10000,"currency":"usd","fee_minor":0,"bundles":1,"payment_ref":"ch_1"})",
       R"({"type":"purchase","idempotency_key":"ch_1","org_id":"acme","occurred_at_ms":1763856000000,"credits_micros":100000000,"paid_minor":10000,"currency":"usd","fee_minor":0,"bundles":1,"payment_ref":"ch_1"})",
       [](const fb::Envelope& e) {
         const auto* b = e.body_as_Purchase();
         BOOST_TEST(b->credits_micros() == 100000000);
         BOOST_TEST(b->paid_minor() == 10000);
         BOOST_TEST(str(b->currency()) == "usd");
         BOOST_TEST(b->bundles() == 1);
         BOOST_TEST(str(b->payment_ref()) == "ch_1");
       }},
      {R"({"type":"auto_refill","idempotency_key":"ar-ch_2","org_id":"acme","occurred_at_ms":1763856000000,"signal_id":"0:17:recharge_requested:acme","credits_micros":100000000,"paid_minor":10000,"currency":"usd","fee_minor":30,"bundles":2,"payment_ref":"ch_2"})",
       R"({"type":"auto_refill","idempotency_key":"ar-ch_2","org_id":"acme","occurred_at_ms":1763856000000,"credits_micros":100000000,"paid_minor":10000,"currency":"usd","fee_minor":30,"bundles":2,"payment_ref":"ch_2","signal_id":"0:17:recharge_requested:acme"})",
       [](const fb::Envelope& e) {
         const auto* b = e.body_as_AutoRefill();
         BOOST_TEST(b->fee_minor() == 30);
         BOOST_TEST(b->bundles() == 2);
         BOOST_TEST(str(b->signal_id()) == "0:17:recharge_requested:acme");
       }},
      {R"({"type":"payment_failed","idempotency_key":"pf-1","org_id":"acme","occurred_at_ms":1763856000000,"signal_id":"0:17:recharge_requested:acme","code":"card_declined","message":"Your card was declined."})",
       R"({"type":"payment_failed","idempotency_key":"pf-1","org_id":"acme","occurred_at_ms":1763856000000,"signal_id":"0:17:recharge_requested:acme","code":"card_declined","message":"Your card was declined."})",
       [](const fb::Envelope& e) {
         BOOST_TEST(str(e.body_as_PaymentFailed()->code()) == "card_declined");
         BOOST_TEST(str(e.body_as_PaymentFailed()->message()) == "Your card was declined.");
       }},
      {R"({"type":"refund","idempotency_key":"re_1","org_id":"acme","occurred_at_ms":1763856000000,"purchase_key":"ch_1","credits_micros":50000000,"force":true,"reason":"chargeback"})",
       R"({"type":"refund","idempotency_key":"re_1","org_id":"acme","occurred_at_ms":1763856000000,"purchase_key":"ch_1","credits_micros":50000000,"force":true,"reason":"chargeback"})",
       [](const fb::Envelope& e) {
         BOOST_TEST(str(e.body_as_Refund()->purchase_key()) == "ch_1");
         BOOST_TEST(e.body_as_Refund()->credits_micros() == 50000000);
         BOOST_TEST(e.body_as_Refund()->force());
       }},
      {R"({"type":"admin_adjustment","idempotency_key":"adj-1","org_id":"acme","occurred_at_ms":1763856000000,"credits_micros":-5000000,"reason":"double billed","operator":"ops@tally"})",
       R"({"type":"admin_adjustment","idempotency_key":"adj-1","org_id":"acme","occurred_at_ms":1763856000000,"credits_micros":-5000000,"reason":"double billed","operator":"ops@tally","force":false})",
       [](const fb::Envelope& e) {
         BOOST_TEST(e.body_as_AdminAdjustment()->credits_micros() == -5000000);
         BOOST_TEST(str(e.body_as_AdminAdjustment()->operator_()) == "ops@tally");
         BOOST_TEST(!e.body_as_AdminAdjustment()->force());
       }},
      {R"({"type":"usage","idempotency_key":"req-1","org_id":"acme","occurred_at_ms":1763856001000,"member_id":"u1","workspace":"w1","meter":"llm_tokens","model":"claude-sonnet-4","provider":"anthropic","billing_path":"credits","input_tokens":1200,"output_tokens":300,"cache_read_tokens":50,"project":"p1","agent_id":"a1","session_id":"s1"})",
       R"({"type":"usage","idempotency_key":"req-1","org_id":"acme","occurred_at_ms":1763856001000,"member_id":"u1","workspace":"w1","project":"p1","agent_id":"a1","session_id":"s1","meter":"llm_tokens","model":"claude-sonnet-4","provider":"anthropic","billing_path":"credits","input_tokens":1200,"output_tokens":300,"cache_read_tokens":50,"cache_write_tokens":0,"seconds":0})",
       [](const fb::Envelope& e) {
         const auto* b = e.body_as_Usage();
         BOOST_TEST(str(b->member_id()) == "u1");
         BOOST_TEST((b->meter() == fb::Meter::llm_tokens));
         BOOST_TEST((b->billing_path() == fb::BillingPath::credits));
         BOOST_TEST(str(b->model()) == "claude-sonnet-4");
         BOOST_TEST(b->input_tokens() == 1200);
         BOOST_TEST(b->output_tokens() == 300);
         BOOST_TEST(b->cache_read_tokens() == 50);
         BOOST_TEST(!b->reported_cost_micros().has_value());
       }},
      {R"({"type":"usage","idempotency_key":"sb-1","org_id":"acme","occurred_at_ms":1763856001000,"meter":"sandbox_seconds","sandbox_class":"standard","seconds":60,"reported_cost_micros":0,"source":"sandboxd","correlation_id":"c-9"})",
       R"({"type":"usage","idempotency_key":"sb-1","org_id":"acme","occurred_at_ms":1763856001000,"source":"sandboxd","correlation_id":"c-9","meter":"sandbox_seconds","sandbox_class":"standard","input_tokens":0,"output_tokens":0,"cache_read_tokens":0,"cache_write_tokens":0,"seconds":60,"reported_cost_micros":0})",
       [](const fb::Envelope& e) {
         BOOST_TEST(str(e.source()) == "sandboxd");
         BOOST_TEST(str(e.correlation_id()) == "c-9");
         const auto* b = e.body_as_Usage();
         BOOST_TEST((b->meter() == fb::Meter::sandbox_seconds));
         BOOST_TEST(str(b->sandbox_class()) == "standard");
         BOOST_TEST(b->seconds() == 60);
         // Reported as zero is not the same as not reported.
         BOOST_TEST(b->reported_cost_micros().has_value());
         BOOST_TEST(b->reported_cost_micros().value() == 0);
       }},
      {R"({"type":"rate_card_published","idempotency_key":"rc-1","occurred_at_ms":1763856000000,"version":1,"markup_bp":15000,"byok_fee_bp":0,"models":[{"model":"claude-sonnet-4","input_per_mtok_micros":3000000,"output_per_mtok_micros":15000000,"cache_read_per_mtok_micros":300000,"cache_write_per_mtok_micros":3750000},{"output_per_mtok_micros":4000000,"model":"claude-haiku"}],"sandbox_classes":[{"class":"standard","per_hour_micros":360000}]})",
       R"({"type":"rate_card_published","idempotency_key":"rc-1","occurred_at_ms":1763856000000,"version":1,"markup_bp":15000,"byok_fee_bp":0,"models":[{"model":"claude-sonnet-4","input_per_mtok_micros":3000000,"output_per_mtok_micros":15000000,"cache_read_per_mtok_micros":300000,"cache_write_per_mtok_micros":3750000},{"model":"claude-haiku","input_per_mtok_micros":0,"output_per_mtok_micros":4000000,"cache_read_per_mtok_micros":0,"cache_write_per_mtok_micros":0}],"sandbox_classes":[{"class":"standard","per_hour_micros":360000}]})",
       [](const fb::Envelope& e) {
         BOOST_TEST(str(e.org_id()).empty());
         const auto* b = e.body_as_RateCardPublished();
         BOOST_TEST(b->version() == 1);
         BOOST_TEST(b->markup_bp() == 15000);
         BOOST_REQUIRE(b->models() != nullptr);
         BOOST_REQUIRE(b->models()->size() == 2u);
         BOOST_TEST(str(b->models()->Get(0)->model()) == "claude-sonnet-4");
         BOOST_TEST(b->models()->Get(0)->cache_write_per_mtok_micros() == 3750000);
         BOOST_TEST(b->models()->Get(1)->output_per_mtok_micros() == 4000000);
         BOOST_REQUIRE(b->sandbox_classes() != nullptr);
         BOOST_TEST(str(b->sandbox_classes()->Get(0)->sandbox_class()) == "standard");
         BOOST_TEST(b->sandbox_classes()->Get(0)->per_hour_micros() == 360000);
       }},
      {R"({"type":"auto_refill_configured","idempotency_key":"ar-1","org_id":"acme","occurred_at_ms":1763856000000,"enabled":true,"threshold_micros":20000000,"refill_credits_micros":100000000,"max_per_day":3,"max_per_month":20,"payment_customer":"cus_123"})",
       R"({"type":"auto_refill_configured","idempotency_key":"ar-1","org_id":"acme","occurred_at_ms":1763856000000,"enabled":true,"threshold_micros":20000000,"refill_credits_micros":100000000,"max_per_day":3,"max_per_month":20,"payment_customer":"cus_123"})",
       [](const fb::Envelope& e) {
         const auto* b = e.body_as_AutoRefillConfigured();
         BOOST_TEST(b->enabled());
         BOOST_TEST(b->threshold_micros() == 20000000);
         BOOST_TEST(b->max_per_month() == 20);
         BOOST_TEST(str(b->payment_customer()) == "cus_123");
       }},
      {R"({"type":"auto_refill_disabled","idempotency_key":"ard-1","org_id":"acme","occurred_at_ms":1763856000000,"reason":"turned off"})",
       R"({"type":"auto_refill_disabled","idempotency_key":"ard-1","org_id":"acme","occurred_at_ms":1763856000000,"reason":"turned off"})",
       [](const fb::Envelope& e) { BOOST_TEST(str(e.body_as_AutoRefillDisabled()->reason()) == "turned off"); }},
      {R"({"type":"low_balance_threshold_set","idempotency_key":"lb-1","org_id":"acme","occurred_at_ms":1763856000000,"threshold_micros":5000000})",
       R"({"type":"low_balance_threshold_set","idempotency_key":"lb-1","org_id":"acme","occurred_at_ms":1763856000000,"threshold_micros":5000000})",
       [](const fb::Envelope& e) { BOOST_TEST(e.body_as_LowBalanceThresholdSet()->threshold_micros() == 5000000); }},
      {R"({"type":"member_limit_set","idempotency_key":"ml-1","org_id":"acme","occurred_at_ms":1763856000000,"member_id":"u1","monthly_limit_micros":10000000})",
       R"({"type":"member_limit_set","idempotency_key":"ml-1","org_id":"acme","occurred_at_ms":1763856000000,"member_id":"u1","monthly_limit_micros":10000000})",
       [](const fb::Envelope& e) {
         BOOST_TEST(str(e.body_as_MemberLimitSet()->member_id()) == "u1");
         BOOST_TEST(e.body_as_MemberLimitSet()->monthly_limit_micros() == 10000000);
       }},
      {R"({"type":"member_limit_cleared","idempotency_key":"mlc-1","org_id":"acme","occurred_at_ms":1763856000000,"member_id":"u1"})",
       R"({"type":"member_limit_cleared","idempotency_key":"mlc-1","org_id":"acme","occurred_at_ms":1763856000000,"member_id":"u1"})",
       [](const fb::Envelope& e) { BOOST_TEST(str(e.body_as_MemberLimitCleared()->member_id()) == "u1"); }},
      {R"({"type":"auto_refill_configured","idempotency_key":"ar-2","org_id":"acme","occurred_at_ms":1763856000000,"enabled":true,"threshold_micros":20000000,"refill_credits_micros":200000000,"refill_bundles":2})",
       R"({"type":"auto_refill_configured","idempotency_key":"ar-2","org_id":"acme","occurred_at_ms":1763856000000,"enabled":true,"threshold_micros":20000000,"refill_credits_micros":200000000,"max_per_day":0,"max_per_month":0,"refill_bundles":2})",
       [](const fb::Envelope& e) { BOOST_TEST(e.body_as_AutoRefillConfigured()->refill_bundles() == 2); }},
      {R"({"type":"payment_customer_linked","idempotency_key":"pcl-1","org_id":"acme","occurred_at_ms":1763856000000,"payment_customer":"cus_QXg1o8vcGmoR32"})",
       R"({"type":"payment_customer_linked","idempotency_key":"pcl-1","org_id":"acme","occurred_at_ms":1763856000000,"payment_customer":"cus_QXg1o8vcGmoR32"})",
       [](const fb::Envelope& e) {
         BOOST_TEST(str(e.body_as_PaymentCustomerLinked()->payment_customer()) == "cus_QXg1o8vcGmoR32");
       }},
      {R"({"type":"workspace_billing_set","idempotency_key":"wb-1","org_id":"acme","occurred_at_ms":1763856000000,"workspace":"w2","project":"o1","billing_path":"byok"})",
       R"({"type":"workspace_billing_set","idempotency_key":"wb-1","org_id":"acme","occurred_at_ms":1763856000000,"workspace":"w2","project":"o1","billing_path":"byok"})",
       [](const fb::Envelope& e) {
         BOOST_TEST(str(e.body_as_WorkspaceBillingSet()->workspace()) == "w2");
         BOOST_TEST(str(e.body_as_WorkspaceBillingSet()->project()) == "o1");
         BOOST_TEST((e.body_as_WorkspaceBillingSet()->billing_path() == fb::BillingPath::byok));
       }},
      {R"({"type":"hold_placed","idempotency_key":"h-42","org_id":"acme","occurred_at_ms":1763856000000,"member_id":"u1","amount_micros":6000000,"ttl_ms":60000})",
       R"({"type":"hold_placed","idempotency_key":"h-42","org_id":"acme","occurred_at_ms":1763856000000,"member_id":"u1","amount_micros":6000000,"ttl_ms":60000,"allow_partial":false,"min_micros":0})",
       [](const fb::Envelope& e) {
         const auto* b = e.body_as_HoldPlaced();
         BOOST_TEST(str(b->member_id()) == "u1");
         BOOST_TEST(b->amount_micros() == 6000000);
         BOOST_TEST(b->ttl_ms() == 60000);
         BOOST_TEST(b->estimate() == nullptr);
       }},
      {R"({"type":"hold_placed","idempotency_key":"h-43","org_id":"acme","occurred_at_ms":1763856000000,"workspace":"w1","estimate":{"meter":"llm_tokens","model":"claude-sonnet-4","input_tokens":1200,"max_output_tokens":4000},"ttl_ms":60000,"allow_partial":true,"min_micros":1000})",
       R"({"type":"hold_placed","idempotency_key":"h-43","org_id":"acme","occurred_at_ms":1763856000000,"workspace":"w1","amount_micros":0,"estimate":{"meter":"llm_tokens","model":"claude-sonnet-4","input_tokens":1200,"max_output_tokens":4000,"seconds":0},"ttl_ms":60000,"allow_partial":true,"min_micros":1000})",
       [](const fb::Envelope& e) {
         const auto* b = e.body_as_HoldPlaced();
         BOOST_REQUIRE(b->estimate() != nullptr);
         BOOST_TEST(str(b->estimate()->model()) == "claude-sonnet-4");
         BOOST_TEST(b->estimate()->max_output_tokens() == 4000);
         BOOST_TEST(b->allow_partial());
       }},
      {R"({"type":"hold_extended","idempotency_key":"he-1","org_id":"acme","occurred_at_ms":1763856000000,"hold_id":"h-42","add_micros":1000000,"ttl_ms":30000})",
       R"({"type":"hold_extended","idempotency_key":"he-1","org_id":"acme","occurred_at_ms":1763856000000,"hold_id":"h-42","add_micros":1000000,"ttl_ms":30000})",
       [](const fb::Envelope& e) { BOOST_TEST(e.body_as_HoldExtended()->add_micros() == 1000000); }},
      {R"({"type":"hold_released","idempotency_key":"hr-1","org_id":"acme","occurred_at_ms":1763856000000,"hold_id":"h-42"})",
       R"({"type":"hold_released","idempotency_key":"hr-1","org_id":"acme","occurred_at_ms":1763856000000,"hold_id":"h-42"})",
       [](const fb::Envelope& e) { BOOST_TEST(str(e.body_as_HoldReleased()->hold_id()) == "h-42"); }},
      {R"({"type":"usage","idempotency_key":"u-1","org_id":"acme","occurred_at_ms":1763856000000,"meter":"llm_tokens","reported_cost_micros":5,"hold_id":"h-42","hold_final":true})",
       R"({"type":"usage","idempotency_key":"u-1","org_id":"acme","occurred_at_ms":1763856000000,"meter":"llm_tokens","input_tokens":0,"output_tokens":0,"cache_read_tokens":0,"cache_write_tokens":0,"seconds":0,"reported_cost_micros":5,"hold_id":"h-42","hold_final":true})",
       [](const fb::Envelope& e) {
         BOOST_TEST(str(e.body_as_Usage()->hold_id()) == "h-42");
         BOOST_TEST(e.body_as_Usage()->hold_final());
       }},
      // SPEC §12: grant terms on a credit-adding body (a given default is the absent field), and
      // the grant bodies.
      {R"({"type":"purchase","idempotency_key":"p-2","org_id":"acme","occurred_at_ms":1763856000000,"credits_micros":5000000,"currency":"usd","bundles":1,"priority":10,"expires_at_ms":1766448000000,"category":"promotional"})",
       R"({"type":"purchase","idempotency_key":"p-2","org_id":"acme","occurred_at_ms":1763856000000,"credits_micros":5000000,"paid_minor":0,"currency":"usd","fee_minor":0,"bundles":1,"priority":10,"expires_at_ms":1766448000000,"category":"promotional"})",
       [](const fb::Envelope& e) {
         BOOST_TEST(e.body_as_Purchase()->priority() == 10);
         BOOST_TEST((e.body_as_Purchase()->category() == fb::GrantCategory::promotional));
       }},
      {R"({"type":"signup_allocation","idempotency_key":"s-2","org_id":"acme","occurred_at_ms":1763856000000,"credits_micros":5,"priority":50,"category":"promotional"})",
       R"({"type":"signup_allocation","idempotency_key":"s-2","org_id":"acme","occurred_at_ms":1763856000000,"credits_micros":5})",
       [](const fb::Envelope& e) { BOOST_TEST(e.body_as_SignupAllocation()->priority() == 50); }},
      {R"({"type":"credit_granted","idempotency_key":"g-1","org_id":"acme","occurred_at_ms":1763856000000,"credits_micros":25000000000,"expires_at_ms":1766448000000,"reason":"trial","operator":"op-1"})",
       R"({"type":"credit_granted","idempotency_key":"g-1","org_id":"acme","occurred_at_ms":1763856000000,"credits_micros":25000000000,"category":"promotional","priority":50,"expires_at_ms":1766448000000,"reason":"trial","operator":"op-1"})",
       [](const fb::Envelope& e) {
         BOOST_TEST(e.body_as_CreditGranted()->credits_micros() == 25000000000);
         BOOST_TEST(e.body_as_CreditGranted()->expires_at_ms() == 1766448000000);
       }},
      {R"({"type":"grant_voided","idempotency_key":"gv-1","org_id":"acme","occurred_at_ms":1763856000000,"grant_id":"g-1"})",
       R"({"type":"grant_voided","idempotency_key":"gv-1","org_id":"acme","occurred_at_ms":1763856000000,"grant_id":"g-1","credits_micros":0})",
       [](const fb::Envelope& e) { BOOST_TEST(str(e.body_as_GrantVoided()->grant_id()) == "g-1"); }},
      {R"( { "occurred_at_ms" : 1763856060000, "schema_version": 1, "idempotency_key": "tick-0-1", "type": "tick" } )",
       R"({"type":"tick","idempotency_key":"tick-0-1","occurred_at_ms":1763856060000})",
       [](const fb::Envelope& e) {
         BOOST_TEST(e.schema_version() == 1);
         BOOST_TEST(e.occurred_at_ms() == 1763856060000);
         BOOST_TEST(e.body_as_Tick() != nullptr);
       }},
  };
}

BOOST_AUTO_TEST_CASE(every_event_type_round_trips_exactly) {
  std::set<fb::Body> covered;
  for (const Example& example : examples()) {
    BOOST_TEST_CONTEXT(example.input) {
      Result<std::string> bytes = event_from_json(example.input);
      BOOST_REQUIRE_MESSAGE(bytes.is_ok(), bytes.status().to_string());
      const fb::Envelope& envelope = decode(bytes.value());
      covered.insert(envelope.body_type());
      example.check(envelope);

      Result<std::string> json = event_to_json(bytes.value());
      BOOST_REQUIRE_MESSAGE(json.is_ok(), json.status().to_string());
      BOOST_TEST(json.value() == example.canonical);

      // from_json(to_json(b)) renders to the identical string.
      Result<std::string> again = event_from_json(json.value());
      BOOST_REQUIRE_MESSAGE(again.is_ok(), again.status().to_string());
      Result<std::string> rerendered = event_to_json(again.value());
      BOOST_REQUIRE(rerendered.is_ok());
      BOOST_TEST(rerendered.value() == example.canonical);
    }
  }
  BOOST_TEST(covered.size() == static_cast<std::size_t>(fb::Body::MAX));
}

BOOST_AUTO_TEST_CASE(absent_reported_cost_is_not_zero) {
  const std::string base =
      R"({"type":"usage","idempotency_key":"r","org_id":"acme","occurred_at_ms":1,"meter":"llm_tokens","model":"m")";
  for (const std::string& tail : {std::string("}"), std::string(R"(,"reported_cost_micros":null})")}) {
    Result<std::string> bytes = event_from_json(base + tail);
    BOOST_REQUIRE_MESSAGE(bytes.is_ok(), bytes.status().to_string());
    BOOST_TEST(!decode(bytes.value()).body_as_Usage()->reported_cost_micros().has_value());
    BOOST_TEST(event_to_json(bytes.value()).value().find("reported_cost_micros") == std::string::npos);
  }
}

struct BadInput {
  std::string json;
  std::string field;  // exact Status::field()
  Status::Code code = Status::Code::invalid_argument;
};

BOOST_AUTO_TEST_CASE(bad_input_names_the_field) {
  const std::string purchase_head =
      R"({"type":"purchase","idempotency_key":"ch_1","org_id":"acme","occurred_at_ms":1,"currency":"usd","bundles":1)";
  const std::string card_head = R"({"type":"rate_card_published","idempotency_key":"rc","occurred_at_ms":1,"version":1,"markup_bp":10000)";
  const std::vector<BadInput> cases = {
      {R"({"type":"gift","idempotency_key":"k","org_id":"acme","occurred_at_ms":1})", "type"},
      {R"({"idempotency_key":"k","org_id":"acme","occurred_at_ms":1})", "type"},
      {R"({"type":7,"idempotency_key":"k","org_id":"acme","occurred_at_ms":1})", "type"},
      {purchase_head + R"(,"credits_micros":1,"bogus":true})", "bogus"},
      {purchase_head + R"(,"credits_micros":1,"member_id":"u1"})", "member_id"},  // a usage field
      {purchase_head + R"(,"credits_micros":"100000000"})", "credits_micros"},
      {purchase_head + R"(,"credits_micros":1.5})", "credits_micros"},
      {purchase_head + R"(,"credits_micros":1e6})", "credits_micros"},
      {purchase_head + R"(,"credits_micros":1.0})", "credits_micros"},
      {purchase_head + R"(,"credits_micros":null})", "credits_micros"},
      {purchase_head + R"(,"credits_micros":9223372036854775808})", "credits_micros"},
      {purchase_head + R"(,"credits_micros":1,"payment_ref":42})", "payment_ref"},
      {R"({"type":"purchase","idempotency_key":"ch_1","org_id":"acme","occurred_at_ms":1,"currency":"usd","credits_micros":1,"bundles":2147483648})",
       "bundles"},
      {R"({"type":"tick","idempotency_key":"t","occurred_at_ms":1,"schema_version":-1})", "schema_version"},
      {R"({"type":"tick","idempotency_key":"t","occurred_at_ms":1,"schema_version":2})", "schema_version"},
      {R"({"type":"org_opened","idempotency_key":"o","org_id":"acme","occurred_at_ms":1,"plan":"gold","billing_mode":"credits"})",
       "plan"},
      {R"({"type":"org_opened","idempotency_key":"o","org_id":"acme","occurred_at_ms":1,"plan":"pro","billing_mode":"unset"})",
       "billing_mode"},
      {R"({"type":"org_opened","idempotency_key":"o","org_id":"acme","occurred_at_ms":1,"plan":"pro"})", "billing_mode"},
      {R"({"type":"refund","idempotency_key":"r","org_id":"acme","occurred_at_ms":1,"purchase_key":"p","credits_micros":1,"force":"yes"})",
       "force"},
      {R"({"type":"refund","org_id":"acme","occurred_at_ms":1,"purchase_key":"p","credits_micros":1})", "idempotency_key"},
      {R"({"type":"refund","idempotency_key":"","org_id":"acme","occurred_at_ms":1,"purchase_key":"p","credits_micros":1})",
       "idempotency_key"},
      {R"({"type":"refund","idempotency_key":"r","occurred_at_ms":1,"purchase_key":"p","credits_micros":1})", "org_id"},
      {R"({"type":"refund","idempotency_key":"r","org_id":"acme","purchase_key":"p","credits_micros":1})", "occurred_at_ms"},
      {R"({"type":"refund","idempotency_key":"r","org_id":"acme","occurred_at_ms":1,"credits_micros":1})", "purchase_key"},
      {R"(["type","purchase"])", ""},
      {R"("purchase")", ""},
      {R"({"type":"purchase",)", ""},
      {R"({"type":"tick","idempotency_key":"t","occurred_at_ms":1} {})", ""},
      {"", ""},
      {card_head + R"(,"models":{"model":"m"}})", "models"},
      {card_head + R"(,"models":[{"model":7}]})", "models[0].model"},
      {card_head + R"(,"models":[{"model":"a"},{"model":""}]})", "models[1].model"},
      {card_head + R"(,"models":[{"model":"a"},{"model":"b","input_per_mtok_micros":-1.5}]})", "models[1].input_per_mtok_micros"},
      {card_head + R"(,"models":["m"]})", "models[0]"},
      {card_head + R"(,"sandbox_classes":[{"class":"s","price":1}]})", "sandbox_classes[0].price"},
      {card_head + R"(,"sandbox_classes":[{"per_hour_micros":1}]})", "sandbox_classes[0].class"},
      // Duplicate keys are ambiguous: refused, not "last one wins".
      {purchase_head + R"(,"credits_micros":1,"credits_micros":100000000})", "credits_micros"},
      {card_head + R"(,"models":[{"model":"a"},{"model":"b","model":"c"}]})", "models[1].model"},
  };
  for (const BadInput& bad : cases) {
    BOOST_TEST_CONTEXT(bad.json) {
      Result<std::string> result = event_from_json(bad.json);
      BOOST_REQUIRE(!result.is_ok());
      BOOST_TEST(result.status().field() == bad.field);
      BOOST_TEST((result.status().code() == bad.code));
      BOOST_TEST(!result.status().message().empty());
    }
  }
}

// Range rules live in validate_event; the codec must apply them to what it built.
BOOST_AUTO_TEST_CASE(range_rules_of_validate_event_apply) {
  const std::vector<BadInput> cases = {
      {R"({"type":"purchase","idempotency_key":"ch_1","org_id":"acme","occurred_at_ms":1,"credits_micros":1,"currency":"usd","bundles":11})",
       "bundles"},
      {R"({"type":"purchase","idempotency_key":"ch_1","org_id":"a:b","occurred_at_ms":1,"credits_micros":1,"currency":"usd","bundles":1})",
       "org_id"},
      {R"({"type":"usage","idempotency_key":"u","org_id":"acme","occurred_at_ms":1,"meter":"llm_tokens","model":"m","input_tokens":-1})",
       "input_tokens"},
      {R"({"type":"rate_card_published","idempotency_key":"rc","org_id":"acme","occurred_at_ms":1,"version":1,"markup_bp":10000})",
       "org_id"},
  };
  for (const BadInput& bad : cases) {
    BOOST_TEST_CONTEXT(bad.json) {
      Result<std::string> result = event_from_json(bad.json);
      BOOST_REQUIRE(!result.is_ok());
      BOOST_TEST(result.status().field() == bad.field);
    }
  }
}

BOOST_AUTO_TEST_CASE(oversized_json_is_refused_before_parsing) {
  const std::string padding(17 * limits::event_bytes_max, ' ');
  Result<std::string> result =
      event_from_json(R"({"type":"tick","idempotency_key":"t","occurred_at_ms":1})" + padding);
  BOOST_REQUIRE(!result.is_ok());
  BOOST_TEST((result.status().code() == Status::Code::too_large));
}

BOOST_AUTO_TEST_CASE(to_json_refuses_what_is_not_an_event) {
  flatbuffers::FlatBufferBuilder signal_builder;
  signal_builder.Finish(fb::CreateSignalDirect(signal_builder, 1, "0:1:balance_low:acme"), fb::SignalIdentifier());
  Result<std::string> valid =
      event_from_json(R"({"type":"tick","idempotency_key":"t","occurred_at_ms":1})");
  BOOST_REQUIRE(valid.is_ok());
  const std::vector<std::string> not_events = {
      "",
      "garbage, not a flatbuffer",
      std::string(64, '\xff'),
      to_bytes(signal_builder),                      // a signal (TLS1) is not an event
      valid.value().substr(0, valid.value().size() / 2),  // truncated
  };
  for (const std::string& bytes : not_events) {
    Result<std::string> result = event_to_json(bytes);
    BOOST_REQUIRE(!result.is_ok());
    BOOST_TEST((result.status().code() == Status::Code::corruption));
  }
  // An envelope with no body is structurally valid FlatBuffers but not an event.
  flatbuffers::FlatBufferBuilder builder;
  builder.Finish(fb::CreateEnvelopeDirect(builder, 1, "k", "acme", 1), fb::EnvelopeIdentifier());
  BOOST_TEST(!event_to_json(to_bytes(builder)).is_ok());
}

BOOST_AUTO_TEST_CASE(to_json_reads_misaligned_bytes) {
  // Records read from a log or LMDB may sit at any address.
  Result<std::string> bytes = event_from_json(examples()[3].input);
  BOOST_REQUIRE(bytes.is_ok());
  const std::string shifted = "x" + bytes.value();
  Result<std::string> json = event_to_json(std::string_view(shifted).substr(1));
  BOOST_REQUIRE_MESSAGE(json.is_ok(), json.status().to_string());
  BOOST_TEST(json.value() == examples()[3].canonical);
}

BOOST_AUTO_TEST_CASE(to_json_output_is_valid_json_for_foreign_bytes) {
  // A record written by another producer may hold bytes that are not UTF-8, and a schema version
  // this build does not write; the rendering shows both and stays valid JSON.
  flatbuffers::FlatBufferBuilder builder;
  const auto body = fb::CreateAutoRefillDisabledDirect(builder, "bad \xC3\x28 byte \xE2\x82\xAC").Union();
  builder.Finish(fb::CreateEnvelopeDirect(builder, 2, "k", "acme", 5, nullptr, nullptr,
                                          fb::Body::AutoRefillDisabled, body),
                 fb::EnvelopeIdentifier());
  Result<std::string> json = event_to_json(to_bytes(builder));
  BOOST_REQUIRE_MESSAGE(json.is_ok(), json.status().to_string());
  BOOST_TEST(json.value() ==
             "{\"type\":\"auto_refill_disabled\",\"schema_version\":2,\"idempotency_key\":\"k\",\"org_id\":\"acme\","
             "\"occurred_at_ms\":5,\"reason\":\"bad \xEF\xBF\xBD( byte \xE2\x82\xAC\"}");
  boost::json::error_code ec;
  boost::json::parse(json.value(), ec);
  BOOST_TEST(!ec);
}

BOOST_AUTO_TEST_CASE(signal_renders_every_field_in_schema_order) {
  flatbuffers::FlatBufferBuilder builder;
  builder.Finish(fb::CreateSignalDirect(builder, 1, "3:42:recharge_requested:acme", fb::SignalKind::recharge_requested,
                                        "acme", nullptr, 3, 42, 1763856000000, 15000000, 20000000, 100000000,
                                        "cus_123", 0, 0, nullptr, nullptr),
                 fb::SignalIdentifier());
  Result<std::string> json = signal_to_json(to_bytes(builder));
  BOOST_REQUIRE_MESSAGE(json.is_ok(), json.status().to_string());
  BOOST_TEST(json.value() ==
             R"({"signal_id":"3:42:recharge_requested:acme","kind":"recharge_requested","org_id":"acme",)"
             R"("partition":3,"offset":42,"occurred_at_ms":1763856000000,"balance_micros":15000000,)"
             R"("threshold_micros":20000000,"refill_credits_micros":100000000,"payment_customer":"cus_123",)"
             R"("monthly_limit_micros":0,"member_used_micros":0})");

  // kind 0 (balance_low) is a real value, not "unset": it is always shown.
  flatbuffers::FlatBufferBuilder low;
  low.Finish(fb::CreateSignalDirect(low, 1, "0:1:balance_low:acme", fb::SignalKind::balance_low, "acme"),
             fb::SignalIdentifier());
  Result<std::string> low_json = signal_to_json(to_bytes(low));
  BOOST_REQUIRE(low_json.is_ok());
  BOOST_TEST(low_json.value().find(R"("kind":"balance_low")") != std::string::npos);

  Result<std::string> event = event_from_json(R"({"type":"tick","idempotency_key":"t","occurred_at_ms":1})");
  BOOST_REQUIRE(event.is_ok());
  BOOST_TEST(!signal_to_json(event.value()).is_ok());  // an event (TLE1) is not a signal
}

}  // namespace
}  // namespace tally
