#include <boost/test/unit_test.hpp>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <map>
#include <mutex>
#include <ostream>
#include <thread>

#include "engine/limits.h"
#include "engine/partitioner.h"
#include "log/kafka_log.h"
#include "log/kafka_testing.h"

namespace tally {

std::ostream& operator<<(std::ostream& out, Status::Code code) { return out << static_cast<int>(code); }

namespace {

using Clock = std::chrono::steady_clock;
constexpr int32_t partitions = 4;
constexpr auto read_deadline = std::chrono::seconds(60);

// Counts transient client errors and lets a test wait for the first one.
class ClientErrors {
 public:
  void record(std::string_view message) {
    std::lock_guard lock(mutex_);
    ++count_;
    last_ = std::string(message);
    all_.push_back(last_);
    changed_.notify_all();
  }
  // True if a message holding `text` was recorded.
  bool saw(std::string_view text) {
    std::lock_guard lock(mutex_);
    for (const std::string& message : all_) {
      if (message.find(text) != std::string::npos) return true;
    }
    return false;
  }
  // True if an error arrived before `deadline`.
  bool wait_for_one(std::chrono::seconds deadline) {
    std::unique_lock lock(mutex_);
    const std::size_t seen = count_;
    return changed_.wait_for(lock, deadline, [&] { return count_ > seen; });
  }

 private:
  std::mutex mutex_;
  std::condition_variable changed_;
  std::size_t count_ = 0;
  std::string last_;
  std::vector<std::string> all_;
};

struct Cluster {
  Cluster() {
    auto created = MockKafkaCluster::create(3);
    BOOST_REQUIRE_MESSAGE(created.is_ok(), created.status().to_string());
    mock = std::move(created.value());
    options.brokers = mock->bootstraps();
    options.timeout_ms = 5000;
    // Reconnect quickly after a broker comes back, so the test does not wait on backoff.
    options.properties = {{"reconnect.backoff.ms", "20"}, {"reconnect.backoff.max.ms", "200"},
                          {"retry.backoff.ms", "20"}, {"message.timeout.ms", "60000"}};
    options.on_client_error = [this](std::string_view message) { errors.record(message); };
    topic = kafka_topic(options, kafka_events_kind);
    BOOST_REQUIRE(mock->create_topic(topic, partitions, 3).is_ok());
  }
  std::unique_ptr<MockKafkaCluster> mock;
  KafkaOptions options;
  std::string topic;
  ClientErrors errors;
};

struct Copied {
  LogPosition position;
  std::string key;
  std::string value;
};

std::vector<Copied> read_all(LogReader& reader, std::size_t expected) {
  for (int32_t p = 0; p < reader.partition_count(); ++p) BOOST_REQUIRE(reader.seek(PartitionId{p}, Offset{0}).is_ok());
  std::vector<Copied> all;
  std::vector<LogRecord> batch;
  const auto deadline = Clock::now() + read_deadline;
  while (all.size() < expected && Clock::now() < deadline) {
    Status polled = reader.poll(batch, 500, 200);
    BOOST_REQUIRE_MESSAGE(polled.is_ok(), polled.to_string());
    for (const LogRecord& r : batch) all.push_back(Copied{r.position, std::string(r.key), std::string(r.value)});
  }
  return all;
}

// A mixed batch: keyed records over 23 orgs and, every 40 records, one global record.
std::vector<AppendRequest> mixed_batch(int batch_index, int size) {
  std::vector<AppendRequest> batch;
  for (int i = 0; i < size; ++i) {
    const std::string id = std::to_string(batch_index) + "." + std::to_string(i);
    if (i % 40 == 39) {
      batch.push_back(AppendRequest{"", "global-" + id, true});
    } else {
      batch.push_back(AppendRequest{"org-" + std::to_string((batch_index * 7 + i) % 23), "event-" + id, false});
    }
  }
  return batch;
}

BOOST_AUTO_TEST_CASE(mixed_workload_with_injected_errors_lands_exactly_once_on_the_key_partition) {
  Cluster cluster;
  BOOST_REQUIRE(check_topic(cluster.options, cluster.topic, partitions).is_ok());
  auto opened = KafkaWriter::open(cluster.options, cluster.topic);
  BOOST_REQUIRE_MESSAGE(opened.is_ok(), opened.status().to_string());
  KafkaWriter& writer = *opened.value();
  BOOST_TEST(writer.partition_count() == partitions);

  std::map<std::string, std::vector<LogPosition>> appended;  // value -> positions
  std::map<std::string, std::string> key_of;
  auto append = [&](int batch_index) {
    const auto batch = mixed_batch(batch_index, 80);
    auto positions = writer.append(batch);
    BOOST_REQUIRE_MESSAGE(positions.is_ok(), positions.status().to_string());
    std::size_t at = 0;
    for (const AppendRequest& record : batch) {
      const std::size_t count = record.to_every_partition ? partitions : 1;
      for (std::size_t i = 0; i < count; ++i) appended[record.value].push_back(positions.value()[at++]);
      key_of[record.value] = record.key;
    }
    BOOST_REQUIRE_EQUAL(at, positions->size());
  };

  // Produce requests fail with retriable errors and disconnects.
  cluster.mock->fail_next_produce_requests(8);
  for (int b = 0; b < 5; ++b) append(b);

  // A broker goes down while a batch is in flight, and comes back.
  BOOST_REQUIRE(cluster.mock->set_broker_down(1).is_ok());
  std::atomic<bool> done{false};
  std::thread in_flight([&] {
    append(5);
    append(6);
    done = true;
  });
  // Wait (bounded) until the client has noticed the broker is gone, then bring it back.
  const bool noticed = cluster.errors.wait_for_one(std::chrono::seconds(10));
  BOOST_TEST_MESSAGE("client noticed the broker down: " << noticed << ", batch done meanwhile: " << done.load());
  BOOST_REQUIRE(cluster.mock->set_broker_up(1).is_ok());
  in_flight.join();
  cluster.mock->fail_next_produce_requests(4);
  append(7);

  std::size_t total = 0;
  for (const auto& [value, positions] : appended) total += positions.size();
  auto reader = KafkaReader::open(cluster.options, cluster.topic);
  BOOST_REQUIRE_MESSAGE(reader.is_ok(), reader.status().to_string());
  BOOST_TEST(reader.value()->identity().starts_with("kafka:"));
  BOOST_TEST(reader.value()->identity().ends_with("/" + cluster.topic));
  const auto read = read_all(*reader.value(), total);
  BOOST_REQUIRE_EQUAL(read.size(), total);

  std::map<std::string, std::vector<LogPosition>> seen;
  std::map<int32_t, int64_t> per_partition;
  for (const Copied& record : read) {
    seen[record.value].push_back(record.position);
    ++per_partition[record.position.partition.value];
    BOOST_REQUIRE(key_of.count(record.value) == 1);
    BOOST_TEST(record.key == key_of[record.value]);
    if (!record.key.empty()) BOOST_TEST(record.position.partition.value == partition_for_key(record.key, partitions));
  }
  BOOST_TEST(seen.size() == appended.size());
  for (auto& [value, positions] : appended) {
    auto& read_positions = seen[value];
    std::sort(read_positions.begin(), read_positions.end());
    std::sort(positions.begin(), positions.end());
    BOOST_TEST((read_positions == positions), value << " read at other positions, or not exactly once");
  }
  for (int32_t p = 0; p < partitions; ++p) {
    auto end = reader.value()->end_offset(PartitionId{p});
    BOOST_REQUIRE_MESSAGE(end.is_ok(), end.status().to_string());
    BOOST_TEST(end->value == per_partition[p]);  // nothing else in the partition: no duplicates
  }
}

BOOST_AUTO_TEST_CASE(reader_reads_from_the_offset_it_is_given) {
  Cluster cluster;
  auto writer = KafkaWriter::open(cluster.options, cluster.topic);
  BOOST_REQUIRE(writer.is_ok());
  std::vector<AppendRequest> batch;
  for (int i = 0; i < 30; ++i) batch.push_back(AppendRequest{"org-same", "v" + std::to_string(i), false});
  auto positions = writer.value()->append(batch);
  BOOST_REQUIRE(positions.is_ok());
  const PartitionId partition = positions.value()[0].partition;
  for (int i = 0; i < 30; ++i) BOOST_TEST(positions.value()[static_cast<std::size_t>(i)].offset.value == i);

  auto reader = KafkaReader::open(cluster.options, cluster.topic);
  BOOST_REQUIRE(reader.is_ok());
  std::vector<LogRecord> out;
  BOOST_REQUIRE(reader.value()->poll(out, 10, 50).is_ok());  // nothing seeked: nothing read
  BOOST_TEST(out.empty());
  BOOST_REQUIRE(reader.value()->seek(partition, Offset{25}).is_ok());
  std::vector<std::string> values;
  const auto deadline = Clock::now() + read_deadline;
  while (values.size() < 5 && Clock::now() < deadline) {
    BOOST_REQUIRE(reader.value()->poll(out, 10, 200).is_ok());
    for (const auto& r : out) values.emplace_back(r.value);
  }
  BOOST_TEST(values == (std::vector<std::string>{"v25", "v26", "v27", "v28", "v29"}));
  BOOST_REQUIRE(reader.value()->poll(out, 10, 50).is_ok());
  BOOST_TEST(out.empty());
  BOOST_TEST(reader.value()->seek(PartitionId{partitions}, Offset{0}).code() == Status::Code::invalid_argument);

  // An offset past the end is an error, never a silent jump (auto.offset.reset=error).
  BOOST_REQUIRE(reader.value()->seek(partition, Offset{1000}).is_ok());
  Status status = Status::ok();
  const auto error_deadline = Clock::now() + read_deadline;
  while (status.is_ok() && Clock::now() < error_deadline) status = reader.value()->poll(out, 10, 200);
  BOOST_TEST(status.code() == Status::Code::not_found);
  BOOST_TEST_MESSAGE(status.to_string());
}

// The append time of a Kafka record is its timestamp (SPEC §3). The mock cluster's topics have
// CreateTime timestamps (the producer's clock), which the reader says, asking for LogAppendTime.
BOOST_AUTO_TEST_CASE(records_carry_the_kafka_timestamp_and_its_type_is_reported) {
  Cluster cluster;
  auto writer = KafkaWriter::open(cluster.options, cluster.topic);
  BOOST_REQUIRE(writer.is_ok());
  const auto unix_ms = [] {
    return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
        .count();
  };
  const int64_t before = unix_ms();
  std::vector<AppendRequest> batch;
  for (int i = 0; i < 5; ++i) batch.push_back(AppendRequest{"org-time", "t" + std::to_string(i), false});
  auto positions = writer.value()->append(batch);
  BOOST_REQUIRE(positions.is_ok());
  const int64_t after = unix_ms();

  auto reader = KafkaReader::open(cluster.options, cluster.topic);
  BOOST_REQUIRE(reader.is_ok());
  BOOST_TEST(reader.value()->timestamp_type().empty());  // nothing read yet
  BOOST_REQUIRE(reader.value()->seek(positions.value()[0].partition, Offset{0}).is_ok());
  std::vector<int64_t> stamps;
  std::vector<LogRecord> out;
  const auto deadline = Clock::now() + read_deadline;
  while (stamps.size() < 5 && Clock::now() < deadline) {
    BOOST_REQUIRE(reader.value()->poll(out, 10, 200).is_ok());
    for (const LogRecord& r : out) {
      stamps.push_back(r.appended_at_ms);
      BOOST_TEST(!r.damaged());
    }
  }
  BOOST_REQUIRE_EQUAL(stamps.size(), 5u);
  for (const int64_t stamp : stamps) {
    BOOST_TEST(stamp >= before);
    BOOST_TEST(stamp <= after);
  }
  BOOST_TEST(reader.value()->timestamp_type() == "CreateTime");
  BOOST_TEST(cluster.errors.saw("message.timestamp.type=LogAppendTime"));
}

BOOST_AUTO_TEST_CASE(concurrent_appenders_share_one_writer) {
  Cluster cluster;
  auto writer = KafkaWriter::open(cluster.options, cluster.topic);
  BOOST_REQUIRE(writer.is_ok());
  constexpr int threads = 4;
  constexpr int calls = 10;
  std::vector<std::thread> appenders;
  std::vector<std::string> failures(threads);
  for (int t = 0; t < threads; ++t) {
    appenders.emplace_back([&, t] {
      for (int c = 0; c < calls; ++c) {
        auto result = writer.value()->append(mixed_batch(t * 100 + c, 30));
        if (!result.is_ok()) {
          failures[static_cast<std::size_t>(t)] = result.status().to_string();
          return;
        }
      }
    });
  }
  for (auto& appender : appenders) appender.join();
  for (const auto& failure : failures) BOOST_REQUIRE_MESSAGE(failure.empty(), failure);
  // 30 records per batch, none global (the global one is every 40th).
  constexpr std::size_t total = threads * calls * 30;
  auto reader = KafkaReader::open(cluster.options, cluster.topic);
  BOOST_REQUIRE(reader.is_ok());
  const auto read = read_all(*reader.value(), total);
  BOOST_REQUIRE_EQUAL(read.size(), total);
  std::map<std::string, int> values;
  for (const Copied& record : read) ++values[record.value];
  BOOST_TEST(values.size() == total);
}

BOOST_AUTO_TEST_CASE(bad_records_are_errors_naming_the_field) {
  Cluster cluster;
  auto writer = KafkaWriter::open(cluster.options, cluster.topic);
  BOOST_REQUIRE(writer.is_ok());
  std::vector<AppendRequest> empty_key{AppendRequest{"", "x", false}};
  auto result = writer.value()->append(empty_key);
  BOOST_TEST(result.status().field() == "records[0].key");
  std::vector<AppendRequest> oversize{AppendRequest{"org", std::string(limits::event_bytes_max + 1, 'x'), false}};
  result = writer.value()->append(oversize);
  BOOST_TEST(result.status().code() == Status::Code::too_large);
  BOOST_TEST(result.status().message().find("records[0].value") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(check_topic_says_what_is_wrong) {
  Cluster cluster;
  BOOST_TEST(check_topic(cluster.options, cluster.topic, partitions).is_ok());
  BOOST_TEST(check_topic(cluster.options.brokers, cluster.topic, partitions).is_ok());

  Status missing = check_topic(cluster.options, "tally.nope", partitions);
  BOOST_TEST(missing.code() == Status::Code::not_found);
  BOOST_TEST(missing.message().find("tally.nope") != std::string::npos);
  BOOST_TEST_MESSAGE(missing.to_string());

  Status wrong = check_topic(cluster.options, cluster.topic, 8);
  BOOST_TEST(wrong.code() == Status::Code::invalid_argument);
  BOOST_TEST(wrong.field() == "partitions");
  BOOST_TEST(wrong.message().find("has 4 partitions") != std::string::npos);
  BOOST_TEST_MESSAGE(wrong.to_string());

  KafkaOptions unreachable;
  unreachable.brokers = "127.0.0.1:1";
  unreachable.timeout_ms = 1000;
  unreachable.on_client_error = [](std::string_view) {};
  const auto started = Clock::now();
  Status down = check_topic(unreachable, cluster.topic, partitions);
  BOOST_TEST(down.code() == Status::Code::unavailable);
  BOOST_TEST(down.message().find("unreachable within 1000 ms") != std::string::npos);
  BOOST_TEST((Clock::now() - started < std::chrono::seconds(10)));
  BOOST_TEST_MESSAGE(down.to_string());

  KafkaOptions none;
  BOOST_TEST(check_topic(none, cluster.topic, partitions).field() == "brokers");

  KafkaOptions weakened = cluster.options;
  weakened.properties.emplace_back("acks", "1");
  auto writer = KafkaWriter::open(weakened, cluster.topic);
  BOOST_REQUIRE(!writer.is_ok());
  BOOST_TEST(writer.status().code() == Status::Code::invalid_argument);
  BOOST_TEST_MESSAGE(writer.status().to_string());

  BOOST_TEST(KafkaReader::open(cluster.options, "tally.nope").status().code() == Status::Code::not_found);
}

}  // namespace
}  // namespace tally
