// The enforcement webhook format: body, headers, and verification as a platform would do it.
#include <boost/test/unit_test.hpp>

#include <boost/json.hpp>

#include "crypto/hmac.h"
#include "relay/webhook_signer.h"

using namespace tally::connectors;
namespace json = boost::json;

namespace {

constexpr std::string_view secret = "tally_whsec_platform";
constexpr int64_t now_s = 1'732'300'000;

EnforcementSignal exhausted() {
  EnforcementSignal signal;
  signal.signal_id = "3:1042:balance_exhausted:acme";
  signal.kind = "balance_exhausted";
  signal.org_id = "acme";
  signal.pause_reason = "balance_exhausted";
  signal.balance_micros = -1200;
  signal.occurred_at_ms = 1'732'300'000'000;
  return signal;
}

const std::string* header(const std::vector<HttpHeader>& headers, std::string_view name) {
  for (const HttpHeader& h : headers) {
    if (h.name == name) return &h.value;
  }
  return nullptr;
}

}  // namespace

BOOST_AUTO_TEST_CASE(body_has_the_documented_fields_in_order) {
  BOOST_TEST(webhook_body(exhausted()) ==
             R"({"signal_id":"3:1042:balance_exhausted:acme","kind":"balance_exhausted","action":"pause",)"
             R"("scope":"org","org_id":"acme","member_id":"","pause_reason":"balance_exhausted",)"
             R"("balance_micros":-1200,"balance":"-0.001200","occurred_at_ms":1732300000000})");
}

BOOST_AUTO_TEST_CASE(member_signals_carry_limit_and_usage) {
  EnforcementSignal signal;
  signal.signal_id = "0:7:member_limit_exceeded:acme:bob";
  signal.kind = "member_limit_exceeded";
  signal.org_id = "acme";
  signal.member_id = "bob";
  signal.pause_reason = "member_limit_exceeded";
  signal.balance_micros = 5'000'000;
  signal.monthly_limit_micros = 1'000'000;
  signal.member_used_micros = 1'000'001;
  const json::object body = json::parse(webhook_body(signal)).as_object();
  BOOST_TEST(body.at("action").as_string() == "pause");
  BOOST_TEST(body.at("scope").as_string() == "member");
  BOOST_TEST(body.at("monthly_limit_micros").as_int64() == 1'000'000);
  BOOST_TEST(body.at("member_used_micros").as_int64() == 1'000'001);
  BOOST_TEST(body.at("balance").as_string() == "5.000000");
}

BOOST_AUTO_TEST_CASE(actions_per_kind) {
  BOOST_TEST(webhook_action("balance_exhausted") == "pause");
  BOOST_TEST(webhook_action("member_limit_exceeded") == "pause");
  BOOST_TEST(webhook_action("balance_restored") == "resume");
  BOOST_TEST(webhook_action("member_limit_restored") == "resume");
  BOOST_TEST(webhook_action("balance_low") == "notify");
  BOOST_TEST(webhook_action("auto_refill_disabled") == "notify");
}

BOOST_AUTO_TEST_CASE(credits_decimal_is_exact) {
  BOOST_TEST(credits_decimal(0) == "0.000000");
  BOOST_TEST(credits_decimal(1) == "0.000001");
  BOOST_TEST(credits_decimal(-1) == "-0.000001");
  BOOST_TEST(credits_decimal(25'000'000'000) == "25000.000000");
  BOOST_TEST(credits_decimal(INT64_MIN) == "-9223372036854.775808");
  BOOST_TEST(credits_decimal(INT64_MAX) == "9223372036854.775807");
}

BOOST_AUTO_TEST_CASE(sign_then_verify_round_trip) {
  const std::string body = webhook_body(exhausted());
  const auto headers = webhook_headers(secret, "3:1042:balance_exhausted:acme", now_s, body);
  BOOST_REQUIRE(header(headers, "Tally-Timestamp") != nullptr);
  BOOST_REQUIRE(header(headers, "Tally-Signature") != nullptr);
  BOOST_TEST(*header(headers, "Tally-Timestamp") == "1732300000");
  BOOST_TEST(*header(headers, "Tally-Webhook-Id") == "3:1042:balance_exhausted:acme");
  BOOST_TEST(*header(headers, "Content-Type") == "application/json");
  // The documented construction, computed independently.
  BOOST_TEST(*header(headers, "Tally-Signature") == "v1=" + hmac_sha256_hex(secret, "1732300000." + body));
  const auto status = verify_webhook(secret, *header(headers, "Tally-Timestamp"),
                                     *header(headers, "Tally-Signature"), body, now_s + 10);
  BOOST_TEST(status.is_ok(), status.to_string());
}

BOOST_AUTO_TEST_CASE(tampering_is_detected) {
  const std::string body = webhook_body(exhausted());
  const std::string signature = webhook_signature(secret, now_s, body);
  std::string altered = body;
  altered.replace(altered.find("pause"), 5, "resum");
  BOOST_TEST(verify_webhook(secret, "1732300000", signature, altered, now_s).message() == "signature mismatch");
  // Moving the timestamp breaks the signature too: it is signed.
  BOOST_TEST(verify_webhook(secret, "1732300001", signature, body, now_s).message() == "signature mismatch");
  BOOST_TEST(verify_webhook("other_secret", "1732300000", signature, body, now_s).message() == "signature mismatch");
}

BOOST_AUTO_TEST_CASE(stale_and_future_deliveries_are_refused) {
  const std::string body = webhook_body(exhausted());
  const auto stale = webhook_signature(secret, now_s - 301, body);
  BOOST_TEST(verify_webhook(secret, std::to_string(now_s - 301), stale, body, now_s).message() ==
             "timestamp outside tolerance");
  const auto future = webhook_signature(secret, now_s + 301, body);
  BOOST_TEST(verify_webhook(secret, std::to_string(now_s + 301), future, body, now_s).message() ==
             "timestamp outside tolerance");
}

BOOST_AUTO_TEST_CASE(rotation_and_malformed_headers) {
  const std::string body = webhook_body(exhausted());
  const std::string good = webhook_signature(secret, now_s, body);
  const std::string old = webhook_signature("old_secret", now_s, body);
  BOOST_TEST(verify_webhook(secret, "1732300000", old + "," + good, body, now_s).is_ok());
  BOOST_TEST(verify_webhook(secret, "soon", good, body, now_s).message() == "malformed header");
  BOOST_TEST(verify_webhook(secret, "soon", good, body, now_s).field() == "Tally-Timestamp");
  BOOST_TEST(verify_webhook(secret, "1732300000", "deadbeef", body, now_s).message() == "malformed header");
  BOOST_TEST(verify_webhook(secret, "1732300000", "v2=abc", body, now_s).message() == "no v1 signature");
}
