#include "node/node.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <condition_variable>
#include <filesystem>

#include "api/projector_metrics.h"
#include "audit/text_format.h"
#include "engine/digest.h"
#include "engine/event_factory.h"
#include "lmdb/env.h"
#include "log/open_log.h"
#include "projections/partitioned_layout.h"
#include "submit/submitter.h"

namespace tally {
namespace {

constexpr int views_wait_ms_max = 30'000;  // an api-only process waits this long for a projector
// A ?wait=1 request holds a blocking HTTP thread while its event is appended, folded and committed:
// the pool's size is how many requests can share one journal fsync and one projector commit
// (group commit). Threads asleep on a condition cost their stacks only; with the server's default
// of 4, 32 concurrent clients got four requests per commit at most.
constexpr int blocking_http_threads = api::http_threads_max;

std::string in_dir(const std::string& data_dir, const char* name) {
  return (std::filesystem::path(data_dir) / name).string();
}

}  // namespace

Result<std::unique_ptr<Node>> Node::start(const NodeOptions& options) {
  if (!options.group.empty()) {
    if (options.kafka_brokers.empty()) return Status::invalid("group", "a consumer group needs Kafka brokers (kafka)");
    if (!options.role_projector) return Status::invalid("group", "only a node with the projector role joins the group");
    if (options.node_id.empty()) return Status::invalid("node_id", "a node of a group needs an id");
  }
  std::unique_ptr<Node> node(new Node());
  // Ledger data is for its owner only (SPEC §10): a data dir made here is 0700, its files 0600.
  if (Status made = lmdb::create_private_dirs(options.data_dir); !made.is_ok()) return made;
  if (Status s = node->open_log(options); !s.is_ok()) return s;
  if (options.role_projector) {
    if (Status s = node->start_projector(options); !s.is_ok()) return s;
    if (options.tick_interval_ms > 0) {
      node->start_ticker(options.tick_interval_ms, options.hold_tick_interval_ms, in_dir(options.data_dir, "views"),
                         node->role_error(options, "ticker"));
    }
  }
  if (options.recharge.has_value()) {
    if (Status s = node->start_recharge(options); !s.is_ok()) {
      node->stop();
      return s;
    }
  }
  if (options.enforce.has_value()) {
    if (Status s = node->start_enforcer(options); !s.is_ok()) {
      node->stop();
      return s;
    }
  }
  if (options.role_api) {
    if (Status s = node->start_api(options); !s.is_ok()) {
      node->stop();
      return s;
    }
  }
  if (!options.group.empty()) {
    if (Status s = node->join_group(options); !s.is_ok()) {
      node->stop();
      return s;
    }
  }
  return node;
}

Status Node::open_log(const NodeOptions& options) {
  LogLocation location;
  if (options.kafka_brokers.empty()) {
    location.journal_dir = !options.journal_dir.empty() ? options.journal_dir : in_dir(options.data_dir, "journal");
  }
  location.kafka_brokers = options.kafka_brokers;
  location.topic_prefix = options.topic_prefix;
  // An existing journal keeps its partition counts; only a new one takes ours.
  location.create_events_partitions = options.partitions;
  location.create_signals_partitions = options.signals_partitions;
  auto log = tally::open_log(location);
  if (!log.is_ok()) return log.status();
  log_ = std::move(log.value());
  auto writer = log_->writer(log_events_kind);
  if (!writer.is_ok()) return writer.status();
  events_writer_ = std::move(writer.value());
  auto end_reader = log_->reader(log_events_kind);
  if (!end_reader.is_ok()) return end_reader.status();
  end_reader_ = std::move(end_reader.value());
  return Status::ok();
}

Status Node::start_projector(const NodeOptions& options) {
  ProjectorOptions projector_options;
  projector_options.batch_time_max_ms = 5;  // low latency for ?wait=1; batches still fill under load
  projector_options.poll_timeout_ms = 50;
  projector_options.commit_fault = options.projector_commit_fault;
  // The log acknowledges every event durably and the views are refolded from it after a power
  // loss: one device flush per batch, not two (ProjectorOptions::defer_meta_sync).
  projector_options.defer_meta_sync = true;
  const bool grouped = !options.group.empty();
  // A partition given up waits for its in-flight run_once: keep that to a few batches.
  if (grouped) projector_options.run_batches_max = 2;
  auto on_commit = [this](PartitionId partition, const CommittedBatch& batch) {
    if (batch.outbox_added > 0) {
      std::lock_guard lock(emitters_mutex_);
      const auto i = static_cast<std::size_t>(partition.value);
      if (i < emitters_.size() && emitters_[i]) emitters_[i]->emitter->notify();
    }
    // No lag commits to the group (KafkaGroupMember::commit_lag): with librdkafka 2.0.2 a commit
    // that reaches the broker with the generation a rebalance just ended is refused
    // (ILLEGAL_GENERATION) and the client takes that for a lost assignment (librdkafka issue
    // 4059): a survivor of a failover then drops every partition it owned and rejoins, one more
    // rebalance (multi_node_test). Lag is in /metrics (tally_consumer_lag) instead.
  };
  int32_t partition_count = 0;
  {
    std::lock_guard lock(end_mutex_);
    partition_count = end_reader_->partition_count();
  }
  emitters_.resize(static_cast<std::size_t>(partition_count));
  auto projector = PartitionedProjector::open(in_dir(options.data_dir, "views"), partition_count, projector_options,
                                              on_commit, /*none_at_first=*/grouped);
  if (!projector.is_ok()) return projector.status();
  projector_ = std::move(projector.value());
  if (Status s = projector_->start([this] { return log_->reader(log_events_kind); }); !s.is_ok()) return s;
  if (Status s = open_views(in_dir(options.data_dir, "views"), 0); !s.is_ok()) return s;  // shares the stores
  role_emitter_ = options.role_emitter;
  if (role_emitter_) {
    auto writer = log_->writer(log_signals_kind);
    if (!writer.is_ok()) return writer.status();
    signals_writer_ = std::move(writer.value());
    emitter_options_.fault_hook = options.emitter_fault_hook;
    emitter_options_.on_error = role_error(options, "emitter");
    for (int32_t p : projector_->partitions()) {
      if (Status s = start_emitter(PartitionId{p}); !s.is_ok()) return s;
    }
  }
  projector_thread_ = std::thread([this] {
    Status status = projector_->run(stop_);
    if (!status.is_ok()) record_error("projector", status);
  });
  return Status::ok();
}

Status Node::start_emitter(PartitionId partition) {
  if (!role_emitter_) return Status::ok();
  std::shared_ptr<Projector> projector = projector_->partition(partition);
  if (!projector) return Status::ok();
  auto slot = std::make_unique<PartitionEmitter>();
  // The projector made the partition's store, so it opens at once.
  auto views = ViewReader::open(partition_store_dir(projector_->root(), partition));
  if (!views.is_ok()) return views.status();
  slot->views = std::move(views.value());
  connectors::OutboxEmitterOptions options = emitter_options_;
  options.record_sent = [projector](uint64_t sequence) { return projector->record_outbox_sent(sequence); };
  auto emitter = connectors::OutboxEmitter::open(*slot->views, *signals_writer_, std::move(options));
  if (!emitter.is_ok()) return emitter.status();
  slot->emitter = std::move(emitter.value());
  // Catches up at once, then on its partition's commits.
  slot->thread = std::thread([e = slot->emitter.get()] { e->run(); });
  std::lock_guard lock(emitters_mutex_);
  emitters_[static_cast<std::size_t>(partition.value)] = std::move(slot);
  return Status::ok();
}

void Node::stop_emitter(PartitionId partition) {
  std::unique_ptr<PartitionEmitter> slot;
  {
    std::lock_guard lock(emitters_mutex_);
    const auto p = static_cast<std::size_t>(partition.value);
    if (p < emitters_.size()) slot = std::move(emitters_[p]);
  }
  if (!slot) return;
  // Entries it has not sent stay in the partition's outbox with its progress: whoever owns the
  // partition next sends them (consumers drop a signal they saw, by id).
  slot->emitter->request_stop();
  if (slot->thread.joinable()) slot->thread.join();
}

std::function<void(const Status&)> Node::role_error(const NodeOptions& options, std::string role) {
  if (!options.on_role_error) return {};
  return [callback = options.on_role_error, role = std::move(role)](const Status& status) { callback(role, status); };
}

Status Node::open_views(const std::string& views_path, int wait_ms) {
  if (views_) return Status::ok();
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(wait_ms);
  for (;;) {
    auto views = ViewReader::open(views_path);
    if (views.is_ok()) {
      views_ = std::move(views.value());
      return Status::ok();
    }
    // A separate projector process may not have created the views yet.
    if (views.status().code() != Status::Code::not_found || std::chrono::steady_clock::now() > deadline) {
      return views.status();
    }
    std::unique_lock lock(mutex_);
    stopped_.wait_for(lock, std::chrono::milliseconds(100), [this] { return stop_.load(); });
    if (stop_) return Status::error(Status::Code::unavailable, "stopped while waiting for the views");
  }
}

Result<std::unique_ptr<LogReader>> Node::open_signals_reader() { return log_->reader(log_signals_kind); }

Status Node::start_recharge(const NodeOptions& options) {
  connectors::RechargeOptions recharge = *options.recharge;
  if (recharge.progress_path.empty()) recharge.progress_path = in_dir(options.data_dir, "recharge.progress");
  if (!recharge.on_error) recharge.on_error = role_error(options, "recharge");
  if (!recharge.still_pending) {
    // Only views of this data dir can say a refill was concluded; without them, Stripe's
    // idempotency alone guards reruns.
    if (!views_) {
      auto views = ViewReader::open(in_dir(options.data_dir, "views"));
      if (views.is_ok()) views_ = std::move(views.value());
    }
    if (views_) {
      recharge.still_pending = [this](const std::string& org, const std::string& signal_id) -> std::optional<bool> {
        const Result<OrgId> id = OrgId::make(org);  // from a signal record: not an id, no such org
        if (!id.is_ok()) return std::nullopt;
        auto org_view = views_->org(id.value());
        if (!org_view.is_ok() || !org_view->has_value()) return std::nullopt;
        const OrgState& state = org_view->value().state;
        return state.refill_pending && state.pending_signal_id == signal_id;
      };
    }
  }
  auto reader = open_signals_reader();
  if (!reader.is_ok()) return reader.status();
  recharge_reader_ = std::move(reader.value());
  auto connector = connectors::RechargeConnector::open(*recharge_reader_, *events_writer_, std::move(recharge));
  if (!connector.is_ok()) return Status::error(connector.status().code(), "recharge: " + connector.status().to_string());
  recharge_ = std::move(connector.value());
  recharge_thread_ = std::thread([this] { recharge_->run(); });
  return Status::ok();
}

Status Node::start_enforcer(const NodeOptions& options) {
  connectors::EnforcerOptions enforce = *options.enforce;
  if (enforce.progress_path.empty()) enforce.progress_path = in_dir(options.data_dir, "enforce.progress");
  if (!enforce.on_error) enforce.on_error = role_error(options, "enforce");
  auto reader = open_signals_reader();
  if (!reader.is_ok()) return reader.status();
  enforce_reader_ = std::move(reader.value());
  auto enforcer = connectors::Enforcer::open(*enforce_reader_, std::move(enforce));
  if (!enforcer.is_ok()) return Status::error(enforcer.status().code(), "enforce: " + enforcer.status().to_string());
  enforcer_ = std::move(enforcer.value());
  enforce_thread_ = std::thread([this] { enforcer_->run(); });
  return Status::ok();
}

namespace {

// True if the views show an active hold in some partition (false on a read error: the regular
// interval still ticks). The ticker keeps its own reader, opened on first use.
bool holds_active(std::unique_ptr<ViewReader>& views, const std::string& views_path) {
  if (!views) {
    Result<std::unique_ptr<ViewReader>> opened = ViewReader::open(views_path);
    if (!opened.is_ok()) return false;
    views = std::move(opened.value());
  }
  Result<std::vector<PartitionView>> partitions = views->partitions();
  if (!partitions.is_ok()) return false;
  for (const PartitionView& p : partitions.value()) {
    if (p.holds_active) return true;
  }
  return false;
}

}  // namespace

void Node::start_ticker(int interval_ms, int hold_interval_ms, const std::string& views_path,
                        std::function<void(const Status&)> on_error) {
  if (!on_error) {
    on_error = [](const Status& status) { std::fprintf(stderr, "tally ticker: %s\n", status.to_string().c_str()); };
  }
  hold_interval_ms = hold_interval_ms > 0 ? std::min(hold_interval_ms, interval_ms) : interval_ms;
  ticker_thread_ = std::thread([this, interval_ms, hold_interval_ms, views_path, on_error = std::move(on_error)] {
    // Ticks carry the clock into the log so month rollovers, cap periods and hold expiries land
    // deterministically (SPEC §2, §11). The fold itself never reads a clock. The ticker wakes every
    // hold interval and ticks when the interval is due, or sooner while a hold is active.
    const auto now = [] {
      return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
          .count();
    };
    int64_t last_tick_ms = now();
    std::unique_ptr<ViewReader> views;
    std::unique_lock lock(mutex_);
    while (!stop_) {
      stopped_.wait_for(lock, std::chrono::milliseconds(hold_interval_ms), [this] { return stop_.load(); });
      if (stop_) break;
      lock.unlock();
      const int64_t now_ms = now();
      const int64_t since_ms = now_ms - last_tick_ms;
      const bool due = since_ms >= interval_ms || (since_ms >= hold_interval_ms && holds_active(views, views_path));
      if (!due) {
        lock.lock();
        continue;
      }
      last_tick_ms = now_ms;
      const std::string key = "tick-" + std::to_string(now_ms);
      // Through the submission path like every producer: validated, then to every partition.
      const Status appended = submit_built(make_tick({key, "", now_ms, "tally-ticker"}));
      // A failed tick (a full disk) degrades the node; the next interval tries again. Reads and
      // the other roles go on (SPEC §10).
      if (!appended.is_ok()) on_error(appended);
      lock.lock();
      if (appended.is_ok()) {
        ticker_failure_.clear();
      } else {
        if (ticker_failure_.empty()) ticker_failing_since_ms_ = now_ms;
        ticker_failure_ = appended.to_string();
      }
    }
  });
}

// Tally's Stripe customers and prices are keyed per ledger: two ledgers on one account share none.
std::string Node::log_key_scope() {
  std::lock_guard lock(end_mutex_);
  const std::string identity = end_reader_->identity();
  return murmur3_128(identity.data(), identity.size()).to_hex().substr(0, 16);
}

api::WaitOutcome Node::outcome_waiter() {
  if (projector_) {
    return [this](LogPosition position, int timeout_ms) { return projector_->wait_for_outcome(position, timeout_ms); };
  }
  // Another process projects: its outcomes are not known here. Poll the views' stored offsets
  // and answer `expired` (committed, outcome unknown) once the record is in.
  return [this](LogPosition position, int timeout_ms) {
    const auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
    while (std::chrono::steady_clock::now() < until) {
      auto partitions = views_->partitions();
      if (partitions.is_ok()) {
        for (const PartitionView& p : partitions.value()) {
          if (p.partition == position.partition && p.next_offset > position.offset) {
            return OutcomeWait{OutcomeWait::State::expired, {}};
          }
        }
      }
      std::unique_lock lock(mutex_);
      if (stopped_.wait_for(lock, std::chrono::milliseconds(5), [this] { return stop_.load(); })) break;
    }
    return OutcomeWait{};
  };
}

Status Node::start_api(const NodeOptions& options) {
  if (Status s = open_views(in_dir(options.data_dir, "views"), views_wait_ms_max); !s.is_ok()) return s;
  api::HttpServerOptions server_options;
  server_options.host = options.listen_host;
  server_options.port = options.listen_port;
  server_options.tokens = options.tokens;
  server_options.blocking_threads = blocking_http_threads;
  server_options.billing_link_secret = options.billing_link_secret;
  server_options.routing = read_routing(options);
  api::MetricsSource metrics;
  metrics.log_end_offset = [this](PartitionId partition) -> Result<Offset> {
    std::lock_guard lock(end_mutex_);
    return end_reader_->end_offset(partition);
  };
  if (projector_) {
    metrics.append_prometheus = [this](std::string& out) { append_metrics(out); };
  }
  metrics.degraded = [this] { return degraded(); };
  api::WaitOutcome wait = outcome_waiter();
  if (options.commerce) {
    Result<api::CommerceOptions> commerce = start_commerce(*options.commerce, log_key_scope());
    if (!commerce.is_ok()) {
      return Status::error(commerce.status().code(), commerce.status().field(),
                           "buying credits: " + commerce.status().message());
    }
    server_options.commerce = std::move(commerce.value());
  }
  server_ = std::make_unique<api::HttpServer>(server_options, *views_, *events_writer_, wait, metrics);
  if (!options.group.empty()) {
    if (Status s = add_snapshot_routes(); !s.is_ok()) return s;
  }
  if (options.ingest.has_value()) {
    connectors::IngestOptions ingest = *options.ingest;
    if (ingest.stripe.has_value() && !ingest.stripe->mapping.find_purchase) {
      // Refunds of Checkout purchases carry no Tally metadata: find them by payment in the views.
      ingest.stripe->mapping.find_purchase = [views = views_.get()](std::string_view ref)
          -> std::optional<connectors::PurchaseRef> {
        auto found = views->purchase_by_payment(ref);
        if (!found.is_ok() || !found->has_value()) return std::nullopt;
        const PaymentPurchase& p = *found.value();
        connectors::PurchaseRef out{p.org_id, p.purchase_key};
        out.credits_micros = p.credits_micros.value();
        out.fee_minor = p.fee_minor;
        return out;
      };
    }
    if (Status s = connectors::add_ingest_routes(*server_, std::move(ingest)); !s.is_ok()) return s;
  }
  if (options.add_routes) {
    if (Status s = options.add_routes(*server_); !s.is_ok()) return s;
  }
  return server_->start();
}

Status Node::submit_built(std::string encoded) {
  Result<submit::PreparedEvents> event = submit::prepare_built({std::move(encoded)});
  if (!event.is_ok()) return event.status();
  submit::Submitter submitter(*events_writer_, submit::SubmitterOptions{});
  Result<submit::Submitted> submitted = submitter.submit(std::move(event.value()), false);
  return submitted.is_ok() ? Status::ok() : submitted.status();
}

uint16_t Node::port() const { return server_->port(); }

void Node::record_error(const std::string& role, const Status& status) {
  {
    std::lock_guard lock(mutex_);
    if (error_.empty()) error_ = role + ": " + status.to_string();
  }
  stopped_.notify_all();
}

std::string Node::error() const {
  std::lock_guard lock(mutex_);
  return error_;
}

std::vector<std::string> Node::degraded() const {
  std::vector<std::string> reasons;
  if (projector_) {
    const ProjectorHealth health = projector_->health();
    if (health.degraded) {
      reasons.push_back("projector: " + health.reason + ", retrying the batch since " +
                        audit::iso_utc(health.since_unix_ms) + " (failed attempts: " +
                        std::to_string(health.failed_attempts) + "); reads are served as of the last committed batch");
    }
  }
  std::lock_guard lock(mutex_);
  if (!ticker_failure_.empty()) {
    reasons.push_back("ticker: " + ticker_failure_ + ", failing since " + audit::iso_utc(ticker_failing_since_ms_));
  }
  return reasons;
}

void Node::wait() {
  std::unique_lock lock(mutex_);
  stopped_.wait(lock, [this] { return stop_.load() || !error_.empty(); });
}

void Node::stop() {
  if (server_) server_->stop();  // no new commands; in-flight ones finish
  // Several nodes: leave the group first, handing every partition over gracefully (each one's
  // in-flight batch commits), then tell the others this node owns nothing.
  if (group_) group_->close();
  members_ready_ = nullptr;
  members_.reset();
  {
    std::lock_guard lock(mutex_);
    stop_ = true;
  }
  stopped_.notify_all();
  // A commit being retried (full disk) gives up: its batch is folded again at the next start.
  if (projector_) projector_->request_stop();
  if (ticker_thread_.joinable()) ticker_thread_.join();
  if (projector_thread_.joinable()) projector_thread_.join();  // commits its in-flight batch
  // Unsent outbox entries and unconcluded signals stay where their progress says: the next start
  // sends and concludes them.
  for (std::size_t p = 0; p < emitters_.size(); ++p) stop_emitter(PartitionId{static_cast<int32_t>(p)});
  if (recharge_) recharge_->request_stop();
  if (enforcer_) enforcer_->request_stop();
  if (recharge_thread_.joinable()) recharge_thread_.join();
  if (enforce_thread_.joinable()) enforce_thread_.join();
}

Node::~Node() {
  stop();
  server_.reset();
  enforcer_.reset();
  recharge_.reset();
  emitters_.clear();
  views_.reset();
  projector_.reset();
}

}  // namespace tally
