// The in-memory log of the projector's tests stamps append times as the journal does (SPEC §3):
// the clock, never below the partition's previous stamp; a time given by a fixture is kept.
#include <boost/test/unit_test.hpp>
#include <vector>

#include "projections/testkit.h"

using namespace tally;

BOOST_AUTO_TEST_CASE(memory_log_stamps_append_times_that_never_go_back_in_a_partition) {
  testkit::MemoryLog log(2);
  int64_t now = 5'000;
  log.set_clock([&] { return now; });
  const LogPosition first = log.append_to(PartitionId{0}, "a", "one");
  now = 1'000;  // the clock goes back
  const LogPosition second = log.append_to(PartitionId{0}, "a", "two");
  const LogPosition other = log.append_to(PartitionId{1}, "b", "three");
  const LogPosition given = log.append_to(PartitionId{1}, "b", "four", 42);
  BOOST_TEST(log.appended_at(first) == 5'000);
  BOOST_TEST(log.appended_at(second) == 5'000);
  BOOST_TEST(log.appended_at(other) == 1'000);
  BOOST_TEST(log.appended_at(given) == 42);

  auto reader = log.reader();
  for (int32_t p = 0; p < 2; ++p) BOOST_REQUIRE(reader->seek(PartitionId{p}, Offset{0}).is_ok());
  std::vector<LogRecord> out;
  BOOST_REQUIRE(reader->poll(out, 10, 0).is_ok());
  BOOST_REQUIRE_EQUAL(out.size(), 4u);
  for (const LogRecord& r : out) {
    BOOST_TEST(r.appended_at_ms == log.appended_at(r.position));
    BOOST_TEST(!r.damaged());
  }
}
