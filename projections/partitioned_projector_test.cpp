// The projector of a partitioned views directory (projections/partitioned_projector.h): one store
// per events partition, each folded by its own Projector, read back through ViewReader as if it
// were one store. The views equal the reference fold and a single store's digests; outcomes and
// offsets are answered by the owning partition; the earlier one-store layout is refused.
#include <boost/test/unit_test.hpp>

#include <atomic>
#include <thread>

#include "engine/partitioner.h"
#include <lmdb.h>
#include "projections/partitioned_layout.h"
#include "projections/partitioned_projector.h"
#include "projections/testkit.h"
#include "projections/view_checks.h"
#include "projections/views.h"
#include "tests/support/temp_dir.h"

using namespace tally;
using testkit::MemoryLog;
using testkit::drain;
using testkit::ok;
using testkit::small_batches;
using test_support::TempDir;

namespace {

constexpr int32_t partitions = 4;

void generate(MemoryLog& log, uint64_t seed, std::size_t events) {
  testkit::WorkloadOptions workload;
  workload.seed = seed;
  workload.partitions = log.partitions();
  testkit::WorkloadGenerator generator(workload);
  std::vector<AppendRequest> requests;
  generator.generate(events, requests);
  log.append_all(requests);
}

// run() on a thread of its own, stopped and joined when it goes out of scope (also when a check
// fails).
struct Running {
  explicit Running(PartitionedProjector& projector) : thread([this, &projector] { ran = projector.run(stop); }) {}
  ~Running() { (void)finish(); }
  Status finish() {
    stop = true;
    if (thread.joinable()) thread.join();
    return ran;
  }
  std::atomic<bool> stop{false};
  Status ran = Status::error(Status::Code::unavailable, "not run");
  std::thread thread;
};

std::unique_ptr<PartitionedProjector> started(const std::string& root, MemoryLog& log,
                                              const ProjectorOptions& options = small_batches()) {
  auto projector = ok(PartitionedProjector::open(root, log.partitions(), options));
  ok(projector->start([&log]() -> Result<std::unique_ptr<LogReader>> { return log.reader(); }));
  return projector;
}

}  // namespace

BOOST_AUTO_TEST_CASE(partitioned_views_equal_the_reference_fold_and_one_store_byte_for_byte) {
  const uint64_t seed = testkit::printed_seed(20261207);
  TempDir dir;
  MemoryLog log(partitions);
  generate(log, seed, 20'000);
  const testkit::Reference ref(log);

  auto projector = started(dir.sub("parted"), log);
  BOOST_TEST(drain(*projector) == ref.records());
  for (int32_t p = 0; p < partitions; ++p) {
    BOOST_TEST(projector->applied_offset(PartitionId{p}).value == static_cast<int64_t>(log.size(PartitionId{p})));
  }
  projector.reset();
  testkit::check_views(dir.sub("parted"), ref);

  // The same digests as one store folding every partition, and as a second partitioned fold in
  // other batch sizes (same log in, same bytes out).
  const auto single = ok(testkit::project_views(dir.sub("single"), log)->digests());
  ProjectorOptions big = testkit::quick_options();
  big.batch_events_max = 50'000;
  drain(*started(dir.sub("again"), log, big));
  const auto parted = ok(ok(ViewReader::open(dir.sub("parted")))->digests());
  const auto again = ok(ok(ViewReader::open(dir.sub("again")))->digests());
  BOOST_TEST(parted.size() == single.size());
  for (const auto& [name, digest] : single) {
    BOOST_TEST(parted.at(name).to_hex() == digest.to_hex(), name);
    BOOST_TEST(again.at(name).to_hex() == digest.to_hex(), name);
  }
}

BOOST_AUTO_TEST_CASE(each_partition_store_holds_its_partition_and_its_home_orgs_only) {
  TempDir dir;
  MemoryLog log(partitions);
  generate(log, 7, 6'000);
  drain(*started(dir.sub("views"), log));
  BOOST_TEST(ok(read_partitioned_layout(dir.sub("views"))) == partitions);
  std::size_t orgs = 0;
  for (int32_t p = 0; p < partitions; ++p) {
    auto views = ok(ViewReader::open(partition_store_dir(dir.sub("views"), PartitionId{p})));
    const auto held = ok(views->partitions());
    BOOST_REQUIRE_EQUAL(held.size(), 1u);
    BOOST_TEST(held[0].partition.value == p);
    BOOST_TEST(held[0].next_offset.value == static_cast<int64_t>(log.size(PartitionId{p})));
    for (const OrgId& org : ok(views->org_ids())) {
      BOOST_TEST(partition_for_key(org.str(), partitions) == p, org.str());
      ++orgs;
    }
  }
  BOOST_TEST(orgs == testkit::Reference(log).orgs().size());
}

BOOST_AUTO_TEST_CASE(outcomes_and_offsets_come_from_the_owning_partition_only) {
  TempDir dir;
  MemoryLog log(partitions);
  generate(log, 11, 5'000);
  const testkit::Reference ref(log);
  ProjectorOptions options = small_batches();
  options.partitions = {3, 1};
  auto projector = started(dir.sub("views"), log, options);
  drain(*projector);
  BOOST_TEST((projector->partitions() == std::vector<int32_t>{1, 3}));
  BOOST_TEST(projector->partition(PartitionId{0}) == nullptr);
  BOOST_TEST(projector->partition(PartitionId{3}) != nullptr);
  std::size_t ready = 0;
  for (const auto& [position, expected] : ref.outcomes()) {
    const OutcomeWait wait = projector->wait_for_outcome(position, 0);
    const bool owned = position.partition.value == 1 || position.partition.value == 3;
    if (!owned) {
      BOOST_TEST((wait.state == OutcomeWait::State::timed_out), position.to_string());
      continue;
    }
    BOOST_REQUIRE_MESSAGE(wait.state == OutcomeWait::State::ready, position.to_string());
    BOOST_TEST((wait.outcome.outcome == expected.outcome), position.to_string());
    BOOST_TEST(wait.outcome.balance_after_micros.value() == expected.balance_after_micros.value(), position.to_string());
    ++ready;
  }
  BOOST_TEST(ready == log.size(PartitionId{1}) + log.size(PartitionId{3}));
  BOOST_TEST(projector->applied_offset(PartitionId{0}).value == 0);
  BOOST_TEST(projector->applied_offset(PartitionId{1}).value == static_cast<int64_t>(log.size(PartitionId{1})));
  BOOST_TEST(projector->metrics().events == ready);
}

BOOST_AUTO_TEST_CASE(run_folds_records_as_they_come_until_stopped) {
  TempDir dir;
  MemoryLog log(partitions);
  generate(log, 3, 2'000);
  ProjectorOptions options = small_batches();
  options.poll_timeout_ms = 20;
  std::atomic<uint64_t> committed{0};
  auto projector = ok(PartitionedProjector::open(dir.sub("views"), partitions, options,
                                                 [&](PartitionId, const CommittedBatch& batch) { committed += batch.events; }));
  ok(projector->start([&log]() -> Result<std::unique_ptr<LogReader>> { return log.reader(); }));
  Running running(*projector);
  // Records appended while it runs reach every partition's views.
  MemoryLog more(partitions);
  generate(more, 3, 4'000);
  std::vector<AppendRequest> tail;
  for (int32_t p = 0; p < partitions; ++p) {
    for (std::size_t i = log.size(PartitionId{p}); i < more.size(PartitionId{p}); ++i) {
      log.append_to(PartitionId{p}, "", more.value({PartitionId{p}, Offset{static_cast<int64_t>(i)}}));
    }
  }
  for (int32_t p = 0; p < partitions; ++p) {
    const LogPosition last{PartitionId{p}, Offset{static_cast<int64_t>(log.size(PartitionId{p})) - 1}};
    BOOST_TEST(projector->wait_until_applied(last, 60'000), last.to_string());
  }
  const Status ran = running.finish();
  BOOST_TEST(ran.is_ok(), ran.to_string());
  BOOST_TEST(committed.load() == testkit::Reference(log).records());
}

BOOST_AUTO_TEST_CASE(a_final_error_in_a_partition_stops_the_run_and_names_the_partition) {
  TempDir dir;
  MemoryLog log(partitions);
  generate(log, 5, 3'000);
  ProjectorOptions options = small_batches();
  options.commit_fault = [] { return MDB_CORRUPTED; };
  auto projector = started(dir.sub("views"), log, options);
  const std::atomic<bool> stop{false};
  const Status ran = projector->run(stop);  // returns although `stop` is never set
  BOOST_REQUIRE(!ran.is_ok());
  BOOST_TEST(ran.message().rfind("partition ", 0) == 0, ran.to_string());
  for (int32_t p = 0; p < partitions; ++p) BOOST_TEST(projector->applied_offset(PartitionId{p}).value == 0);
}

BOOST_AUTO_TEST_CASE(a_directory_of_one_store_or_another_partition_count_is_refused) {
  TempDir dir;
  MemoryLog log(partitions);
  generate(log, 9, 500);
  testkit::project_views(dir.sub("single"), log);
  auto refused = PartitionedProjector::open(dir.sub("single"), partitions, small_batches());
  BOOST_REQUIRE(!refused.is_ok());
  BOOST_TEST((refused.status().code() == Status::Code::invalid_argument));
  BOOST_TEST(refused.status().field() == "data dir");
  BOOST_TEST(refused.status().message().find("move it aside") != std::string::npos, refused.status().to_string());

  drain(*started(dir.sub("parted"), log));
  auto other = PartitionedProjector::open(dir.sub("parted"), partitions * 2, small_batches());
  BOOST_REQUIRE(!other.is_ok());
  BOOST_TEST((other.status().code() == Status::Code::conflict));
  BOOST_TEST(other.status().message().find("4 partitions") != std::string::npos, other.status().to_string());
}

// A consumer group's assignment moves partitions while the projector runs (SPEC §13): a partition
// taken on catches up from its stored offset, one given up stops and keeps what it committed, and
// taken on again resumes there. At the end the views equal one store's fold of the whole log.
BOOST_AUTO_TEST_CASE(partitions_taken_on_and_given_up_while_running_resume_where_they_stopped) {
  TempDir dir;
  MemoryLog log(partitions);
  generate(log, 13, 8'000);
  ProjectorOptions options = small_batches();
  options.poll_timeout_ms = 20;
  auto projector = ok(PartitionedProjector::open(dir.sub("views"), partitions, options, {}, /*none_at_first=*/true));
  BOOST_TEST(projector->partitions().empty());
  ok(projector->start([&log]() -> Result<std::unique_ptr<LogReader>> { return log.reader(); }));
  Running running(*projector);
  const auto caught_up = [&](int32_t p) {
    const LogPosition last{PartitionId{p}, Offset{static_cast<int64_t>(log.size(PartitionId{p})) - 1}};
    return projector->wait_until_applied(last, 60'000);
  };

  ok(projector->add(PartitionId{1}));
  ok(projector->add(PartitionId{3}));
  BOOST_TEST((projector->partitions() == std::vector<int32_t>{1, 3}));
  BOOST_TEST(caught_up(1));
  BOOST_TEST(caught_up(3));
  BOOST_TEST(projector->applied_offset(PartitionId{0}).value == 0);

  // Given up gracefully: not owned any more, its store keeps the committed offset.
  auto one = projector->partition(PartitionId{1});
  projector->remove(PartitionId{1}, true);
  BOOST_TEST(projector->partition(PartitionId{1}) == nullptr);
  BOOST_TEST(projector->applied_offset(PartitionId{1}).value == 0);
  const Offset kept = one->applied_offset(PartitionId{1});
  BOOST_TEST(kept.value == static_cast<int64_t>(log.size(PartitionId{1})));
  // Records arrive while partition 1 is owned by no one here.
  MemoryLog more(partitions);
  generate(more, 13, 12'000);
  for (int32_t p = 0; p < partitions; ++p) {
    for (std::size_t i = log.size(PartitionId{p}); i < more.size(PartitionId{p}); ++i) {
      log.append_to(PartitionId{p}, "", more.value({PartitionId{p}, Offset{static_cast<int64_t>(i)}}));
    }
  }
  BOOST_TEST(caught_up(3));
  BOOST_TEST(one->applied_offset(PartitionId{1}).value == kept.value);  // nothing folded it meanwhile
  one.reset();  // the store closes with its last holder

  // Taken on again (and the others for the first time): every partition reaches the log's end.
  for (int32_t p = 0; p < partitions; ++p) ok(projector->add(PartitionId{p}));
  for (int32_t p = 0; p < partitions; ++p) BOOST_TEST(caught_up(p), p);
  projector->remove(PartitionId{2}, false);  // lost: gives up at once, keeps what it committed
  BOOST_TEST(!projector->wait_until_applied({PartitionId{2}, Offset{0}}, 0));
  ok(projector->add(PartitionId{2}));
  BOOST_TEST(caught_up(2));
  const Status ran = running.finish();
  BOOST_TEST(ran.is_ok(), ran.to_string());
  projector.reset();

  const auto single = ok(testkit::project_views(dir.sub("single"), log)->digests());
  const auto parted = ok(ok(ViewReader::open(dir.sub("views")))->digests());
  for (const auto& [name, digest] : single) BOOST_TEST(parted.at(name).to_hex() == digest.to_hex(), name);
}
