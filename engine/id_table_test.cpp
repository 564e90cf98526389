// IdTable (engine/id_table.h): the ledgers' org and member states by id.
#include <boost/test/unit_test.hpp>

#include <map>
#include <random>
#include <string>
#include <vector>

#include "engine/id_table.h"

using namespace tally;

BOOST_AUTO_TEST_CASE(finds_what_was_inserted_and_addresses_never_move_as_it_grows) {
  IdTable<int> table;
  BOOST_TEST(table.find("org-1", id_hash("org-1")) == nullptr);  // empty: no slots yet
  table.prefetch_slot(id_hash("org-1"));                          // hints on an empty table: nothing
  table.prefetch_entry(id_hash("org-1"));
  std::vector<const int*> addresses;
  for (int i = 0; i < 5'000; ++i) {
    const std::string id = "org-" + std::to_string(i);
    addresses.push_back(&table.insert(id, id_hash(id), i).value);
  }
  BOOST_TEST(table.size() == 5'000u);
  for (int i = 0; i < 5'000; ++i) {
    const std::string id = "org-" + std::to_string(i);
    auto* entry = table.find(id, id_hash(id));
    BOOST_REQUIRE(entry != nullptr);
    BOOST_TEST(entry->value == i);
    BOOST_TEST(&entry->value == addresses[static_cast<std::size_t>(i)]);  // grown many times since
    table.prefetch_entry(id_hash(id));
  }
  BOOST_TEST(table.find("org-5000", id_hash("org-5000")) == nullptr);
  // Insertion order.
  int expected = 0;
  for (const auto& entry : table) BOOST_TEST(entry.value == expected++);
  table.clear();
  BOOST_TEST(table.size() == 0u);
  BOOST_TEST(table.find("org-1", id_hash("org-1")) == nullptr);
}

BOOST_AUTO_TEST_CASE(ids_of_one_hash_are_told_apart_by_their_bytes) {
  // Every id given the same hash: one probe run, each found by comparing the id.
  IdTable<std::string> table;
  const uint64_t same = 42;
  std::mt19937_64 rng(5);
  std::map<std::string, std::string> expected;
  for (int i = 0; i < 300; ++i) {
    const std::string id = "m-" + std::to_string(rng() % 100'000) + "-" + std::to_string(i);
    expected[id] = "v" + std::to_string(i);
    table.insert(id, same, expected[id]);
  }
  for (const auto& [id, value] : expected) {
    auto* entry = table.find(id, same);
    BOOST_REQUIRE(entry != nullptr);
    BOOST_TEST(entry->value == value);
    BOOST_TEST(table.find(id, same + 1) == nullptr);  // another hash never matches
  }
  BOOST_TEST(table.find("m-absent", same) == nullptr);
}

BOOST_AUTO_TEST_CASE(the_hash_depends_on_every_byte_and_the_length) {
  BOOST_TEST(id_hash("org-1") != id_hash("org-2"));
  BOOST_TEST(id_hash("abcdefgh1") != id_hash("abcdefgh2"));  // past the first word
  BOOST_TEST(id_hash(std::string_view("a\0", 2)) != id_hash("a"));
  BOOST_TEST(id_hash("") != id_hash(std::string_view("\0", 1)));
  std::string key;
  member_id_key(key, "acme", "alice");
  BOOST_TEST(key == std::string("acme\0alice", 10));
}
