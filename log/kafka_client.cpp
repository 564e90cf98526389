#include "log/kafka_client.h"

#include <cstdio>

namespace tally {
namespace {

constexpr std::size_t errstr_bytes = 512;

void on_error(rd_kafka_t* client, int err, const char* reason, void* opaque) {
  const auto* callbacks = static_cast<const KafkaCallbacks*>(opaque);
  std::string message = std::string("kafka ") + rd_kafka_name(client) + ": " +
                        rd_kafka_err2name(static_cast<rd_kafka_resp_err_t>(err)) + ": " + reason;
  if (callbacks != nullptr) callbacks->report(message);
}

// librdkafka's log lines: warnings and worse go where errors go; chatter (info, debug) is dropped.
void on_log(const rd_kafka_t* client, int level, const char* facility, const char* message) {
  constexpr int syslog_warning = 4;
  if (level > syslog_warning) return;
  const auto* callbacks = static_cast<const KafkaCallbacks*>(rd_kafka_opaque(client));
  std::string line = std::string("kafka ") + rd_kafka_name(client) + ": " + facility + ": " + message;
  if (callbacks != nullptr) callbacks->report(line);
}

}  // namespace

void KafkaCallbacks::report(std::string_view message) const {
  if (on_client_error) {
    on_client_error(message);
  } else {
    std::fprintf(stderr, "%.*s\n", static_cast<int>(message.size()), message.data());
  }
}

std::string kafka_topic(const KafkaOptions& options, std::string_view kind) {
  return options.topic_prefix + "." + std::string(kind);
}

Status kafka_status(Status::Code code, const std::string& context, rd_kafka_resp_err_t err) {
  return Status::error(code, context + ": " + rd_kafka_err2str(err) + " (" + rd_kafka_err2name(err) + ")");
}

Result<rd_kafka_t*> kafka_client(const KafkaOptions& options, rd_kafka_type_t type, const KafkaProperties& required,
                                 KafkaCallbacks* callbacks, const std::function<void(rd_kafka_conf_t*)>& configure) {
  if (options.brokers.empty()) return Status::invalid("brokers", "no Kafka brokers given");
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  char errstr[errstr_bytes];
  auto set = [&](const std::string& field, const std::string& key, const std::string& value) -> Status {
    if (rd_kafka_conf_set(conf, key.c_str(), value.c_str(), errstr, sizeof errstr) != RD_KAFKA_CONF_OK) {
      return Status::invalid(field, key + "=" + value + ": " + errstr);
    }
    return Status::ok();
  };
  KafkaProperties base{{"bootstrap.servers", options.brokers}, {"client.id", options.client_id}};
  Status status = Status::ok();
  for (const auto& [key, value] : base) {
    if (status.is_ok()) status = set(key == "bootstrap.servers" ? "brokers" : "client_id", key, value);
  }
  for (std::size_t i = 0; i < options.properties.size() && status.is_ok(); ++i) {
    const auto& [key, value] = options.properties[i];
    const std::string field = "properties[" + std::to_string(i) + "]";
    for (const auto& [fixed_key, fixed_value] : required) {
      if (key == fixed_key && value != fixed_value) {
        status = Status::invalid(field, key + " is fixed to " + fixed_value + " (the ledger's guarantees rely on it)");
      }
    }
    if (status.is_ok()) status = set(field, key, value);
  }
  for (const auto& [key, value] : required) {
    if (status.is_ok()) status = set(key, key, value);
  }
  if (!status.is_ok()) {
    rd_kafka_conf_destroy(conf);
    return status;
  }
  rd_kafka_conf_set_opaque(conf, callbacks);
  rd_kafka_conf_set_error_cb(conf, on_error);
  rd_kafka_conf_set_log_cb(conf, on_log);
  if (configure) configure(conf);
  rd_kafka_t* client = rd_kafka_new(type, conf, errstr, sizeof errstr);
  if (client == nullptr) {
    rd_kafka_conf_destroy(conf);  // rd_kafka_new takes the conf only on success
    return Status::error(Status::Code::io_error, std::string("kafka: cannot create client: ") + errstr);
  }
  return client;
}

Result<int32_t> kafka_topic_partitions(rd_kafka_t* client, const KafkaOptions& options, const std::string& topic) {
  const rd_kafka_metadata_t* metadata = nullptr;
  const rd_kafka_resp_err_t err = rd_kafka_metadata(client, 1, nullptr, &metadata, options.timeout_ms);
  if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
    return kafka_status(Status::Code::unavailable,
                        "Kafka brokers " + options.brokers + " unreachable within " +
                            std::to_string(options.timeout_ms) + " ms (asking for topic " + topic + ")",
                        err);
  }
  Result<int32_t> result = Status::error(Status::Code::not_found, "topic " + topic + " does not exist on Kafka brokers " +
                                                                      options.brokers + "; create it first");
  for (int i = 0; i < metadata->topic_cnt; ++i) {
    const rd_kafka_metadata_topic_t& entry = metadata->topics[i];
    if (topic != entry.topic) continue;
    if (entry.err == RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART) break;
    if (entry.err != RD_KAFKA_RESP_ERR_NO_ERROR) {
      result = kafka_status(Status::Code::unavailable, "topic " + topic + " on Kafka brokers " + options.brokers, entry.err);
    } else {
      result = static_cast<int32_t>(entry.partition_cnt);
    }
    break;
  }
  rd_kafka_metadata_destroy(metadata);
  return result;
}

Status check_topic(const KafkaOptions& options, const std::string& topic, int32_t expected_partitions) {
  if (expected_partitions < 1) return Status::invalid("partitions", "must be at least 1");
  KafkaCallbacks callbacks{options.on_client_error};
  auto client = kafka_client(options, RD_KAFKA_PRODUCER, {}, &callbacks);
  if (!client.is_ok()) return client.status();
  auto partitions = kafka_topic_partitions(client.value(), options, topic);
  rd_kafka_destroy(client.value());
  if (!partitions.is_ok()) return partitions.status();
  if (partitions.value() != expected_partitions) {
    return Status::invalid("partitions", "topic " + topic + " on Kafka brokers " + options.brokers + " has " +
                                             std::to_string(partitions.value()) + " partitions; the ledger expects " +
                                             std::to_string(expected_partitions) +
                                             " (an org's partition depends on the count)");
  }
  return Status::ok();
}

Status check_topic(const std::string& brokers, const std::string& topic, int32_t expected_partitions) {
  KafkaOptions options;
  options.brokers = brokers;
  return check_topic(options, topic, expected_partitions);
}

}  // namespace tally
