// Crash test: a projector child process over a journal is SIGKILLed at moments chosen by a seeded
// RNG (during open, start, folding, writing, commit, map growth), restarted each time, and at the
// end its views must equal a clean uninterrupted run's, digest for digest: nothing lost, nothing
// applied twice. The seed is printed; TALLY_SEED replays a run.
//
// Size: TALLY_CRASH_EVENTS / TALLY_CRASH_KILLS override the defaults (200k events, 24 kills; the
// soak, the case crash_soak, disabled unless named (ctest crash_soak_test: --run_test=crash_soak),
// uses 1M events and 150 kills).
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <boost/test/unit_test.hpp>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <random>
#include <thread>

#include "log/journal.h"
#include "projections/testkit.h"
#include "projections/view_checks.h"
#include "projections/views.h"
#include "tests/support/temp_dir.h"

using namespace tally;
using testkit::ok;

namespace {

using Clock = std::chrono::steady_clock;

std::size_t env_size(const char* name, std::size_t fallback) {
  const char* value = std::getenv(name);
  return value && *value ? std::strtoull(value, nullptr, 10) : fallback;
}


using test_support::TempDir;

std::string child_path() {
  return (std::filesystem::read_symlink("/proc/self/exe").parent_path() / "projector_child").string();
}

pid_t spawn_child(const std::string& journal, const std::string& data, std::size_t batch_events_max,
                  std::size_t map_size_bytes = std::size_t{1} << 20) {
  const std::string exe = child_path();
  const std::string batch = std::to_string(batch_events_max);
  const std::string map_size = std::to_string(map_size_bytes);
  const pid_t pid = fork();
  BOOST_REQUIRE(pid >= 0);
  if (pid == 0) {
    execl(exe.c_str(), exe.c_str(), journal.c_str(), data.c_str(), batch.c_str(), map_size.c_str(),
          static_cast<char*>(nullptr));
    _exit(127);
  }
  return pid;
}

int wait_child(pid_t pid) {
  int status = 0;
  BOOST_REQUIRE_EQUAL(waitpid(pid, &status, 0), pid);
  return status;
}

// Generates the workload into a new journal, in batches (one durable append each).
void write_journal(const std::string& dir, uint64_t seed, std::size_t events, int32_t partitions) {
  auto journal = ok(Journal::open(dir, journal_options(partitions, 1)));
  auto writer = ok(journal->writer(journal_events_topic));
  testkit::WorkloadOptions options;
  options.seed = seed;
  options.partitions = partitions;
  options.orgs = 200;
  testkit::WorkloadGenerator generator(options);
  std::vector<AppendRequest> batch;
  while (generator.generated() < events) {
    batch.clear();
    generator.generate(std::min<std::size_t>(20'000, events - generator.generated()), batch);
    ok(writer->append(batch));
  }
}

// The reference fold of the whole journal (each partition in offset order).
testkit::Reference fold_journal(const std::string& dir) {
  JournalOptions options;
  options.create_if_missing = false;
  auto journal = ok(Journal::open(dir, options));
  auto reader = ok(journal->reader(journal_events_topic));
  for (int32_t p = 0; p < reader->partition_count(); ++p) ok(reader->seek(PartitionId{p}, Offset{0}));
  testkit::Reference ref;
  std::vector<LogRecord> records;
  for (;;) {
    ok(reader->poll(records, 10'000, 0));
    if (records.empty()) return ref;
    for (const LogRecord& r : records) ref.fold(r, reader->partition_count());
  }
}

void run_crash_test(std::size_t default_events, std::size_t default_kills) {
  const uint64_t seed = testkit::test_seed(std::random_device{}());
  const std::size_t events = env_size("TALLY_CRASH_EVENTS", default_events);
  const std::size_t kills = env_size("TALLY_CRASH_KILLS", default_kills);
  BOOST_TEST_MESSAGE("seed " << seed << " (TALLY_SEED=" << seed << " replays), " << events << " events, " << kills
                             << " kills");
  std::mt19937_64 rng(seed);
  TempDir dir;
  const std::string journal = dir.path() + "/journal";
  const std::string clean = dir.path() + "/clean";
  const std::string crashed = dir.path() + "/crashed";

  auto t0 = Clock::now();
  write_journal(journal, seed, events, 4);
  BOOST_TEST_MESSAGE("journal written in " << std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - t0).count()
                                           << " ms");

  t0 = Clock::now();
  const int clean_status = wait_child(spawn_child(journal, clean, 10'000));
  BOOST_REQUIRE_MESSAGE(WIFEXITED(clean_status) && WEXITSTATUS(clean_status) == 0, "clean run failed");
  const auto clean_us = std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - t0).count();
  BOOST_TEST_MESSAGE("clean run: " << clean_us / 1000 << " ms");

  // Kill moments: uniform in [0, 2 × clean / kills], so the kills spread over the whole log.
  const auto delay_max_us = static_cast<uint64_t>(std::max<int64_t>(2 * clean_us / static_cast<int64_t>(kills), 2'000));
  const std::size_t batch_sizes[] = {137, 1'000, 4'096, 10'000};
  std::size_t landed = 0, finished_early = 0;
  for (std::size_t attempt = 0; landed < kills; ++attempt) {
    BOOST_REQUIRE_MESSAGE(attempt < kills * 20, "kills keep missing the child");
    const std::size_t batch = batch_sizes[rng() % 4];
    const auto delay_us = rng() % delay_max_us;
    const pid_t pid = spawn_child(journal, crashed, batch);
    std::this_thread::sleep_for(std::chrono::microseconds(delay_us));
    kill(pid, SIGKILL);
    const int status = wait_child(pid);
    if (WIFSIGNALED(status)) {
      ++landed;
    } else {
      BOOST_REQUIRE_MESSAGE(WIFEXITED(status) && WEXITSTATUS(status) == 0, "child failed, status " << status);
      ++finished_early;
    }
  }
  BOOST_TEST_MESSAGE(landed << " kills landed, " << finished_early << " runs finished before their kill");
  const int final_status = wait_child(spawn_child(journal, crashed, 10'000));
  BOOST_REQUIRE_MESSAGE(WIFEXITED(final_status) && WEXITSTATUS(final_status) == 0, "final run failed");

  auto clean_views = ok(ViewReader::open(clean));
  auto crashed_views = ok(ViewReader::open(crashed));
  const auto expected = ok(clean_views->digests());
  const auto got = ok(crashed_views->digests());
  for (const auto& [name, digest] : expected) {
    BOOST_CHECK_MESSAGE(got.at(name) == digest, "view " << name << ": " << got.at(name).to_hex() << " after crashes, "
                                                        << digest.to_hex() << " clean");
  }
  BOOST_TEST_MESSAGE("digest of all views: " << expected.at("all").to_hex());
  // The clean run itself against the in-memory fold.
  testkit::check_views(clean, fold_journal(journal));
  const auto stats = ok(crashed_views->stats());
  uint64_t records = 0;
  for (const auto& [outcome, count] : stats.outcomes) records += count;
  const auto partitions = ok(crashed_views->partitions());
  uint64_t consumed = 0;
  for (const PartitionView& p : partitions) consumed += static_cast<uint64_t>(p.next_offset.value);
  BOOST_CHECK_EQUAL(records, consumed);  // every record counted exactly once
}

}  // namespace

BOOST_AUTO_TEST_CASE(kill_anywhere_loses_nothing_and_applies_nothing_twice) { run_crash_test(200'000, 24); }

// The soak (ctest -L soak, crash_soak_test): the same, longer. Runs only when named.
BOOST_AUTO_TEST_CASE(crash_soak, *boost::unit_test::disabled()) { run_crash_test(1'000'000, 150); }

// A ViewReader in this process keeps reading while a projector in another process grows the map
// from 64 KiB many times (MDB_MAP_RESIZED on the reader's side).
BOOST_AUTO_TEST_CASE(readers_in_another_process_follow_a_growing_map) {
  TempDir dir;
  const std::string journal = dir.path() + "/journal";
  const std::string data = dir.path() + "/views";
  write_journal(journal, 5, 30'000, 2);
  const pid_t pid = spawn_child(journal, data, 500, std::size_t{64} << 10);
  std::unique_ptr<ViewReader> views;
  std::size_t reads = 0;
  int status = 0;
  for (;;) {
    const pid_t done = waitpid(pid, &status, WNOHANG);
    if (!views) {
      auto opened = ViewReader::open(data);  // not_found until the child has created the store
      if (opened.is_ok()) views = std::move(opened.value());
    }
    if (views) {
      ok(views->partitions());
      ok(views->org_ids());
      ok(views->digests());
      ++reads;
    }
    if (done == pid) break;
  }
  BOOST_REQUIRE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  BOOST_TEST_MESSAGE(reads << " reads while the projector ran");
  BOOST_CHECK_GT(reads, 3u);
  BOOST_REQUIRE(views);
  testkit::check_views(data, fold_journal(journal));
}
