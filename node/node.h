// Node: one running Tally process — the roles of `tally dev` and `tally serve` wired together:
// the events log (embedded journal or Kafka), the projector on its own thread, the HTTP API, the
// tick appender, and (when configured) the outbox emitter and the connectors.
//
// Lifecycle: Node::start(options) → port() … → stop() (or the destructor). stop() stops the HTTP
// server first (no new commands), then lets the projector finish and commit its in-flight batch,
// then joins every thread: nothing acknowledged is lost.
// Thread safety: stop() and error() from any thread.
#pragma once

#include <atomic>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "api/http_server.h"
#include "engine/status.h"
#include "log/log.h"
#include "projections/projector.h"
#include "projections/views.h"

namespace tally {

class Journal;

inline constexpr int tick_interval_ms_default = 60'000;
inline constexpr int32_t node_partitions_default = 4;

struct NodeOptions {
  std::string data_dir = "tally-data";  // DIR/views (projector), DIR/journal (embedded log)
  // The log: an embedded journal in DIR/journal when `kafka_brokers` is empty.
  std::string kafka_brokers;
  std::string topic_prefix = "tally";
  int32_t partitions = node_partitions_default;  // events partitions of a journal created here
  bool role_api = true;
  bool role_projector = true;
  std::string listen_host = "127.0.0.1";
  uint16_t listen_port = 8080;
  std::vector<api::ApiToken> tokens;
  int tick_interval_ms = tick_interval_ms_default;  // 0 = no ticks
  // Extra routes (connector ingest) registered before the server starts.
  std::function<Status(api::HttpServer&)> add_routes;
};

class Node {
 public:
  // Opens the log and views, starts the projector thread, the ticker and the HTTP server.
  // Errors: whatever failed to open or start, named.
  static Result<std::unique_ptr<Node>> start(const NodeOptions& options);
  ~Node();
  Node(const Node&) = delete;
  Node& operator=(const Node&) = delete;

  // The bound HTTP port. REQUIRES: role_api.
  uint16_t port() const;
  void stop();
  // The error that stopped a background role (projector, ticker), empty if none.
  std::string error() const;
  // Blocks until stop() is called or a role fails.
  void wait();

  LogWriter& events_writer() { return *events_writer_; }
  Projector* projector() { return projector_.get(); }
  ViewReader* views() { return views_.get(); }

 private:
  Node() = default;
  Status open_log(const NodeOptions& options);
  Status start_projector(const NodeOptions& options);
  Status start_api(const NodeOptions& options);
  void start_ticker(int interval_ms);
  void record_error(const std::string& role, const Status& status);

  std::unique_ptr<Journal> journal_;
  std::unique_ptr<LogWriter> events_writer_;
  std::unique_ptr<LogReader> events_reader_;
  std::unique_ptr<LogReader> end_reader_;
  std::mutex end_mutex_;
  std::unique_ptr<Projector> projector_;
  std::unique_ptr<ViewReader> views_;
  std::unique_ptr<api::HttpServer> server_;
  std::thread projector_thread_;
  std::thread ticker_thread_;
  std::atomic<bool> stop_{false};
  mutable std::mutex mutex_;
  std::condition_variable stopped_;
  std::string error_;
};

}  // namespace tally
