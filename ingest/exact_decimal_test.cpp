// Exact decimal -> scaled integer conversion (LiteLLM costs, float timestamps) and ISO-8601 times.
#include <boost/test/unit_test.hpp>

#include "ingest/exact_decimal.h"

using tally::connectors::decimal_to_scaled;
using tally::connectors::iso8601_to_unix_ms;
using tally::connectors::Rounding;

namespace {
int64_t micros(std::string_view text) {
  auto r = decimal_to_scaled(text, 6, Rounding::half_up, "cost");
  BOOST_REQUIRE_MESSAGE(r.is_ok(), std::string(text) + ": " + r.status().to_string());
  return r.value();
}
int64_t ms_floor(std::string_view text) {
  auto r = decimal_to_scaled(text, 3, Rounding::floor, "time");
  BOOST_REQUIRE_MESSAGE(r.is_ok(), std::string(text) + ": " + r.status().to_string());
  return r.value();
}
}  // namespace

BOOST_AUTO_TEST_CASE(usd_to_micros_rounds_half_up_once) {
  BOOST_TEST(micros("0.000123456") == 123);  // 123.456 µcr
  BOOST_TEST(micros("0.0001235") == 124);    // exactly half: up
  BOOST_TEST(micros("0.0000125") == 13);
  BOOST_TEST(micros("0.0000124999") == 12);
  BOOST_TEST(micros("0.0000005") == 1);
  BOOST_TEST(micros("0.0000004999999") == 0);
  BOOST_TEST(micros("0.29") == 290000);      // a double would give 289999.99999999994
  BOOST_TEST(micros("0") == 0);
  BOOST_TEST(micros("0.0") == 0);
  BOOST_TEST(micros("12") == 12000000);
  BOOST_TEST(micros("1e-10") == 0);
}

BOOST_AUTO_TEST_CASE(exponent_forms_as_python_writes_them) {
  BOOST_TEST(micros("1.5e-05") == 15);
  BOOST_TEST(micros("1.23456e-05") == 12);
  BOOST_TEST(micros("2.85e-05") == 29);  // 28.5 -> 29
  BOOST_TEST(micros("1E+2") == 100000000);
  BOOST_TEST(micros("5e-7") == 1);
  BOOST_TEST(micros("0e5") == 0);
}

BOOST_AUTO_TEST_CASE(seconds_to_millis_floor) {
  BOOST_TEST(ms_floor("1732300000.1239") == 1732300000123);
  BOOST_TEST(ms_floor("1732300000") == 1732300000000);
  BOOST_TEST(ms_floor("1.7323e9") == 1732300000000);
  BOOST_TEST(ms_floor("-1.0001") == -1001);  // floor goes down for negatives
}

BOOST_AUTO_TEST_CASE(negative_half_up_is_away_from_zero) {
  BOOST_TEST(micros("-0.0000005") == -1);
  BOOST_TEST(micros("-0.0000004") == 0);
}

BOOST_AUTO_TEST_CASE(refuses_what_is_not_a_json_number) {
  for (std::string_view bad : {"", "abc", "1.", ".5", "01", "1e", "1e+", "+1", "1.5x", " 1", "NaN", "Infinity", "--1"}) {
    auto r = decimal_to_scaled(bad, 6, Rounding::half_up, "response_cost");
    BOOST_TEST_INFO("input: '" << bad << "'");
    BOOST_TEST(!r.is_ok());
    if (!r.is_ok()) BOOST_TEST(r.status().field() == "response_cost");
  }
}

BOOST_AUTO_TEST_CASE(refuses_overflow_instead_of_wrapping) {
  BOOST_TEST(!decimal_to_scaled("9223372036854.775808", 6, Rounding::half_up, "x").is_ok());
  BOOST_TEST(decimal_to_scaled("9223372036854.775807", 6, Rounding::half_up, "x").value() == INT64_MAX);
  BOOST_TEST(!decimal_to_scaled("1e100", 6, Rounding::half_up, "x").is_ok());
  BOOST_TEST(!decimal_to_scaled("1e999999", 6, Rounding::half_up, "x").is_ok());
  BOOST_TEST(decimal_to_scaled("0e999", 6, Rounding::half_up, "x").value() == 0);
}

BOOST_AUTO_TEST_CASE(iso8601_forms_litellm_and_python_send) {
  BOOST_TEST(iso8601_to_unix_ms("2024-01-01T00:00:00", "t").value() == 1704067200000);
  BOOST_TEST(iso8601_to_unix_ms("2024-01-01 00:00:01.123456", "t").value() == 1704067201123);
  BOOST_TEST(iso8601_to_unix_ms("2024-01-01T00:00:00Z", "t").value() == 1704067200000);
  BOOST_TEST(iso8601_to_unix_ms("2024-01-01T02:00:00+02:00", "t").value() == 1704067200000);
  BOOST_TEST(iso8601_to_unix_ms("2023-12-31T19:00:00.5-05:00", "t").value() == 1704067200500);
  BOOST_TEST(iso8601_to_unix_ms("2024-02-29T00:00:00Z", "t").is_ok());  // leap day
}

BOOST_AUTO_TEST_CASE(iso8601_refuses_nonsense_naming_the_field) {
  for (std::string_view bad : {"", "2024-01-01", "2024-13-01T00:00:00", "2023-02-29T00:00:00", "2024-01-01T25:00:00",
                               "2024-01-01T00:00:00.", "2024-01-01T00:00:00+5", "1969-12-31T23:59:59Z", "yesterday"}) {
    auto r = iso8601_to_unix_ms(bad, "endTime");
    BOOST_TEST_INFO("input: '" << bad << "'");
    BOOST_TEST(!r.is_ok());
    if (!r.is_ok()) BOOST_TEST(r.status().field() == "endTime");
  }
}
