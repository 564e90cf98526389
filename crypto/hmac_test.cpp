// HMAC-SHA256 against RFC 4231's test vectors, and the constant-time comparison.
#include <boost/test/unit_test.hpp>

#include <string>

#include "crypto/hmac.h"

using tally::connectors::constant_time_equals;
using tally::connectors::hmac_sha256_hex;
using tally::connectors::timestamped_signature_hex;
using tally::connectors::to_hex;

namespace {
std::string repeat(char c, std::size_t n) { return std::string(n, c); }
}  // namespace

BOOST_AUTO_TEST_CASE(rfc4231_case_1_short_key) {
  BOOST_TEST(hmac_sha256_hex(repeat('\x0b', 20), "Hi There") ==
             "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7");
}

BOOST_AUTO_TEST_CASE(rfc4231_case_2_key_shorter_than_output) {
  BOOST_TEST(hmac_sha256_hex("Jefe", "what do ya want for nothing?") ==
             "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
}

BOOST_AUTO_TEST_CASE(rfc4231_case_3_combined_lengths) {
  BOOST_TEST(hmac_sha256_hex(repeat('\xaa', 20), repeat('\xdd', 50)) ==
             "773ea91e36800e46854db8ebd09181a72959098b3ef8c122d9635514ced565fe");
}

BOOST_AUTO_TEST_CASE(rfc4231_case_4_counting_key) {
  std::string key;
  for (int b = 1; b <= 25; ++b) key.push_back(static_cast<char>(b));
  BOOST_TEST(hmac_sha256_hex(key, repeat('\xcd', 50)) ==
             "82558a389a443c0ea4cc819899f2083a85f0faa3e578f8077a2e3ff46729665b");
}

BOOST_AUTO_TEST_CASE(rfc4231_case_5_truncated_output) {
  BOOST_TEST(hmac_sha256_hex(repeat('\x0c', 20), "Test With Truncation").substr(0, 32) ==
             "a3b6167473100ee06e0c796c2955552b");
}

BOOST_AUTO_TEST_CASE(rfc4231_case_6_key_larger_than_block) {
  BOOST_TEST(hmac_sha256_hex(repeat('\xaa', 131), "Test Using Larger Than Block-Size Key - Hash Key First") ==
             "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54");
}

BOOST_AUTO_TEST_CASE(rfc4231_case_7_key_and_data_larger_than_block) {
  BOOST_TEST(hmac_sha256_hex(repeat('\xaa', 131),
                             "This is a test using a larger than block-size key and a larger than block-size data. "
                             "The key needs to be hashed before being used by the HMAC algorithm.") ==
             "9b09ffa71b942fcb27635fbcd5b0e944bfdc63644f0713938a7f51535c3a35e2");
}

BOOST_AUTO_TEST_CASE(a_timestamped_signature_signs_the_timestamp_a_dot_and_the_payload) {
  BOOST_TEST(timestamped_signature_hex("whsec", 1763856000, R"({"id":1})") ==
             hmac_sha256_hex("whsec", R"(1763856000.{"id":1})"));
  BOOST_TEST(timestamped_signature_hex("whsec", 1763856001, R"({"id":1})") !=
             timestamped_signature_hex("whsec", 1763856000, R"({"id":1})"));
}

BOOST_AUTO_TEST_CASE(hex_is_lower_case_two_digits_per_byte) {
  BOOST_TEST(to_hex(std::string("\x00\x0f\xf0\xff", 4)) == "000ff0ff");
  BOOST_TEST(hmac_sha256_hex("k", "m").size() == 64u);
}

BOOST_AUTO_TEST_CASE(constant_time_equals_compares_contents_and_lengths) {
  BOOST_TEST(constant_time_equals("abc", "abc"));
  BOOST_TEST(constant_time_equals("", ""));
  BOOST_TEST(!constant_time_equals("abc", "abd"));
  BOOST_TEST(!constant_time_equals("abc", "ab"));
  BOOST_TEST(!constant_time_equals("", "a"));
  BOOST_TEST(!constant_time_equals(std::string("a\0b", 3), std::string("a\0c", 3)));
}
