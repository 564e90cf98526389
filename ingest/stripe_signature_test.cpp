// Stripe-Signature verification: the cases Stripe's own libraries handle, plus future timestamps.
#include <boost/test/unit_test.hpp>

#include <string>

#include "crypto/hmac.h"
#include "ingest/stripe_signature.h"

using namespace tally::connectors;

namespace {
constexpr std::string_view secret = "whsec_test_secret";
constexpr std::string_view payload = R"({"id":"evt_1","object":"event","type":"checkout.session.completed"})";
constexpr int64_t now_s = 1'732'300'000;

std::string message_of(const tally::Status& status) { return status.message(); }
}  // namespace

BOOST_AUTO_TEST_CASE(valid_signature_verifies) {
  const std::string header = sign_stripe_payload(payload, secret, now_s);
  BOOST_TEST(header.rfind("t=1732300000,v1=", 0) == 0u);
  const auto status = verify_stripe_signature(payload, header, secret, now_s);
  BOOST_TEST(status.is_ok(), status.to_string());
}

BOOST_AUTO_TEST_CASE(signature_is_hmac_of_timestamp_dot_payload) {
  // Independent of sign_stripe_payload: the documented construction.
  const std::string v1 = hmac_sha256_hex(secret, "1732300000." + std::string(payload));
  BOOST_TEST(verify_stripe_signature(payload, "t=1732300000,v1=" + v1, secret, now_s).is_ok());
}

BOOST_AUTO_TEST_CASE(tampered_body_is_a_mismatch) {
  const std::string header = sign_stripe_payload(payload, secret, now_s);
  std::string tampered(payload);
  tampered[10] = 'X';
  const auto status = verify_stripe_signature(tampered, header, secret, now_s);
  BOOST_TEST(!status.is_ok());
  BOOST_TEST(message_of(status) == "signature mismatch");
  BOOST_TEST(status.field() == "Stripe-Signature");
}

BOOST_AUTO_TEST_CASE(wrong_secret_is_a_mismatch) {
  const std::string header = sign_stripe_payload(payload, "whsec_other", now_s);
  BOOST_TEST(message_of(verify_stripe_signature(payload, header, secret, now_s)) == "signature mismatch");
}

BOOST_AUTO_TEST_CASE(stale_timestamp_is_refused) {
  const int64_t signed_at = now_s - stripe_signature_tolerance_s - 1;
  const std::string header = sign_stripe_payload(payload, secret, signed_at);
  BOOST_TEST(message_of(verify_stripe_signature(payload, header, secret, now_s)) == "timestamp outside tolerance");
  // At exactly the tolerance it is still accepted.
  const std::string edge = sign_stripe_payload(payload, secret, now_s - stripe_signature_tolerance_s);
  BOOST_TEST(verify_stripe_signature(payload, edge, secret, now_s).is_ok());
}

BOOST_AUTO_TEST_CASE(future_timestamp_is_refused) {
  const std::string header = sign_stripe_payload(payload, secret, now_s + stripe_signature_tolerance_s + 1);
  BOOST_TEST(message_of(verify_stripe_signature(payload, header, secret, now_s)) == "timestamp outside tolerance");
  const std::string edge = sign_stripe_payload(payload, secret, now_s + stripe_signature_tolerance_s);
  BOOST_TEST(verify_stripe_signature(payload, edge, secret, now_s).is_ok());
}

BOOST_AUTO_TEST_CASE(custom_tolerance_is_honoured) {
  const std::string header = sign_stripe_payload(payload, secret, now_s - 10);
  BOOST_TEST(!verify_stripe_signature(payload, header, secret, now_s, 5).is_ok());
  BOOST_TEST(verify_stripe_signature(payload, header, secret, now_s, 10).is_ok());
}

BOOST_AUTO_TEST_CASE(one_matching_v1_among_several_is_enough) {
  const std::string good = hmac_sha256_hex(secret, "1732300000." + std::string(payload));
  const std::string old_secret_sig = hmac_sha256_hex("whsec_old", "1732300000." + std::string(payload));
  const std::string header = "t=1732300000,v1=" + old_secret_sig + ",v1=" + good + ",v0=deadbeef";
  BOOST_TEST(verify_stripe_signature(payload, header, secret, now_s).is_ok());
  // …and in the other order.
  const std::string reversed = "t=1732300000,v1=" + good + ",v1=" + old_secret_sig;
  BOOST_TEST(verify_stripe_signature(payload, reversed, secret, now_s).is_ok());
}

BOOST_AUTO_TEST_CASE(v0_and_unknown_schemes_are_never_trusted) {
  const std::string good = hmac_sha256_hex(secret, "1732300000." + std::string(payload));
  BOOST_TEST(message_of(verify_stripe_signature(payload, "t=1732300000,v0=" + good, secret, now_s)) ==
             "no v1 signature");
  BOOST_TEST(message_of(verify_stripe_signature(payload, "t=1732300000,v2=" + good, secret, now_s)) ==
             "no v1 signature");
  BOOST_TEST(message_of(verify_stripe_signature(payload, "t=1732300000", secret, now_s)) == "no v1 signature");
}

BOOST_AUTO_TEST_CASE(malformed_headers_are_named) {
  const std::string good = hmac_sha256_hex(secret, "1732300000." + std::string(payload));
  for (const std::string& header : {std::string(""), std::string("garbage"), "v1=" + good,
                                   "t=abc,v1=" + good, "t=,v1=" + good, "t=-5,v1=" + good,
                                   "t=1732300000,t=1732300000,v1=" + good, "t=1732300000,,v1=" + good,
                                   "t=1732300000,=x,v1=" + good, std::string(9000, 'a')}) {
    const auto status = verify_stripe_signature(payload, header, secret, now_s);
    BOOST_TEST_INFO("header: " << header.substr(0, 60));
    BOOST_TEST(message_of(status) == "malformed header");
    BOOST_TEST(status.field() == "Stripe-Signature");
  }
}

BOOST_AUTO_TEST_CASE(spaces_around_items_are_tolerated) {
  const std::string good = hmac_sha256_hex(secret, "1732300000." + std::string(payload));
  BOOST_TEST(verify_stripe_signature(payload, "t=1732300000, v1=" + good, secret, now_s).is_ok());
}

BOOST_AUTO_TEST_CASE(signature_is_checked_before_time) {
  // A forged, stale header learns "mismatch", not whether its timestamp was acceptable.
  const std::string header = sign_stripe_payload(payload, "whsec_forger", now_s - 100000);
  BOOST_TEST(message_of(verify_stripe_signature(payload, header, secret, now_s)) == "signature mismatch");
}
