// cluster_bench: a group of `tally serve` nodes (SPEC §13) as separate processes on librdkafka's
// mock cluster, hosted by this process: how long a partition goes unserved when its owner dies, and
// how fast 1, 2 and 3 nodes fold a backlog. Not part of ctest.
//   cluster_bench [--quick] [--session-timeout-ms T] [--events N] [--seed S]
// Figures (medians; --quick runs fewer rounds and says so):
//   bench failover_seconds  2 nodes settled and caught up, the workload trickling straight into the
//       events topic (20 events every 50 ms); the owner of a chosen partition is SIGKILLed. From the
//       kill until the survivor owns that partition and has folded it to the end the log had when
//       the survivor first reported owning it (served again: nothing the dead owner left, nor what
//       came while nobody owned it, is unfolded). Not "lag 0": under a steady trickle the mock makes
//       that a matter of luck, for it answers an empty fetch only after fetch.wait.max.ms (500 ms)
//       even when records arrive meanwhile; the time to the first lag 0 is printed as information.
//       The killed node is then restarted (same id, same data dir) and the group settles and
//       catches up before the next round, which picks another partition. 5 rounds. Printed with it:
//       where the time goes (kill → owned, owned → folded) and whether the survivor dropped its
//       own partitions on the way.
//   bench projector_nodes_events_per_s_K  K = 1, 2, 3 nodes with fresh data dirs and a fresh group
//       on a fresh cluster whose events topic already holds N events of the projector_bench mock
//       workload. Nodes begin folding as soon as they are assigned partitions; on the mock nobody is
//       assigned before its first election, 3 s after the first member joins, and the K nodes all
//       join within that window, so every partition is assigned at once (the spread from the first
//       partition owned to all owned is printed, with the time to settle from the first start).
//       The figure is the records in the log over the time from the first partition seen owned to
//       every partition caught up (lag 0 on its owner; polled every 50 ms, so it can start up to
//       50 ms late). Not "produce once settled, time from the first append": readers idle on an
//       empty topic wait out the mock's fetch.wait.max.ms (500 ms) before they see the first
//       record, a delay as long as the whole fold of a backlog that fits the mock.
//   bench nodes_vs_produce_ratio_K  the figure above over the producer's own rate in the same run
//       (records / time from the first append to the last delivered, before any node runs; the
//       same mock, the same cores). Median of 3 runs per K.
// Every process shares this machine's cores (and the mock brokers run in this process): more nodes
// add no CPU on a small machine, and the figures say so rather than hide it. The mock keeps ~5 MiB
// per partition and drops the head beyond: 150k events (5.4 MiB in the fullest partition) lose
// records, 100k (3.6 MiB) do not. The backlog's estimated size is printed and must stay under 4 MiB;
// after the first run of each K the bench checks that every partition still starts at offset 0.
#include <signal.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "engine/partitioner.h"
#include "log/kafka_log.h"
#include "log/kafka_testing.h"
#include "node/testing/serve_nodes.h"
#include "projections/bench_journal.h"
#include "projections/testkit.h"
#include "tests/support/temp_dir.h"

namespace tally {
namespace {

using Clock = std::chrono::steady_clock;
using testing::ServeNode;
using testing::ServeNodeOptions;

constexpr int32_t partitions = 8;             // tally.events, as in multi_node_test
constexpr auto group_deadline = std::chrono::seconds(120);
constexpr int failover_poll_ms = 20;          // the failover figure's resolution
constexpr int backlog_poll_ms = 50;           // coarser: every scrape costs the nodes CPU
constexpr std::size_t trickle_batch_events = 20;
constexpr int trickle_interval_ms = 50;
constexpr std::size_t produce_batch_events = 20'000;
constexpr double partition_bytes_max = 4.0 * (1 << 20);  // the mock keeps ~5 MiB per partition
constexpr std::size_t record_overhead_bytes = 20;        // Kafka record framing, roughly

struct Args {
  bool quick = false;
  int session_timeout_ms = 4'000;  // the mock needs more than 3 s (its first join waits 3 s)
  std::size_t events = 0;          // backlog events; 0: 100k (quick: 30k)
  uint64_t seed = 42;
  int failover_rounds() const { return quick ? 2 : 5; }
  int backlog_runs() const { return quick ? 1 : 3; }
};

// Throws: main() reports it once the nodes are killed and the scratch directories removed.
[[noreturn]] void die(const std::string& what) { throw std::runtime_error(what); }
template <typename T>
T take(Result<T> result, const std::string& what) {
  if (!result.is_ok()) die(what + ": " + result.status().to_string());
  return std::move(result.value());
}

Args parse(int argc, char** argv) {
  Args args;
  for (int i = 1; i < argc; ++i) {
    const std::string flag = argv[i];
    if (flag == "--quick") {
      args.quick = true;
      continue;
    }
    if (i + 1 == argc) die("flag " + flag + " wants a value");
    const auto number = std::strtoull(argv[++i], nullptr, 10);
    if (flag == "--session-timeout-ms") args.session_timeout_ms = static_cast<int>(number);
    else if (flag == "--events") args.events = number;
    else if (flag == "--seed") args.seed = number;
    else die("unknown flag " + flag);
  }
  if (args.session_timeout_ms <= 3'000) die("--session-timeout-ms must exceed 3000 (the mock's first join)");
  if (args.events == 0) args.events = args.quick ? 30'000 : 100'000;
  return args;
}

double since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }
double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

// Polls `condition` every `poll_ms` until it holds; dies with `report()` after group_deadline.
template <typename F, typename R>
void wait_for(F&& condition, int poll_ms, const std::string& what, R&& report) {
  const auto until = Clock::now() + group_deadline;
  while (!condition()) {
    if (Clock::now() > until) die(what + " not within the deadline: " + report());
    std::this_thread::sleep_for(std::chrono::milliseconds(poll_ms));
  }
}

// A mock cluster with the topics a serve node expects.
std::unique_ptr<MockKafkaCluster> make_cluster() {
  auto cluster = take(MockKafkaCluster::create(3), "mock cluster");
  const std::vector<std::pair<std::string, int32_t>> topics = {
      {"tally.events", partitions}, {"tally.signals", 1}, {"tally.members", 1}};
  for (const auto& [topic, count] : topics) {
    if (Status s = cluster->create_topic(topic, count, 1); !s.is_ok()) die(topic + ": " + s.to_string());
  }
  return cluster;
}

KafkaOptions kafka_options(const MockKafkaCluster& cluster) {
  KafkaOptions options;
  options.brokers = cluster.bootstraps();
  options.on_client_error = [](std::string_view) {};
  return options;
}

ServeNodeOptions node_options(const Args& args, const std::string& id, const test_support::TempDir& dir,
                              const std::string& brokers, const std::string& group) {
  ServeNodeOptions options;
  options.tally_binary = TALLY_BINARY;
  options.id = id;
  options.data_dir = dir.sub(id);
  options.brokers = brokers;
  options.group = group;
  options.session_timeout_ms = args.session_timeout_ms;
  return options;
}

std::vector<ServeNode*> pointers(const std::vector<std::unique_ptr<ServeNode>>& nodes) {
  std::vector<ServeNode*> out;
  for (const auto& node : nodes) out.push_back(node.get());
  return out;
}

// ---- failover

// The workload appended straight to the events topic, a small batch every trickle_interval_ms,
// from its own thread, until destroyed: events keep flowing whichever node dies.
class Trickle {
 public:
  Trickle(const KafkaOptions& options, const testkit::WorkloadOptions& workload)
      : writer_(take(KafkaWriter::open(options, kafka_topic(options, kafka_events_kind)), "trickle writer")),
        generator_(workload), thread_([this] { run(); }) {}
  ~Trickle() {
    stop_ = true;
    thread_.join();
  }
  Trickle(const Trickle&) = delete;
  Trickle& operator=(const Trickle&) = delete;

  // Why appending stopped, or "" while it runs.
  std::string error() const {
    std::lock_guard lock(mutex_);
    return error_;
  }

 private:
  void run() {
    std::vector<AppendRequest> batch;
    while (!stop_) {
      batch.clear();
      generator_.generate(trickle_batch_events, batch);
      if (auto appended = writer_->append(batch); !appended.is_ok()) {
        std::lock_guard lock(mutex_);
        error_ = "trickle append: " + appended.status().to_string();
        return;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(trickle_interval_ms));
    }
  }

  std::unique_ptr<KafkaWriter> writer_;
  testkit::WorkloadGenerator generator_;
  std::atomic<bool> stop_ = false;
  mutable std::mutex mutex_;
  std::string error_;   // under mutex_
  std::thread thread_;  // last: starts once the rest is ready
};

// The log's end of every partition now (the bench's own reader: the high watermarks).
std::vector<int64_t> log_ends(KafkaReader& reader) {
  std::vector<int64_t> ends;
  for (int32_t p = 0; p < partitions; ++p) ends.push_back(take(reader.end_offset(PartitionId{p}), "end offset").value);
  return ends;
}

// Every partition owned by exactly one node, whose views have folded it at least to ends[p].
// Under a steady trickle, "lag 0 everywhere at once" is a matter of luck on the mock: it answers an
// empty fetch only after fetch.wait.max.ms (500 ms), even when records arrive meanwhile.
bool folded_to(const std::vector<ServeNode*>& nodes, const std::vector<int64_t>& ends) {
  if (!testing::settled(nodes, partitions)) return false;
  for (ServeNode* node : nodes) {
    auto scrape = node->scrape();
    if (!scrape) return false;
    for (int32_t p : scrape->owned) {
      if (scrape->next_offset[p] < ends[static_cast<std::size_t>(p)]) return false;
    }
  }
  return true;
}

// Until the group of `nodes` has settled and folded what the log held once it had.
void wait_settled_and_folded(const std::vector<ServeNode*>& nodes, KafkaReader& reader, const std::string& what) {
  wait_for([&] { return testing::settled(nodes, partitions); }, failover_poll_ms, what + " settled",
           [&] { return testing::ownership_report(nodes); });
  const std::vector<int64_t> ends = log_ends(reader);
  wait_for([&] { return folded_to(nodes, ends); }, failover_poll_ms, what + " caught up",
           [&] { return testing::ownership_report(nodes); });
}

struct FailoverRound {
  double owned_seconds = 0;   // kill → the survivor reports owning the partition
  double served_seconds = 0;  // kill → ... and has folded it to the log's end at that moment
  double lag_zero_seconds = 0;  // kill → ... and reports its lag 0 (informational; see folded_to)
  bool survivor_dropped = false;  // the survivor gave up partitions it owned before the kill
  bool commit_refused = false;    // its log has a lag commit refused for an old generation
};

FailoverRound failover_round(const Args& args, std::vector<std::unique_ptr<ServeNode>>& nodes, int32_t partition,
                             KafkaReader& reader, const test_support::TempDir& dir, const std::string& brokers) {
  std::size_t victim = nodes.size();
  for (std::size_t i = 0; i < nodes.size(); ++i) {
    auto scrape = nodes[i]->scrape();
    if (scrape && scrape->owned.count(partition) != 0) victim = i;
  }
  if (victim == nodes.size()) die("nobody owns partition " + std::to_string(partition));
  ServeNode& survivor = *nodes[1 - victim];
  const auto before = survivor.scrape();
  if (!before) die(survivor.id() + " does not answer");
  FailoverRound round;
  int64_t end_at_takeover = 0;
  const auto killed_at = Clock::now();
  nodes[victim]->kill_now(SIGKILL);
  const std::size_t log_at_kill = survivor.log().size();
  wait_for(
      [&] {
        auto scrape = survivor.scrape();
        if (!scrape) return false;
        for (int32_t p : before->owned) round.survivor_dropped |= scrape->owned.count(p) == 0;
        if (scrape->owned.count(partition) == 0) return false;
        if (round.owned_seconds == 0) {
          round.owned_seconds = since(killed_at);
          end_at_takeover = take(reader.end_offset(PartitionId{partition}), "end offset").value;
        }
        if (round.served_seconds == 0 && scrape->next_offset[partition] >= end_at_takeover) {
          round.served_seconds = since(killed_at);
        }
        if (round.lag_zero_seconds == 0 && scrape->lag.count(partition) != 0 && scrape->lag[partition] == 0) {
          round.lag_zero_seconds = since(killed_at);
        }
        return round.served_seconds != 0 && round.lag_zero_seconds != 0;
      },
      failover_poll_ms, "partition " + std::to_string(partition) + " served again",
      [&] { return testing::ownership_report({&survivor}); });
  // How librdkafka 2.0.2 reports the refused commit (rd_kafka_err2str of ILLEGAL_GENERATION).
  const std::string log = survivor.log();
  round.commit_refused = log.find("generation id is not valid", std::min(log_at_kill, log.size())) != std::string::npos;
  // A restart of the killed process (same id, same data dir), so the next round starts from two.
  const std::string id = nodes[victim]->id();
  nodes[victim] = std::make_unique<ServeNode>(node_options(args, id, dir, brokers, "bench-failover"));
  nodes[victim]->start();
  wait_settled_and_folded(pointers(nodes), reader, "two nodes after a restart");
  return round;
}

void bench_failover(const Args& args) {
  test_support::TempDir dir("tally-cluster-bench");
  auto cluster = make_cluster();
  const KafkaOptions kafka = kafka_options(*cluster);
  std::vector<FailoverRound> rounds;
  {
    auto reader = take(KafkaReader::open(kafka, kafka_topic(kafka, kafka_events_kind)), "reader");
    std::vector<std::unique_ptr<ServeNode>> nodes;
    for (const char* id : {"n1", "n2"}) {
      nodes.push_back(std::make_unique<ServeNode>(node_options(args, id, dir, kafka.brokers, "bench-failover")));
      nodes.back()->start();
    }
    Trickle trickle(kafka, bench::workload_options(bench::Workload::mix, args.seed, partitions));
    wait_settled_and_folded(pointers(nodes), *reader, "two nodes");
    for (int r = 0; r < args.failover_rounds(); ++r) {
      // Partitions 0, 3, 6, 1, 4: different owners and places in the assignment.
      rounds.push_back(failover_round(args, nodes, (r * 3) % partitions, *reader, dir, kafka.brokers));
      if (std::string error = trickle.error(); !error.empty()) die(error);
      const FailoverRound& last = rounds.back();
      std::printf("# failover round %d: partition %d owned after %.2f s, served after %.2f s, lag 0 after %.2f s%s\n",
                  r + 1, (r * 3) % partitions, last.owned_seconds, last.served_seconds, last.lag_zero_seconds,
                  last.survivor_dropped ? "; the survivor dropped its own partitions meanwhile" : "");
      std::fflush(stdout);
    }
  }
  std::vector<double> served, owned, lag_zero;
  std::size_t dropped = 0, refused = 0;
  for (const FailoverRound& r : rounds) {
    served.push_back(r.served_seconds);
    owned.push_back(r.owned_seconds);
    lag_zero.push_back(r.lag_zero_seconds);
    dropped += r.survivor_dropped ? 1 : 0;
    refused += r.survivor_dropped && r.commit_refused ? 1 : 0;
  }
  std::printf("bench failover_seconds %.2f s\n", median(served));
  const double session_s = args.session_timeout_ms / 1000.0;
  std::printf("# failover (median of %zu): kill -> owned %.2f s, owned -> folded %.2f s, kill -> lag 0 %.2f s\n",
              rounds.size(), median(owned), median(served) - median(owned), median(lag_zero));
  std::printf("# where it goes: the mock drops the dead member %.1f s (session.timeout.ms) after its last heartbeat "
              "(checked once a second), then waits %.1f s (session.timeout.ms - 1 s) before it assigns. In %zu of %zu "
              "rounds the survivor also dropped the partitions it owned and rejoined (one more %.1f s rebalance); in "
              "%zu of those its log has a lag commit refused for the old generation (ILLEGAL_GENERATION), which "
              "librdkafka 2.0.2 takes for a lost assignment (librdkafka issue 4059)\n",
              session_s, session_s - 1, dropped, rounds.size(), session_s - 1, refused);
  std::fflush(stdout);
}

// ---- backlog

struct Backlog {
  std::vector<std::vector<AppendRequest>> batches;
  uint64_t records = 0;  // in the log: a to_every_partition request is one per partition
  double fullest_partition_bytes = 0;
};

// Generated once, before any timing: the producer's figure is the append alone.
Backlog make_backlog(const Args& args) {
  testkit::WorkloadGenerator generator(bench::workload_options(bench::Workload::mix, args.seed, partitions));
  Backlog backlog;
  std::vector<double> bytes(partitions, 0);
  while (generator.generated() < args.events) {
    std::vector<AppendRequest>& batch = backlog.batches.emplace_back();
    generator.generate(std::min(produce_batch_events, args.events - generator.generated()), batch);
    for (const AppendRequest& r : batch) {
      const double size = static_cast<double>(r.key.size() + r.value.size() + record_overhead_bytes);
      if (r.to_every_partition) {
        for (double& b : bytes) b += size;
        backlog.records += partitions;
      } else {
        bytes[static_cast<std::size_t>(partition_for_key(r.key, partitions))] += size;
        ++backlog.records;
      }
    }
  }
  backlog.fullest_partition_bytes = *std::max_element(bytes.begin(), bytes.end());
  return backlog;
}

// Every partition still starts at offset 0: the mock's retention dropped nothing the nodes needed.
void check_retention(const KafkaOptions& options) {
  auto reader = take(KafkaReader::open(options, kafka_topic(options, kafka_events_kind)), "reader");
  for (int32_t p = 0; p < partitions; ++p) {
    if (Status s = reader->seek(PartitionId{p}, Offset{0}); !s.is_ok()) die("seek: " + s.to_string());
  }
  std::vector<bool> seen(partitions, false);
  std::vector<LogRecord> out;
  const auto until = Clock::now() + std::chrono::seconds(30);
  while (std::count(seen.begin(), seen.end(), true) < partitions) {
    if (Clock::now() > until) die("retention check: a partition yielded nothing");
    if (Status s = reader->poll(out, 1'000, 1'000); !s.is_ok()) die("the mock dropped backlog records: " + s.to_string());
    for (const LogRecord& r : out) {
      const auto p = static_cast<std::size_t>(r.position.partition.value);
      if (!seen[p] && r.position.offset.value != 0) die("the mock dropped the head of partition " + std::to_string(p));
      seen[p] = true;
    }
  }
}

struct BacklogRun {
  double produce_seconds = 0;     // first append → last delivered, before any node runs
  double settle_seconds = 0;      // first node's start → every partition owned once
  double assign_spread_seconds = 0;  // first partition owned → every partition owned
  double fold_seconds = 0;        // first partition owned → every partition caught up
};

BacklogRun backlog_run(const Args& args, const Backlog& backlog, int node_count, int run) {
  test_support::TempDir dir("tally-cluster-bench");
  auto cluster = make_cluster();
  const KafkaOptions kafka = kafka_options(*cluster);
  const std::string group = "bench-backlog-" + std::to_string(node_count) + "-" + std::to_string(run);
  BacklogRun result;
  {
    auto writer = take(KafkaWriter::open(kafka, kafka_topic(kafka, kafka_events_kind)), "writer");
    const auto first_append = Clock::now();
    for (const auto& batch : backlog.batches) take(writer->append(batch), "append");
    result.produce_seconds = since(first_append);
  }
  if (run == 0) check_retention(kafka);
  {
    std::vector<std::unique_ptr<ServeNode>> nodes;
    const auto started = Clock::now();
    for (int i = 0; i < node_count; ++i) {
      const std::string id = "n" + std::to_string(i + 1);
      nodes.push_back(std::make_unique<ServeNode>(node_options(args, id, dir, kafka.brokers, group)));
      nodes.back()->start();
    }
    const std::vector<ServeNode*> all = pointers(nodes);
    std::optional<Clock::time_point> first_owned;
    wait_for(
        [&] {
          for (ServeNode* node : all) {
            auto scrape = node->scrape();
            if (!first_owned && scrape && !scrape->owned.empty()) first_owned = Clock::now();
          }
          return first_owned && testing::settled(all, partitions);
        },
        backlog_poll_ms, "group settled", [&] { return testing::ownership_report(all); });
    result.settle_seconds = since(started);
    result.assign_spread_seconds = since(*first_owned);
    wait_for([&] { return testing::caught_up(all, partitions); }, backlog_poll_ms, "backlog caught up",
             [&] { return testing::ownership_report(all); });
    result.fold_seconds = since(*first_owned);
    for (auto& node : nodes) node->kill_now(SIGKILL);
  }
  return result;
}

void bench_backlog(const Args& args) {
  const Backlog backlog = make_backlog(args);
  std::printf("# backlog: %zu events of the mix workload, %llu records, fullest partition %.2f MiB (mock keeps ~5)\n",
              args.events, static_cast<unsigned long long>(backlog.records),
              backlog.fullest_partition_bytes / (1 << 20));
  if (backlog.fullest_partition_bytes > partition_bytes_max) die("backlog too large for the mock: lower --events");
  if (args.backlog_runs() < 3) std::printf("# quick: %d run per node count, not a median\n", args.backlog_runs());
  const double records = static_cast<double>(backlog.records);
  for (int k = 1; k <= 3; ++k) {
    std::vector<double> rates, ratios, produce, settle, spread;
    for (int run = 0; run < args.backlog_runs(); ++run) {
      const BacklogRun r = backlog_run(args, backlog, k, run);
      rates.push_back(records / r.fold_seconds);
      ratios.push_back(r.produce_seconds / r.fold_seconds);
      produce.push_back(records / r.produce_seconds);
      settle.push_back(r.settle_seconds);
      spread.push_back(r.assign_spread_seconds);
    }
    std::printf("bench projector_nodes_events_per_s_%d %lld events/s\n", k, static_cast<long long>(median(rates)));
    std::printf("bench nodes_vs_produce_ratio_%d %.3f ratio\n", k, median(ratios));
    std::printf("# %d node(s): settled %.2f s after the first start, %.2f s after the first partition was owned; "
                "producer alone %lld events/s\n",
                k, median(settle), median(spread), static_cast<long long>(median(produce)));
    std::fflush(stdout);
  }
}

}  // namespace
}  // namespace tally

int main(int argc, char** argv) {
  using namespace tally;
  Args args;
  try {
    args = parse(argc, argv);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "cluster_bench: %s\n", e.what());
    return 2;
  }
  std::fprintf(stderr, "cluster_bench: seed %llu, session timeout %d ms%s\n", static_cast<unsigned long long>(args.seed),
               args.session_timeout_ms, args.quick ? ", quick" : "");
  std::printf("# session.timeout.ms %d\n", args.session_timeout_ms);
  try {
    bench_failover(args);
    bench_backlog(args);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "cluster_bench: %s\n", e.what());
    return 1;
  }
  return 0;
}
