// PutBuffer::sort_by_key must order puts exactly as a stable sort by whole key would, and
// for_each_sorted must report runs of equal heads and keys exactly: the writer packs history
// chunks per org and sums roll-up cells from those runs.
#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <cstdlib>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "projections/put_buffer.h"

namespace tally {
namespace {

uint64_t seed_from_env() {
  const char* s = std::getenv("TALLY_SEED");
  return s ? std::strtoull(s, nullptr, 10) : 20261123;
}

// (key, value) pairs in the buffer's order.
std::vector<std::pair<std::string, std::string>> contents(const PutBuffer& buffer) {
  std::vector<std::pair<std::string, std::string>> out;
  buffer.for_each([&](std::string_view k, std::string_view v) {
    out.emplace_back(std::string(k), std::string(v));
    return 0;
  });
  return out;
}

// Keys built to defeat shortcuts: shared heads of different lengths, heads that prefix other
// heads, NULs inside tails, tails that differ only past 16 bytes, tails that are zero padding's
// look-alikes ("\0" vs "" vs "\0\0"), keys without any NUL, the empty key and exact duplicates.
std::string random_key(std::mt19937_64& rng) {
  static const char* const heads[] = {"", "o", "org-1", "org-10", "org-1a", "org-2", "a-much-longer-org-id-0001"};
  std::string key = heads[rng() % std::size(heads)];
  switch (rng() % 8) {
    case 0: return key;  // no NUL
    case 1: return key + std::string(1 + rng() % 3, '\0');
    default: break;
  }
  key.push_back('\0');
  if (rng() % 4 == 0) key.append("0123456789abcde");  // tails that agree past the 16 bytes kept in the entry
  const std::size_t tail = rng() % 28;
  for (std::size_t i = 0; i < tail; ++i) key.push_back(static_cast<char>(rng() % 4 == 0 ? 0 : rng() % 3));
  return key;
}

BOOST_AUTO_TEST_CASE(sort_by_key_equals_a_stable_sort_by_whole_key_and_reports_runs) {
  const uint64_t seed = seed_from_env();
  BOOST_TEST_MESSAGE("seed " << seed << " (TALLY_SEED overrides)");
  std::mt19937_64 rng(seed);
  PutBuffer buffer;
  for (int round = 0; round < 200; ++round) {
    buffer.clear();
    std::vector<std::pair<std::string, std::string>> expected;
    const std::size_t n = rng() % 400;
    for (std::size_t i = 0; i < n; ++i) {
      std::string key = random_key(rng);
      if (!expected.empty() && rng() % 5 == 0) key = expected[rng() % expected.size()].first;  // a duplicate
      std::string value = std::to_string(i);
      buffer.add(key, value);
      expected.emplace_back(std::move(key), std::move(value));
    }
    std::stable_sort(expected.begin(), expected.end(), [](auto& a, auto& b) { return a.first < b.first; });
    buffer.sort_by_key();
    const auto sorted = contents(buffer);
    BOOST_REQUIRE_EQUAL(sorted.size(), expected.size());
    for (std::size_t i = 0; i < sorted.size(); ++i) {
      BOOST_REQUIRE_MESSAGE(sorted[i] == expected[i], "round " << round << ", position " << i << ": value "
                                                                << sorted[i].second << " instead of "
                                                                << expected[i].second);
    }
    // The runs the writer relies on: equal heads (up to the first NUL) and equal keys.
    const auto head = [](const std::string& key) { return key.substr(0, key.find('\0')); };
    std::size_t i = 0;
    buffer.for_each_sorted([&](std::string_view key, std::string_view, PutBuffer::Run run) {
      BOOST_REQUIRE(key == expected[i].first);
      BOOST_REQUIRE_EQUAL(run.same_head, i > 0 && head(expected[i - 1].first) == head(expected[i].first));
      BOOST_REQUIRE_EQUAL(run.same_key, i > 0 && expected[i - 1].first == expected[i].first);
      ++i;
      return 0;
    });
    BOOST_REQUIRE_EQUAL(i, expected.size());
  }
}

}  // namespace
}  // namespace tally
