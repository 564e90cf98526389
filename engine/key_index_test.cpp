// The in-memory idempotency index: a random mix of puts, overwrites and erases (the undo of an
// uncommitted batch) must leave it answering exactly like an ordinary map, through table growth and
// probe runs that wrap around the end of the table.
#include <boost/test/unit_test.hpp>

#include <cstdlib>
#include <map>
#include <random>
#include <string>
#include <utility>

#include "engine/key_index.h"

namespace tally {
namespace {

KeyRecord record_of(uint64_t n) {
  KeyRecord r;
  r.payload_digest = Digest128{n * 7919, n};
  r.outcome = n % 2 ? Outcome::rejected : Outcome::applied;
  r.reason = n % 2 ? RejectReason::insufficient_balance : RejectReason::none;
  return r;
}

uint64_t seed_from_env() {
  const char* s = std::getenv("TALLY_SEED");
  return s ? std::strtoull(s, nullptr, 10) : 20261123;
}

BOOST_AUTO_TEST_CASE(digest_is_of_scope_nul_key_and_never_zero) {
  KeyIndex index;
  const Digest128 a = index.digest("org-1", "k");
  BOOST_TEST((a == murmur3_128(std::string("org-1\0k", 7).data(), 7)));
  BOOST_TEST(!(index.digest("org-1", "k") == index.digest("org-1k", "")));
  BOOST_TEST((a.low != 0 || a.high != 0));
}

BOOST_AUTO_TEST_CASE(find_put_erase_agree_with_a_map_under_random_operations) {
  const uint64_t seed = seed_from_env();
  BOOST_TEST_MESSAGE("TALLY_SEED=" << seed);
  std::mt19937_64 rng(seed);
  KeyIndex index;
  std::map<std::pair<uint64_t, uint64_t>, KeyRecord> model;
  // Few distinct high bits of `low` → long probe runs, collisions on the home slot, and wraps.
  auto random_key = [&] {
    const uint64_t n = rng() % 5000;
    return Digest128{(n << 40) | (n % 13), n + 1};
  };
  for (int step = 0; step < 200'000; ++step) {
    const Digest128 key = random_key();
    const auto model_key = std::make_pair(key.low, key.high);
    switch (rng() % 4) {
      case 0:
      case 1: {
        const KeyRecord r = record_of(rng() % 1000);
        const bool inserted = index.put(key, r);
        BOOST_REQUIRE(inserted == (model.count(model_key) == 0));
        model[model_key] = r;
        break;
      }
      case 2: {
        const bool erased = index.erase(key);
        BOOST_REQUIRE(erased == (model.erase(model_key) == 1));
        break;
      }
      default: {
        const KeyRecord* found = index.find(key);
        const auto it = model.find(model_key);
        BOOST_REQUIRE((found != nullptr) == (it != model.end()));
        if (found) BOOST_REQUIRE((*found == it->second));
      }
    }
    BOOST_REQUIRE(index.size() == model.size());
  }
  for (const auto& [k, r] : model) {
    const KeyRecord* found = index.find(Digest128{k.first, k.second});
    BOOST_REQUIRE(found != nullptr);
    BOOST_TEST((*found == r));
  }
}

BOOST_AUTO_TEST_CASE(erasing_what_a_batch_put_restores_the_earlier_answers) {
  KeyIndex index;
  index.reserve(100);
  for (uint64_t n = 1; n <= 3000; ++n) index.put(Digest128{n * 0x9E3779B97F4A7C15ull, n}, record_of(n));
  // A "batch" of new keys that lands in the same probe runs, then is undone.
  for (uint64_t n = 1; n <= 3000; ++n) index.put(Digest128{n * 0x9E3779B97F4A7C15ull, n + 10'000}, record_of(0));
  BOOST_TEST(index.size() == 6000u);
  for (uint64_t n = 3000; n >= 1; --n) BOOST_REQUIRE(index.erase(Digest128{n * 0x9E3779B97F4A7C15ull, n + 10'000}));
  BOOST_TEST(index.size() == 3000u);
  for (uint64_t n = 1; n <= 3000; ++n) {
    const KeyRecord* found = index.find(Digest128{n * 0x9E3779B97F4A7C15ull, n});
    BOOST_REQUIRE(found != nullptr);
    BOOST_TEST((*found == record_of(n)));
    BOOST_TEST(index.find(Digest128{n * 0x9E3779B97F4A7C15ull, n + 10'000}) == nullptr);
  }
}

}  // namespace
}  // namespace tally
