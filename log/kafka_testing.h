// Test-only: librdkafka's in-process mock Kafka cluster (rdkafka_mock.h), so that tests in any
// folder can run the Kafka log without including librdkafka.
//
// CAVEATS (librdkafka 2.0.2's mock): it keeps only ~5 MiB / 100k message sets per partition and
// deletes older data; no transaction markers; no stored TxnOffsetCommit; no admin API (create
// topics here); brokers listen on random localhost ports. Never a durable store.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "engine/status.h"

namespace tally {

class MockKafkaCluster {
 public:
  // A cluster of `brokers` brokers (ids 1..brokers). Errors: io_error.
  static Result<std::unique_ptr<MockKafkaCluster>> create(int brokers);
  // REQUIRES: clients of the cluster are destroyed first (else they retry a vanished cluster).
  ~MockKafkaCluster();
  MockKafkaCluster(const MockKafkaCluster&) = delete;
  MockKafkaCluster& operator=(const MockKafkaCluster&) = delete;

  // For KafkaOptions::brokers.
  std::string bootstraps() const;
  // Errors: io_error (e.g. replication factor above the broker count).
  Status create_topic(const std::string& topic, int32_t partitions, int replication_factor);
  // The next errors.size() requests of Kafka protocol request type `api_key` (0 = Produce,
  // 1 = Fetch, 3 = Metadata) fail with these librdkafka error codes (rd_kafka_resp_err_t values),
  // in order; RD_KAFKA_RESP_ERR__TRANSPORT (-195) disconnects the client instead.
  void push_request_errors(int16_t api_key, const std::vector<int>& errors);
  // The next `count` Produce requests fail with retriable errors (not leader, timed out, not
  // enough replicas, disconnect, in turn): the idempotent producer must retry them without loss
  // or duplicates.
  void fail_next_produce_requests(std::size_t count);
  // Errors: invalid_argument (no such broker).
  Status set_broker_down(int32_t broker_id);
  Status set_broker_up(int32_t broker_id);

 private:
  struct Impl;
  explicit MockKafkaCluster(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace tally
