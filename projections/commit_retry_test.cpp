// A failed write on commit (disk full, I/O error) pauses the projector (SPEC §10): the same batch is
// put again after a backoff, never skipped and never twice; health() says degraded meanwhile and
// the views stay readable; request_stop() ends the retries; LMDB's own errors stay final
// (projector_test: an_injected_lmdb_error_is_final_for_the_projector).
#include <boost/test/unit_test.hpp>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstring>
#include <filesystem>
#include <mutex>
#include <thread>

#include "projections/projector.h"
#include "projections/testkit.h"
#include "projections/view_checks.h"
#include "projections/views.h"
#include "tests/support/temp_dir.h"

using namespace tally;
using testkit::MemoryLog;
using testkit::drain;
using testkit::ok;

namespace {

constexpr auto deadline = std::chrono::seconds(60);

using test_support::TempDir;

void fill(MemoryLog& log, uint64_t seed, std::size_t events) {
  testkit::WorkloadOptions options;
  options.seed = seed;
  options.partitions = log.partitions();
  options.orgs = 20;
  testkit::WorkloadGenerator generator(options);
  std::vector<AppendRequest> requests;
  generator.generate(events, requests);
  log.append_all(requests);
}

ProjectorOptions options_with_fault(std::function<int()> fault) {
  ProjectorOptions options;
  options.batch_events_max = 500;
  options.run_batches_max = 1;  // one batch per run_once: the failing one is the only one in flight
  options.poll_timeout_ms = 0;
  options.map_size_bytes = std::size_t{32} << 20;
  options.commit_retry_initial_ms = 1;
  options.commit_retry_max_ms = 4;
  options.commit_fault = std::move(fault);
  return options;
}

// What the test saw from inside the failing attempts (the writer thread).
struct Seen {
  bool degraded = false;
  std::string reason;
  uint64_t failed_attempts = 0;
  int64_t balance_total = -1;  // of every org, read from the views while the commit was failing
  std::size_t committed = 0;
};

int64_t balance_total(ViewReader& views) {
  int64_t total = 0;
  for (const OrgId& id : ok(views.org_ids())) total += ok(views.org(id)).value().state.balance_micros.value();
  return total;
}

void check_retried_then_landed_once(int error) {
  TempDir dir;
  MemoryLog log(3);
  fill(log, 7, 3'000);
  std::atomic<int> attempts{0};
  Projector* running = nullptr;
  Seen seen;
  // Attempts 3..7 fail (the third batch, five times); at the fifth failure, look from outside.
  ProjectorOptions options = options_with_fault([&]() -> int {
    const int attempt = ++attempts;
    if (attempt == 7) {
      const ProjectorHealth health = running->health();
      seen.degraded = health.degraded;
      seen.reason = health.reason;
      seen.failed_attempts = health.failed_attempts;
      seen.committed = static_cast<std::size_t>(running->metrics().batches);
      auto views = ok(ViewReader::open(dir.sub("views")));  // readers are never blocked
      seen.balance_total = balance_total(*views);
    }
    return attempt >= 3 && attempt <= 7 ? error : 0;
  });
  auto projector = ok(Projector::open(dir.sub("views"), options));
  running = projector.get();
  auto reader = log.reader();
  ok(projector->start(*reader));
  const std::size_t records = drain(*projector, *reader);

  BOOST_TEST(seen.degraded);
  BOOST_TEST(seen.failed_attempts == 4u);  // attempts 3..6 had failed when attempt 7 began
  BOOST_TEST(seen.reason.find("commit_fault (injected): ") == 0u, seen.reason);
  BOOST_TEST(seen.reason.find(std::strerror(error)) != std::string::npos, seen.reason);
  BOOST_TEST(seen.committed == 2u);
  BOOST_TEST(seen.balance_total >= 0);  // the views answered, as of the last committed batch
  // Resumed: not degraded, every record folded exactly once, the retries counted.
  const ProjectorHealth after = projector->health();
  BOOST_TEST(!after.degraded);
  BOOST_TEST(after.reason.empty());
  const ProjectorMetrics metrics = projector->metrics();
  BOOST_TEST(metrics.commit_retries == 5u);
  const testkit::Reference ref(log);
  BOOST_TEST(records == ref.records());
  BOOST_TEST(metrics.events == ref.records());
  projector.reset();
  testkit::check_views(dir.sub("views"), ref);
}

}  // namespace

BOOST_AUTO_TEST_CASE(a_full_disk_pauses_the_projector_which_retries_the_same_batch) {
  check_retried_then_landed_once(ENOSPC);
}

BOOST_AUTO_TEST_CASE(an_io_error_pauses_the_projector_which_retries_the_same_batch) {
  check_retried_then_landed_once(EIO);
}

BOOST_AUTO_TEST_CASE(request_stop_ends_the_retries_and_a_restart_loses_nothing) {
  TempDir dir;
  MemoryLog log(2);
  fill(log, 11, 1'500);
  std::mutex mutex;
  std::condition_variable failed;
  int failures = 0;
  std::atomic<int> attempts{0};
  ProjectorOptions options = options_with_fault([&]() -> int {
    if (++attempts < 2) return 0;  // one batch lands, then the disk stays full
    std::lock_guard lock(mutex);
    ++failures;
    failed.notify_all();
    return ENOSPC;
  });
  options.run_batches_max = 16;
  auto projector = ok(Projector::open(dir.sub("views"), options));
  auto reader = log.reader();
  std::atomic<bool> stop{false};
  Status result = Status::error(Status::Code::unavailable, "not run");
  std::thread runner([&] { result = projector->run(*reader, stop); });
  {
    std::unique_lock lock(mutex);
    BOOST_REQUIRE(failed.wait_for(lock, deadline, [&] { return failures >= 3; }));
  }
  BOOST_TEST(projector->health().degraded);
  stop = true;
  projector->request_stop();
  runner.join();
  BOOST_TEST(result.is_ok(), result.to_string());
  BOOST_TEST(projector->metrics().batches == 1u);
  projector.reset();

  // The next start folds what was not committed: nothing acknowledged is lost.
  auto healthy = ok(Projector::open(dir.sub("views"), options_with_fault({})));
  auto again = log.reader();
  ok(healthy->start(*again));
  drain(*healthy, *again);
  healthy.reset();
  testkit::check_views(dir.sub("views"), testkit::Reference(log));
}
