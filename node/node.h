// Node: one running Tally process — the roles of `tally dev` and `tally serve` wired together:
// the events log (embedded journal or Kafka), the projector on its own thread, the HTTP API, the
// tick appender, the outbox emitter (with the projector), and when configured the recharge and
// enforcement connectors and the ingest routes (LiteLLM callback, Stripe webhooks).
//
// Files in the data dir: DIR/journal (embedded log), DIR/views (projector: one LMDB store per events
// partition, projections/partitioned_layout.h; each also holds its emitter's progress), DIR/recharge.progress, DIR/enforce.progress (each connector's durable position in the
// signals log, locked by its owner). Directories it creates are 0700 and files 0600 (SPEC §10).
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
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "api/http_server.h"
#include "engine/status.h"
#include "ingest/ingest_routes.h"
#include "node/commerce.h"
#include "log/kafka_group.h"
#include "log/log.h"
#include "node/members.h"
#include "node/snapshot_transfer.h"
#include "projections/partitioned_projector.h"
#include "projections/views.h"
#include "relay/enforcer.h"
#include "relay/outbox_emitter.h"
#include "relay/recharge.h"

namespace tally {

class Log;

inline constexpr int tick_interval_ms_default = 60'000;
// SPEC §11: while any partition has an active hold, the ticker ticks at least this often (whatever
// tick_interval_ms says), so a hold's expiry lands in the log within this long of its time.
inline constexpr int hold_tick_interval_ms_default = 5'000;
inline constexpr int32_t node_partitions_default = 4;
inline constexpr int32_t node_signals_partitions_default = 1;
inline constexpr int node_group_session_timeout_ms_default = 10'000;
// How long the group's poll thread may be away before the member counts as failed: it is away
// while a partition taken on catches up (a snapshot fetch of the partition's whole store), so this
// bounds the size of a snapshot, not the liveness of the node (heartbeats and session timeout do).
inline constexpr int node_group_max_poll_interval_ms_default = 30 * 60'000;

struct NodeOptions {
  std::string data_dir = "tally-data";  // DIR/views (projector), DIR/journal (embedded log)
  // The log: an embedded journal when `kafka_brokers` is empty, in `journal_dir` (empty: DIR/journal).
  std::string kafka_brokers;
  std::string journal_dir;
  std::string topic_prefix = "tally";
  int32_t partitions = node_partitions_default;  // events partitions of a journal created here
  bool role_api = true;
  bool role_projector = true;
  std::string listen_host = "127.0.0.1";
  uint16_t listen_port = 8080;
  std::vector<api::ApiToken> tokens;
  int tick_interval_ms = tick_interval_ms_default;  // 0 = no ticks
  int hold_tick_interval_ms = hold_tick_interval_ms_default;  // with ticks: while holds are active
  // Extra routes registered before the server starts (after the ingest routes).
  std::function<Status(api::HttpServer&)> add_routes;

  int32_t signals_partitions = node_signals_partitions_default;  // signals partitions of a new journal
  // The outbox emitter, with role_projector: sends the outbox to the signals log.
  bool role_emitter = true;
  // Crash points of the emitter (tests; see relay/outbox_emitter.h).
  std::function<void(std::string_view point)> emitter_fault_hook;
  // The projector's commit fault injection (tests; ProjectorOptions::commit_fault).
  std::function<int()> projector_commit_fault;
  // Role "recharge": runs when set. An empty progress_path becomes DIR/recharge.progress; an empty
  // still_pending is answered from the views when this node has them.
  std::optional<connectors::RechargeOptions> recharge;
  // Role "enforce": runs when set. An empty progress_path becomes DIR/enforce.progress.
  std::optional<connectors::EnforcerOptions> enforce;
  // Ingest routes (with role_api): LiteLLM callback and Stripe webhooks, each when configured.
  std::optional<connectors::IngestOptions> ingest;
  // Buying credits (with role_api): price, checkout and payment-method routes over Stripe
  // (node/commerce.h). Starting checks or makes the bundle's price at Stripe.
  std::optional<CommerceSettings> commerce;
  // Signs the billing page's links (api/billing_links.h); empty: POST …/billing-links answers 503.
  std::string billing_link_secret;
  // Several nodes (SPEC §13), with kafka_brokers and role_projector: the Kafka consumer group whose
  // members share the events partitions (log/kafka_group.h). Each node projects, emits and serves
  // the partitions the group gives it, announces them on <prefix>.members (node/members.h) and
  // forwards reads of other orgs to their owner. Empty: this node owns every partition.
  std::string group;
  std::string node_id;        // with group: this node's name in the group and the members topic
  std::string advertise_url;  // with group: the API base URL the others forward to (default
                              // http://<listen_host>:<bound port>)
  int group_session_timeout_ms = node_group_session_timeout_ms_default;
  int group_heartbeat_interval_ms = 1'000;
  int group_max_poll_interval_ms = node_group_max_poll_interval_ms_default;
  int members_announce_interval_ms = 1'000;
  int members_stale_ms = 5'000;
  // Transient failures of the emitter and the connectors (retried by them). Empty: stderr.
  std::function<void(std::string_view role, const Status& status)> on_role_error;
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
  // The error that stopped a background role (the projector on a final error), empty if none.
  std::string error() const;
  // Why the node is degraded but running, one line per role (empty when it is not): the projector
  // retrying a failed commit (disk full, I/O error), the ticker failing to append. GET /healthz
  // reports them. Thread-safe.
  std::vector<std::string> degraded() const;
  // Blocks until stop() is called or a role fails.
  void wait();

  LogWriter& events_writer() { return *events_writer_; }
  PartitionedProjector* projector() { return projector_.get(); }
  // The HTTP server, nullptr without role_api (its routes() list every route it serves).
  api::HttpServer* server() { return server_.get(); }
  ViewReader* views() { return views_.get(); }
  // The running roles, nullptr when not running here.
  const connectors::RechargeConnector* recharge() const { return recharge_.get(); }
  const connectors::Enforcer* enforcer() const { return enforcer_.get(); }

 private:
  Node() = default;
  Status open_log(const NodeOptions& options);
  Status start_projector(const NodeOptions& options);
  Status start_api(const NodeOptions& options);
  // How ?wait=1 learns an outcome: from the projector of this process, else by polling the views.
  api::WaitOutcome outcome_waiter();
  std::string log_key_scope();
  // Ticks every interval_ms, and every hold_interval_ms while the views at views_path show an
  // active hold (SPEC §11).
  void start_ticker(int interval_ms, int hold_interval_ms, const std::string& views_path,
                    std::function<void(const Status&)> on_error);
  // Appends one event built here (a tick) through the submission path.
  Status submit_built(std::string encoded);
  Status open_views(const std::string& views_path, int wait_ms);
  Result<std::unique_ptr<LogReader>> open_signals_reader();
  // One emitter per owned partition, on that partition's store and projector: started when the
  // partition is taken on, stopped (and joined) before it is given up.
  Status start_emitter(PartitionId partition);
  void stop_emitter(PartitionId partition);
  // Several nodes: the members table, the consumer group, the read routing.
  Status join_group(const NodeOptions& options);
  void take_on(const std::vector<PartitionId>& partitions);
  // Before a partition is folded here: resume from this node's own store of it, else restore a
  // snapshot from the node that owned it before (node/snapshot_transfer.h), else fold from 0.
  void catch_up(PartitionId partition);
  // The routes the next owner of a partition fetches its snapshot by (node/snapshot_transfer.h).
  Status add_snapshot_routes();
  // /metrics: the projector's counters, the partitions owned here, how they caught up.
  void append_metrics(std::string& out);
  void give_up(const std::vector<PartitionId>& partitions, bool graceful);
  std::optional<api::ReadRouting> read_routing(const NodeOptions& options);
  Status start_recharge(const NodeOptions& options);
  Status start_enforcer(const NodeOptions& options);
  std::function<void(const Status&)> role_error(const NodeOptions& options, std::string role);
  void record_error(const std::string& role, const Status& status);

  std::unique_ptr<Log> log_;
  std::unique_ptr<LogWriter> events_writer_;
  std::unique_ptr<LogReader> end_reader_;
  std::mutex end_mutex_;
  std::unique_ptr<PartitionedProjector> projector_;
  std::unique_ptr<ViewReader> views_;
  std::unique_ptr<api::HttpServer> server_;
  std::unique_ptr<LogWriter> signals_writer_;
  std::unique_ptr<LogReader> recharge_reader_;
  std::unique_ptr<LogReader> enforce_reader_;
  // Per partition (index = partition; empty where not owned): the emitter, the reader of that
  // partition's store it reads the outbox from, its thread. Under emitters_mutex_.
  struct PartitionEmitter {
    std::unique_ptr<ViewReader> views;
    std::unique_ptr<connectors::OutboxEmitter> emitter;
    std::thread thread;
  };
  std::mutex emitters_mutex_;
  std::vector<std::unique_ptr<PartitionEmitter>> emitters_;
  connectors::OutboxEmitterOptions emitter_options_;  // record_sent is set per partition
  bool role_emitter_ = false;
  std::unique_ptr<Members> members_;
  std::atomic<Members*> members_ready_{nullptr};  // members_ once open (read by the routing)
  std::unique_ptr<KafkaGroupMember> group_;
  std::string data_dir_;
  std::function<void(const Status&)> on_catchup_error_;
  std::string internal_token_;  // with a group: the admin token this node fetches snapshots with
  // How partitions taken on caught up (tally_partition_catchups_total) and snapshots that failed.
  std::atomic<uint64_t> catchups_own_{0}, catchups_snapshot_{0}, catchups_log_{0}, snapshot_failures_{0};
  std::atomic<uint64_t> snapshot_counter_{0};
  std::unique_ptr<SnapshotShelf> snapshot_shelf_;  // with a group: copies offered to other nodes
  std::unique_ptr<connectors::RechargeConnector> recharge_;
  std::unique_ptr<connectors::Enforcer> enforcer_;
  std::thread projector_thread_;
  std::thread ticker_thread_;
  std::thread recharge_thread_;
  std::thread enforce_thread_;
  std::atomic<bool> stop_{false};
  mutable std::mutex mutex_;
  std::condition_variable stopped_;
  std::string error_;
  std::string ticker_failure_;        // under mutex_: the last failed tick append, until one succeeds
  int64_t ticker_failing_since_ms_ = 0;
};

}  // namespace tally
