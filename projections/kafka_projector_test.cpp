// The projector over the Kafka log, on librdkafka's mock cluster: a mixed workload produced into 4
// partitions while produce requests fail and a broker goes down, projected while fetches fail and
// with a restart in the middle; the views must equal the in-memory fold of what the topic holds.
// Kept small: the mock keeps only ~5 MiB per partition (SPEC §1).
#include <boost/test/unit_test.hpp>
#include <chrono>
#include <filesystem>
#include <thread>

#include "log/kafka_log.h"
#include "log/kafka_testing.h"
#include "projections/projector.h"
#include "projections/testkit.h"
#include "projections/view_checks.h"
#include "tests/support/temp_dir.h"

using namespace tally;
using testkit::ok;

namespace {

constexpr int32_t partitions = 4;
constexpr std::size_t events = 16'000;  // ~1.5 MiB per partition: well inside the mock's retention

using test_support::TempDir;

KafkaOptions cluster_options(const MockKafkaCluster& mock) {
  KafkaOptions options;
  options.brokers = mock.bootstraps();
  options.timeout_ms = 5000;
  options.properties = {{"reconnect.backoff.ms", "20"}, {"reconnect.backoff.max.ms", "200"},
                        {"retry.backoff.ms", "20"}, {"message.timeout.ms", "60000"}};
  options.on_client_error = [](std::string_view) {};  // injected failures are expected here
  return options;
}

// The reference fold of everything the topic holds (each partition in offset order).
testkit::Reference fold_topic(LogReader& reader, uint64_t& records) {
  records = 0;
  for (int32_t p = 0; p < reader.partition_count(); ++p) {
    ok(reader.seek(PartitionId{p}, Offset{0}));
    records += static_cast<uint64_t>(ok(reader.end_offset(PartitionId{p})).value);
  }
  testkit::Reference ref;
  std::vector<LogRecord> out;
  for (uint64_t seen = 0; seen < records;) {
    ok(reader.poll(out, 5'000, 1'000));
    for (const LogRecord& r : out) ref.fold(r, reader.partition_count());
    seen += out.size();
  }
  return ref;
}

bool caught_up(const Projector& projector, LogReader& reader) {
  for (int32_t p = 0; p < reader.partition_count(); ++p) {
    if (projector.applied_offset(PartitionId{p}) < ok(reader.end_offset(PartitionId{p}))) return false;
  }
  return true;
}

}  // namespace

BOOST_AUTO_TEST_CASE(projects_the_kafka_log_exactly_once_through_broker_errors) {
  const uint64_t seed = testkit::printed_seed(424242);
  auto mock = ok(MockKafkaCluster::create(3));
  const KafkaOptions options = cluster_options(*mock);
  const std::string topic = kafka_topic(options, kafka_events_kind);
  ok(mock->create_topic(topic, partitions, 3));

  // Produce in batches, with produce errors and a broker outage on the way.
  {
    auto writer = ok(KafkaWriter::open(options, topic));
    testkit::WorkloadOptions workload;
    workload.seed = seed;
    workload.partitions = partitions;
    testkit::WorkloadGenerator generator(workload);
    std::vector<AppendRequest> batch;
    for (int b = 0; generator.generated() < events; ++b) {
      batch.clear();
      generator.generate(1'000, batch);
      if (b % 4 == 1) mock->fail_next_produce_requests(6);
      std::thread outage;
      Status broker_up;
      if (b == 6) {  // a broker goes down while this batch is in flight, and comes back
        ok(mock->set_broker_down(2));
        outage = std::thread([&] {
          std::this_thread::sleep_for(std::chrono::milliseconds(500));
          broker_up = mock->set_broker_up(2);  // Boost.Test checks stay on the main thread
        });
      }
      auto appended = writer->append(batch);
      if (outage.joinable()) outage.join();
      ok(broker_up);
      // A failed append may have appended part of the batch: the retry's duplicates are harmless.
      for (int retry = 0; !appended.is_ok() && retry < 5; ++retry) appended = writer->append(batch);
      ok(appended.status().is_ok() ? Status::ok() : appended.status());
    }
  }

  TempDir dir;
  ProjectorOptions projector_options;
  projector_options.batch_events_max = 1'500;
  projector_options.run_batches_max = 1;  // broker faults between batches, round by round
  projector_options.poll_timeout_ms = 200;
  std::size_t folded = 0;
  {  // First run: fetch errors, a broker down, then stop half-way.
    auto projector = ok(Projector::open(dir.path(), projector_options));
    auto reader = ok(KafkaReader::open(options, topic));
    ok(projector->start(*reader));
    mock->push_request_errors(1, {6, 7, -195, 6});  // Fetch: not leader, timed out, disconnect
    for (int round = 0; folded < events / 2; ++round) {
      BOOST_REQUIRE_LT(round, 10'000);
      if (round == 3) ok(mock->set_broker_down(3));
      if (round == 6) ok(mock->set_broker_up(3));
      folded += ok(projector->run_once(*reader));
    }
  }
  {  // Restart: resumes from the offsets in LMDB, not from Kafka.
    auto projector = ok(Projector::open(dir.path(), projector_options));
    auto reader = ok(KafkaReader::open(options, topic));
    ok(projector->start(*reader));
    mock->push_request_errors(1, {-195, 7});
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(120);
    while (!caught_up(*projector, *reader)) {
      BOOST_REQUIRE(std::chrono::steady_clock::now() < deadline);
      ok(projector->run_once(*reader));
    }
  }

  auto reader = ok(KafkaReader::open(options, topic));
  uint64_t records = 0;
  const testkit::Reference ref = fold_topic(*reader, records);
  BOOST_TEST_MESSAGE(records << " records in the topic");
  BOOST_CHECK_GE(records, events);
  BOOST_CHECK_EQUAL(ref.records(), records);
  testkit::check_views(dir.path(), ref);

  // The same topic projected in one go gives the same digests.
  TempDir again;
  {
    auto projector = ok(Projector::open(again.path(), projector_options));
    auto one_reader = ok(KafkaReader::open(options, topic));
    ok(projector->start(*one_reader));
    while (!caught_up(*projector, *one_reader)) ok(projector->run_once(*one_reader));
  }
  auto a = ok(ok(ViewReader::open(dir.path()))->digests());
  auto b = ok(ok(ViewReader::open(again.path()))->digests());
  BOOST_CHECK(a == b);
}
