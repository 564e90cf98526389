// Replay: the same log gives the same report every time, equal to the live views, and the
// progress a person sees while it runs.
#include <stdio.h>

#include <boost/test/unit_test.hpp>
#include <cstdlib>
#include <fstream>
#include <iostream>

#include "audit/audit_testkit.h"
#include "audit/progress.h"
#include "audit/replay.h"
#include "log/kafka_log.h"
#include "log/kafka_testing.h"
#include "projections/views.h"

using namespace tally;
using namespace tally::audit;
using namespace tally::audit::testing;

namespace {

uint64_t seed_of(const char* test, uint64_t fallback) {
  const uint64_t seed = testkit::test_seed(fallback);
  std::cout << test << ": seed " << seed << " (rerun with TALLY_SEED=" << seed << ")\n";
  return seed;
}

ReplayOptions small_batches() {
  ReplayOptions options;
  options.batch_events_max = 4'093;
  options.map_size_bytes = std::size_t{64} << 20;
  return options;
}

}  // namespace

BOOST_AUTO_TEST_CASE(replaying_the_same_log_twice_gives_identical_reports) {
  const uint64_t seed = seed_of("replay_twice", 11);
  TempDir dir;
  auto journal = open_journal(dir.sub("journal"), 4);
  write_workload(*journal, seed, 20'000, 4);
  auto reader = ok(journal->reader(journal_events_topic));
  const ReplayResult first = ok(replay(*reader, dir.sub("a"), small_batches()));
  ReplayOptions other = small_batches();
  other.batch_events_max = 50'000;  // other batch boundaries must not matter
  const ReplayResult second = ok(replay(*reader, dir.sub("b"), other));

  BOOST_TEST(first.events > 20'000u);  // rate cards and ticks are written once per partition
  BOOST_TEST(first.events == second.events);
  const std::string report = format_replay_report(first);
  BOOST_TEST(report == format_replay_report(second));
  BOOST_TEST(first.digests.at("all") == second.digests.at("all"));
  // The report's last line is the digest of all views.
  const std::string last_line = "digest " + first.digests.at("all").to_hex() + "\n";
  BOOST_TEST(report.size() > last_line.size());
  BOOST_TEST(report.substr(report.size() - last_line.size()) == last_line);
  BOOST_TEST(report.find("partition 3 next_offset") != std::string::npos);
  BOOST_TEST(report.find("view history ") != std::string::npos);
  uint64_t records = 0;
  for (const PartitionView& p : first.partitions) {
    BOOST_TEST(p.next_offset.value == static_cast<int64_t>(p.records));
    records += p.records;
  }
  BOOST_TEST(records == first.events);
}

BOOST_AUTO_TEST_CASE(progress_is_reported_after_every_committed_batch) {
  TempDir dir;
  auto journal = open_journal(dir.sub("journal"), 2);
  write_workload(*journal, 5, 6'000, 2);
  auto reader = ok(journal->reader(journal_events_topic));
  ReplayOptions options = small_batches();
  options.batch_events_max = 500;
  std::vector<uint64_t> done;
  options.on_progress = [&](const ReplayProgress& p) { done.push_back(p.events_done); };
  const ReplayResult result = ok(replay(*reader, dir.sub("views"), options));
  // One report per batch of at most 500 records (the projector commits several per call), then
  // the final one.
  BOOST_TEST(done.size() >= result.events / 500 + 1);
  for (std::size_t i = 1; i < done.size(); ++i) {
    BOOST_TEST(done[i] >= done[i - 1]);
    BOOST_TEST(done[i] - done[i - 1] <= 500u);
  }
  BOOST_TEST(done.back() == result.events);
}

BOOST_AUTO_TEST_CASE(replay_equals_the_live_views_after_duplicates_conflicts_rejects_and_refills) {
  const uint64_t seed = seed_of("replay_vs_live", 12);
  TempDir dir;
  auto journal = open_journal(dir.sub("journal"), 4);
  write_workload(*journal, seed, 30'000, 4, 25);
  project_live(*journal, dir.sub("live"));
  auto live = ok(ViewReader::open(dir.sub("live")));

  // The workload really has every kind of outcome and answered refills.
  const ProjectionStats stats = ok(live->stats());
  BOOST_TEST(stats.outcomes.at("duplicate") > 0u);
  BOOST_TEST(stats.outcomes.at("conflict") > 0u);
  BOOST_TEST(stats.outcomes.at("rejected") > 0u);
  std::size_t refills = 0;
  for (const OrgId& org : ok(live->org_ids())) {
    HistoryQuery query;
    query.org_id = org;
    query.type = "auto_refill";
    query.limit = 1000;
    refills += ok(live->history(query)).entries.size();
  }
  BOOST_TEST(refills > 0u);

  auto reader = ok(journal->reader(journal_events_topic));
  const ReplayResult replayed = ok(replay(*reader, dir.sub("replay"), small_batches()));
  const auto live_digests = ok(live->digests());
  for (const auto& [name, digest] : replayed.digests) {
    BOOST_TEST_CONTEXT("view " << name) { BOOST_TEST((live_digests.at(name) == digest)); }
  }
  const auto live_partitions = ok(live->partitions());
  BOOST_REQUIRE(live_partitions.size() == replayed.partitions.size());
  for (std::size_t p = 0; p < live_partitions.size(); ++p) {
    BOOST_TEST((live_partitions[p].chain == replayed.partitions[p].chain));
    BOOST_TEST(live_partitions[p].records == replayed.partitions[p].records);
  }
}

BOOST_AUTO_TEST_CASE(replay_refuses_a_directory_that_is_not_empty) {
  TempDir dir;
  auto journal = open_journal(dir.sub("journal"), 2);
  write_workload(*journal, 3, 100, 2);
  std::filesystem::create_directories(dir.sub("used"));
  std::ofstream(dir.sub("used/something")) << "x";
  auto reader = ok(journal->reader(journal_events_topic));
  auto result = replay(*reader, dir.sub("used"), small_batches());
  BOOST_REQUIRE(!result.is_ok());
  BOOST_TEST((result.status().code() == Status::Code::invalid_argument));
  BOOST_TEST(result.status().field() == "into");
  BOOST_TEST(result.status().message().find("not empty") != std::string::npos);
  BOOST_TEST(std::filesystem::exists(dir.sub("used/something")));  // untouched
  // A file is refused too; an empty directory is fine.
  BOOST_TEST(!check_empty_dir(dir.sub("used/something")).is_ok());
  std::filesystem::create_directories(dir.sub("empty"));
  BOOST_TEST(check_empty_dir(dir.sub("empty")).is_ok());
  BOOST_TEST(check_empty_dir(dir.sub("missing")).is_ok());
}

BOOST_AUTO_TEST_CASE(replay_stops_at_the_end_offsets_it_is_given) {
  TempDir dir;
  auto journal = open_journal(dir.sub("journal"), 2);
  write_workload(*journal, 5, 2'000, 2);
  auto reader = ok(journal->reader(journal_events_topic));
  ReplayOptions options = small_batches();
  options.end_offsets = {Offset{100}, Offset{7}};
  const ReplayResult result = ok(replay(*reader, dir.sub("a"), options));
  BOOST_TEST(result.partitions[0].next_offset.value == 100);
  BOOST_TEST(result.partitions[1].next_offset.value == 7);
  BOOST_TEST(result.events == 107u);
  options.end_offsets = {Offset{1}, Offset{1}, Offset{1}};
  BOOST_TEST(!replay(*reader, dir.sub("b"), options).is_ok());  // more partitions than the log
}

BOOST_AUTO_TEST_CASE(progress_reports_events_per_second_and_eta) {
  ReplayProgress p;
  p.events_done = 500'000;
  p.events_total = 2'000'000;
  p.elapsed_s = 0.5;
  const std::string bar = format_progress_bar(p, 20);
  BOOST_TEST(bar.find("[#####---------------]") == 0u);
  BOOST_TEST(bar.find("25.0%") != std::string::npos);
  BOOST_TEST(bar.find("500000/2000000 events") != std::string::npos);
  BOOST_TEST(bar.find("1000000 events/s") != std::string::npos);
  BOOST_TEST(bar.find("ETA 0:02") != std::string::npos);
  const std::string line = format_progress_line(p);
  BOOST_TEST(line == "replay: 500000 of 2000000 events (25.0%), 1000000 events/s, ETA 2 s");
  p.events_done = 0;
  p.elapsed_s = 0;
  BOOST_TEST(format_progress_line(p).find("ETA unknown") != std::string::npos);
  p.events_total = 0;
  BOOST_TEST(format_progress_bar(p, 4).find("[####] 100.0%") == 0u);

  // On a terminal the bar is redrawn in place; otherwise whole lines.
  for (const bool terminal : {true, false}) {
    char* text = nullptr;
    std::size_t size = 0;
    FILE* out = open_memstream(&text, &size);
    BOOST_REQUIRE(out != nullptr);
    ProgressReporter reporter(out, terminal);
    ReplayProgress q{10, 20, 1.0};
    reporter.update(q);
    reporter.update(q);  // within the interval: not printed again
    q.events_done = 20;
    reporter.finish(q);
    std::fclose(out);
    const std::string printed(text, size);
    std::free(text);
    if (terminal) {
      BOOST_TEST(printed.find('\r') == 0u);
      BOOST_TEST(std::count(printed.begin(), printed.end(), '\r') == 2);
      BOOST_TEST(printed.back() == '\n');
    } else {
      BOOST_TEST(printed.find('\r') == std::string::npos);
      BOOST_TEST(std::count(printed.begin(), printed.end(), '\n') == 2);
    }
  }
  // A plain line that already said "done" is not repeated by finish().
  char* text = nullptr;
  std::size_t size = 0;
  FILE* out = open_memstream(&text, &size);
  BOOST_REQUIRE(out != nullptr);
  ProgressReporter reporter(out, false);
  reporter.update(ReplayProgress{20, 20, 1.0});
  reporter.finish(ReplayProgress{20, 20, 1.0});
  std::fclose(out);
  BOOST_TEST(std::count(text, text + size, '\n') == 1);
  std::free(text);
}

// The same records in Kafka and in the journal fold to the same views: the digests name the
// ledger, not the log it was read from. Only the hash chains differ ("partitions", "chain" and so
// "all"): they cover each log's own append times (SPEC §10), and the two logs stamped the records
// at different times.
BOOST_AUTO_TEST_CASE(a_kafka_log_replays_to_the_same_digest_as_the_journal) {
  TempDir dir;
  auto cluster = ok(MockKafkaCluster::create(1));
  ok(cluster->create_topic("tally.events", 2, 1));
  KafkaOptions options;
  options.brokers = cluster->bootstraps();
  auto journal = open_journal(dir.sub("journal"), 2);
  testkit::WorkloadOptions workload;
  workload.seed = 21;
  workload.partitions = 2;
  workload.orgs = 10;
  testkit::WorkloadGenerator generator(workload);
  std::vector<AppendRequest> records;
  generator.generate(2'000, records);
  ok(ok(journal->writer(journal_events_topic))->append(records));
  {
    auto writer = ok(KafkaWriter::open(options, "tally.events"));
    ok(writer->append(records));
  }
  auto journal_reader = ok(journal->reader(journal_events_topic));
  const ReplayResult from_journal = ok(replay(*journal_reader, dir.sub("j"), small_batches()));
  std::unique_ptr<LogReader> kafka_reader = ok(KafkaReader::open(options, "tally.events"));
  const ReplayResult from_kafka = ok(replay(*kafka_reader, dir.sub("k"), small_batches()));
  kafka_reader.reset();
  BOOST_TEST(from_kafka.events == from_journal.events);
  BOOST_REQUIRE(from_kafka.digests.size() == from_journal.digests.size());
  for (const auto& [name, digest] : from_journal.digests) {
    if (name == "partitions" || name == "chain" || name == "all") continue;
    BOOST_TEST(from_kafka.digests.at(name) == digest, "view " << name);
  }
  BOOST_REQUIRE(from_kafka.partitions.size() == from_journal.partitions.size());
  for (std::size_t p = 0; p < from_journal.partitions.size(); ++p) {
    BOOST_TEST(from_kafka.partitions[p].records == from_journal.partitions[p].records);
    BOOST_TEST(from_kafka.partitions[p].clock_ms == from_journal.partitions[p].clock_ms);
    BOOST_TEST(!(from_kafka.partitions[p].chain == from_journal.partitions[p].chain));
  }
}
