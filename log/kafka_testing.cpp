#include "log/kafka_testing.h"

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

#include "log/kafka_client.h"

namespace tally {

struct MockKafkaCluster::Impl {
  rd_kafka_t* owner = nullptr;  // the client that hosts the cluster
  rd_kafka_mock_cluster_t* cluster = nullptr;
  ~Impl() {
    if (owner != nullptr) rd_kafka_destroy(owner);
  }
};

MockKafkaCluster::MockKafkaCluster(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
MockKafkaCluster::~MockKafkaCluster() = default;

Result<std::unique_ptr<MockKafkaCluster>> MockKafkaCluster::create(int brokers) {
  if (brokers < 1) return Status::invalid("brokers", "at least one broker");
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  char errstr[512];
  const std::string count = std::to_string(brokers);
  if (rd_kafka_conf_set(conf, "test.mock.num.brokers", count.c_str(), errstr, sizeof errstr) != RD_KAFKA_CONF_OK) {
    rd_kafka_conf_destroy(conf);
    return Status::error(Status::Code::io_error, std::string("mock cluster: ") + errstr);
  }
  auto impl = std::make_unique<Impl>();
  impl->owner = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof errstr);
  if (impl->owner == nullptr) {
    rd_kafka_conf_destroy(conf);
    return Status::error(Status::Code::io_error, std::string("mock cluster: ") + errstr);
  }
  impl->cluster = rd_kafka_handle_mock_cluster(impl->owner);
  if (impl->cluster == nullptr) return Status::error(Status::Code::io_error, "mock cluster: not created");
  return std::unique_ptr<MockKafkaCluster>(new MockKafkaCluster(std::move(impl)));
}

std::string MockKafkaCluster::bootstraps() const { return rd_kafka_mock_cluster_bootstraps(impl_->cluster); }

Status MockKafkaCluster::create_topic(const std::string& topic, int32_t partitions, int replication_factor) {
  const rd_kafka_resp_err_t err = rd_kafka_mock_topic_create(impl_->cluster, topic.c_str(), partitions, replication_factor);
  if (err != RD_KAFKA_RESP_ERR_NO_ERROR) return kafka_status(Status::Code::io_error, "mock cluster: create " + topic, err);
  return Status::ok();
}

void MockKafkaCluster::push_request_errors(int16_t api_key, const std::vector<int>& errors) {
  std::vector<rd_kafka_resp_err_t> codes;
  for (const int error : errors) codes.push_back(static_cast<rd_kafka_resp_err_t>(error));
  rd_kafka_mock_push_request_errors_array(impl_->cluster, api_key, codes.size(), codes.data());
}

void MockKafkaCluster::fail_next_produce_requests(std::size_t count) {
  constexpr int16_t produce_api_key = 0;
  const int cycle[] = {RD_KAFKA_RESP_ERR_NOT_LEADER_FOR_PARTITION, RD_KAFKA_RESP_ERR_REQUEST_TIMED_OUT,
                       RD_KAFKA_RESP_ERR_NOT_ENOUGH_REPLICAS, RD_KAFKA_RESP_ERR__TRANSPORT};
  std::vector<int> errors;
  for (std::size_t i = 0; i < count; ++i) errors.push_back(cycle[i % std::size(cycle)]);
  push_request_errors(produce_api_key, errors);
}

Status MockKafkaCluster::set_broker_down(int32_t broker_id) {
  const rd_kafka_resp_err_t err = rd_kafka_mock_broker_set_down(impl_->cluster, broker_id);
  if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
    return kafka_status(Status::Code::invalid_argument, "mock cluster: broker " + std::to_string(broker_id), err);
  }
  return Status::ok();
}

Status MockKafkaCluster::set_broker_up(int32_t broker_id) {
  const rd_kafka_resp_err_t err = rd_kafka_mock_broker_set_up(impl_->cluster, broker_id);
  if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
    return kafka_status(Status::Code::invalid_argument, "mock cluster: broker " + std::to_string(broker_id), err);
  }
  return Status::ok();
}

}  // namespace tally
