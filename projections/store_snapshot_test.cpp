// Snapshots of a partition's store (projections/store_snapshot.h): a copy restored into another
// node's empty store of the partition folds on to the same views as the original; a copy that is
// not what the sender announced, or a target that folded already, is refused and nothing moves.
#include <boost/test/unit_test.hpp>

#include "projections/partitioned_layout.h"
#include "projections/partitioned_projector.h"
#include "projections/store_snapshot.h"
#include "projections/testkit.h"
#include "projections/view_checks.h"
#include "projections/views.h"
#include "tests/support/temp_dir.h"

using namespace tally;
using testkit::MemoryLog;
using testkit::all_digest;
using testkit::drain;
using testkit::ok;
using test_support::TempDir;

namespace {

constexpr int32_t partitions = 4;
const PartitionId moved{2};

}  // namespace

BOOST_AUTO_TEST_CASE(a_restored_snapshot_folds_on_to_the_views_of_the_original) {
  TempDir dir;
  MemoryLog log(partitions);
  testkit::append_generated(log, 21, 6'000, 0);
  auto source = testkit::open_partitioned(dir.sub("a"), log, false);
  drain(*source);
  ok(store::write_snapshot(*source->store(moved), dir.sub("snapshot")));
  const store::SnapshotInfo sent = ok(store::describe_store(*source->store(moved), moved));
  const store::SnapshotInfo copied = ok(store::describe_snapshot(dir.sub("snapshot"), moved));
  BOOST_TEST(copied.next_offset.value == static_cast<int64_t>(log.size(moved)));
  BOOST_TEST(copied.digest_hex == sent.digest_hex);
  BOOST_TEST(copied.chain_hex == sent.chain_hex);

  // Another node takes the partition on from the snapshot, then both fold what comes next.
  auto target = testkit::open_partitioned(dir.sub("b"), log, true);
  ok(store::restore_snapshot(dir.sub("snapshot"), copied, *target->store(moved)));
  ok(target->add(moved));
  BOOST_TEST(target->applied_offset(moved).value == copied.next_offset.value);
  testkit::append_generated(log, 21, 3'000, 6'000);
  const std::size_t refolded = drain(*target);
  BOOST_TEST(refolded == log.size(moved) - static_cast<std::size_t>(copied.next_offset.value));  // only the new ones
  drain(*source);
  source.reset();
  target.reset();
  BOOST_TEST(all_digest(partition_store_dir(dir.sub("b"), moved)) == all_digest(partition_store_dir(dir.sub("a"), moved)));
}

BOOST_AUTO_TEST_CASE(a_snapshot_that_is_not_what_was_announced_or_a_target_that_folded_is_refused) {
  TempDir dir;
  MemoryLog log(partitions);
  testkit::append_generated(log, 22, 3'000, 0);
  auto source = testkit::open_partitioned(dir.sub("a"), log, false);
  drain(*source);
  ok(store::write_snapshot(*source->store(moved), dir.sub("snapshot")));
  const store::SnapshotInfo announced = ok(store::describe_snapshot(dir.sub("snapshot"), moved));
  auto target = testkit::open_partitioned(dir.sub("b"), log, true);

  store::SnapshotInfo wrong = announced;
  wrong.digest_hex[0] = wrong.digest_hex[0] == '0' ? '1' : '0';
  const Status refused = store::restore_snapshot(dir.sub("snapshot"), wrong, *target->store(moved));
  BOOST_TEST((refused.code() == Status::Code::corruption));
  BOOST_TEST(refused.message().find("view digest") != std::string::npos, refused.to_string());
  wrong = announced;
  wrong.next_offset = Offset{announced.next_offset.value + 1};
  BOOST_TEST(store::restore_snapshot(dir.sub("snapshot"), wrong, *target->store(moved)).message().find("next offset") !=
             std::string::npos);
  BOOST_TEST((store::describe_store(*target->store(moved), moved).status().code() == Status::Code::not_found));

  // The source itself has folded the partition: it keeps its own views.
  const Status folded = store::restore_snapshot(dir.sub("snapshot"), announced, *source->store(moved));
  BOOST_TEST((folded.code() == Status::Code::conflict), folded.to_string());
}
