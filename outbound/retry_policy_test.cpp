// The retry policy: capped exponential backoff with reproducible jitter; and url_encode.
#include <boost/test/unit_test.hpp>

#include <set>

#include "outbound/http_client.h"

using namespace tally::connectors;

BOOST_AUTO_TEST_CASE(delays_stay_within_half_to_full_ceiling_and_cap) {
  RetryPolicy policy;
  policy.backoff_ms_initial = 100;
  policy.backoff_ms_max = 1000;
  for (uint64_t seed = 0; seed < 200; ++seed) {
    policy.jitter_seed = seed;
    const int64_t ceilings[] = {100, 200, 400, 800, 1000, 1000, 1000};
    for (int32_t retry = 1; retry <= 7; ++retry) {
      const int64_t delay = policy.backoff_ms(retry);
      const int64_t ceiling = ceilings[retry - 1];
      BOOST_TEST_INFO("seed " << seed << " retry " << retry);
      BOOST_TEST(delay >= ceiling / 2);
      BOOST_TEST(delay <= ceiling);
    }
  }
}

BOOST_AUTO_TEST_CASE(jitter_is_reproducible_from_the_seed_and_varies_across_seeds) {
  RetryPolicy a;
  a.jitter_seed = 42;
  RetryPolicy b = a;
  std::set<int64_t> across_seeds;
  for (int32_t retry = 1; retry <= 10; ++retry) BOOST_TEST(a.backoff_ms(retry) == b.backoff_ms(retry));
  for (uint64_t seed = 0; seed < 50; ++seed) {
    RetryPolicy p;
    p.jitter_seed = seed;
    across_seeds.insert(p.backoff_ms(3));
  }
  BOOST_TEST(across_seeds.size() > 10u);  // jitter actually spreads retries
}

BOOST_AUTO_TEST_CASE(huge_retry_numbers_do_not_overflow) {
  RetryPolicy policy;
  policy.backoff_ms_initial = 1'000;
  policy.backoff_ms_max = INT64_MAX / 2;
  BOOST_TEST(policy.backoff_ms(1'000'000) <= INT64_MAX / 2);
  policy.backoff_ms_initial = 0;
  BOOST_TEST(policy.backoff_ms(5) == 0);
}

BOOST_AUTO_TEST_CASE(attempts_are_bounded) {
  RetryPolicy policy;
  policy.attempts_max = 3;
  BOOST_TEST(policy.may_retry(1));
  BOOST_TEST(policy.may_retry(2));
  BOOST_TEST(!policy.may_retry(3));
}

BOOST_AUTO_TEST_CASE(url_encode_keeps_only_unreserved) {
  BOOST_TEST(url_encode("abcXYZ019-._~") == "abcXYZ019-._~");
  BOOST_TEST(url_encode("metadata[signal_id]") == "metadata%5Bsignal_id%5D");
  BOOST_TEST(url_encode("3:1042:recharge_requested:acme corp&x=y") ==
             "3%3A1042%3Arecharge_requested%3Aacme%20corp%26x%3Dy");
  BOOST_TEST(url_encode("\xc3\xa9") == "%C3%A9");
}
