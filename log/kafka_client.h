// Internal: what the Kafka writer, reader and check_topic share: client creation with Tally's fixed
// properties, error reporting, topic metadata. Only log/kafka*.cpp include it (it includes rdkafka.h).
#pragma once

#include <librdkafka/rdkafka.h>

#include <functional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "engine/status.h"
#include "log/kafka_log.h"

namespace tally {

using KafkaProperties = std::vector<std::pair<std::string, std::string>>;

// The conf opaque of every client: forwards librdkafka's error callback. Must outlive the client.
struct KafkaCallbacks {
  std::function<void(std::string_view message)> on_client_error;
  void report(std::string_view message) const;
};

// A client of `type` for options.brokers with `required` properties (which options.properties may
// not change) and the error callback wired to `callbacks`. `configure` may add callbacks to the conf.
// Errors: invalid_argument (no brokers, bad or conflicting property), io_error.
Result<rd_kafka_t*> kafka_client(const KafkaOptions& options, rd_kafka_type_t type, const KafkaProperties& required,
                                 KafkaCallbacks* callbacks, const std::function<void(rd_kafka_conf_t*)>& configure = {});

// The partition count of `topic` in the cluster's metadata (all-topics request: never auto-creates).
// Errors: not_found, unavailable.
Result<int32_t> kafka_topic_partitions(rd_kafka_t* client, const KafkaOptions& options, const std::string& topic);

// "<context>: <librdkafka's text> (<error name>)".
Status kafka_status(Status::Code code, const std::string& context, rd_kafka_resp_err_t err);

}  // namespace tally
