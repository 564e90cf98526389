// The projector's in-memory locator of idempotency keys (engine/key_locator.h): every chunk a key
// was inserted with is offered to a lookup of that key, through growth and probe runs that wrap
// around the end of the table; a key never inserted is offered only chunks of keys with its tag;
// and its memory stays within the bytes per key the header promises.
#include <boost/test/unit_test.hpp>

#include <cstdlib>
#include <map>
#include <random>
#include <set>
#include <vector>

#include "engine/key_locator.h"

namespace tally {
namespace {

uint64_t seed_from_env() {
  const char* s = std::getenv("TALLY_SEED");
  return s ? std::strtoull(s, nullptr, 10) : 20261207;
}

std::set<KeyLocator::Chunk> offered(const KeyLocator& locator, const Digest128& key) {
  std::set<KeyLocator::Chunk> chunks;
  locator.find(key, [&](KeyLocator::Chunk chunk) { return chunks.insert(chunk), false; });
  return chunks;
}

BOOST_AUTO_TEST_CASE(every_inserted_key_is_offered_its_chunks_and_absent_keys_only_same_tag_chunks) {
  const uint64_t seed = seed_from_env();
  BOOST_TEST_MESSAGE("seed " << seed << " (TALLY_SEED=" << seed << " replays)");
  std::mt19937_64 random(seed);
  KeyLocator locator;
  // tag -> chunks of every key with that tag; a few tags on purpose shared by many keys, and tags
  // near 2^32 (homes at the end of the table: their runs wrap around to slot 0).
  std::map<uint32_t, std::multiset<KeyLocator::Chunk>> by_tag;
  std::vector<std::pair<Digest128, KeyLocator::Chunk>> inserted;
  const auto key_with_tag = [&](uint32_t tag) { return Digest128{(uint64_t{tag} << 32) | (random() & 0xffffffff), random()}; };
  for (int i = 0; i < 200'000; ++i) {
    uint32_t tag = static_cast<uint32_t>(random() >> 32);
    if (i % 97 == 0) tag = 0xfffffff0u + static_cast<uint32_t>(random() % 16);
    if (i % 89 == 0) tag = 12345;
    const Digest128 key = key_with_tag(tag);
    const auto chunk = static_cast<KeyLocator::Chunk>(1 + i / 50);
    locator.insert(key, chunk);
    by_tag[tag].insert(chunk);
    inserted.emplace_back(key, chunk);
  }
  BOOST_TEST(locator.size() == inserted.size());
  for (const auto& [key, chunk] : inserted) {
    const auto chunks = offered(locator, key);
    BOOST_TEST_REQUIRE(chunks.count(chunk) == 1u);
    const auto& same_tag = by_tag[KeyLocator::tag_of(key)];
    BOOST_TEST_REQUIRE(chunks == std::set<KeyLocator::Chunk>(same_tag.begin(), same_tag.end()));
  }
  for (int i = 0; i < 100'000; ++i) {
    const Digest128 absent{random(), random()};
    const auto chunks = offered(locator, absent);
    const auto it = by_tag.find(KeyLocator::tag_of(absent));
    BOOST_TEST_REQUIRE(chunks.size() == (it == by_tag.end() ? 0u : std::set<KeyLocator::Chunk>(it->second.begin(), it->second.end()).size()));
  }
  // A visit that answers "found" stops the lookup.
  int visits = 0;
  BOOST_TEST(locator.find(key_with_tag(12345), [&](KeyLocator::Chunk) { return ++visits, true; }));
  BOOST_TEST(visits == 1);
}

BOOST_AUTO_TEST_CASE(memory_per_key_stays_between_the_loads_it_grows_at) {
  std::mt19937_64 random(seed_from_env());
  KeyLocator locator;
  std::size_t grew = 0;
  for (std::size_t n = 1; n <= 3'000'000; ++n) {
    const std::size_t before = locator.capacity();
    locator.insert(Digest128{random(), random()}, 1);
    if (locator.capacity() != before) ++grew;
    if (n >= 10'000 && n % 1'000 == 0) {
      const double bytes_per_key = static_cast<double>(locator.memory_bytes()) / static_cast<double>(n);
      BOOST_TEST_REQUIRE(bytes_per_key >= 8 / KeyLocator::grow_above_load - 0.01);
      BOOST_TEST_REQUIRE(bytes_per_key <= 8 / KeyLocator::grown_load + 0.01);
    }
  }
  BOOST_TEST_MESSAGE("grew " << grew << " times to " << locator.capacity() << " slots");
  BOOST_TEST(grew >= 5u);
  // Reserving ahead: no growth while the reserved keys come in.
  KeyLocator reserved;
  reserved.reserve(500'000);
  const std::size_t capacity = reserved.capacity();
  for (int i = 0; i < 500'000; ++i) reserved.insert(Digest128{random(), random()}, 7);
  BOOST_TEST(reserved.capacity() == capacity);
  BOOST_TEST(static_cast<double>(reserved.memory_bytes()) / 500'000 <= 16.0);
}

}  // namespace
}  // namespace tally
