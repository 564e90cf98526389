// KafkaGroupMember on librdkafka's mock cluster: who owns which events partition as members join,
// leave and stall.
//
// The mock's group coordinator (librdkafka 2.0.2, src/rdkafka_mock_cgrp.c) sets the pace: the
// first join waits 3 s for more members, every later rebalance waits session.timeout.ms - 1 s for
// the members to rejoin, and it checks sessions once a second. session.timeout.ms must therefore
// exceed 3 s (a first member would otherwise time out while the mock waits), and each hand-over
// costs a few seconds: the waits below are generous deadlines on conditions, never fixed sleeps.
#include <boost/test/unit_test.hpp>
#include <librdkafka/rdkafka.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <map>
#include <mutex>
#include <ostream>
#include <set>
#include <thread>

#include "log/kafka_group.h"
#include "log/kafka_testing.h"

namespace tally {

std::ostream& operator<<(std::ostream& out, Status::Code code) { return out << static_cast<int>(code); }

namespace {

using Clock = std::chrono::steady_clock;
constexpr int32_t partitions = 8;
constexpr int session_timeout_ms = 5000;  // 2 s above the mock's 3 s first-join wait (slack for a loaded machine)
constexpr auto settle_deadline = std::chrono::seconds(40);
constexpr auto poll_step = std::chrono::milliseconds(20);

// Polls `done` until it holds or `deadline` passes; true if it held.
bool wait_until(const std::function<bool()>& done, std::chrono::seconds deadline) {
  const auto end = Clock::now() + deadline;
  while (!done()) {
    if (Clock::now() >= end) return false;
    std::this_thread::sleep_for(poll_step);
  }
  return true;
}

std::set<int32_t> values(const std::vector<PartitionId>& list) {
  std::set<int32_t> out;
  for (const PartitionId partition : list) out.insert(partition.value);
  return out;
}

std::string text(const std::set<int32_t>& set) {
  std::string out = "{";
  for (const int32_t p : set) out += (out.size() > 1 ? "," : "") + std::to_string(p);
  return out + "}";
}

// One callback invocation: 'a' assigned, 'r' revoked, 'l' lost.
struct Change {
  char kind;
  std::set<int32_t> partitions;
};

std::string text(const std::vector<Change>& changes) {
  std::string out;
  for (const Change& c : changes) out += std::string(out.empty() ? "" : " ") + c.kind + text(c.partitions);
  return out;
}

// An eager member's history: assigned, then as many rounds as the group ran, each revoking all it
// held and assigning anew; the last assignment is what it owns now.
bool revokes_everything_each_round(const std::vector<Change>& changes, const std::set<int32_t>& owned) {
  if (changes.empty() || changes.size() % 2 == 0) return false;
  for (std::size_t i = 0; i < changes.size(); ++i) {
    const char expected = i % 2 == 0 ? 'a' : 'r';
    if (changes[i].kind != expected) return false;
    if (expected == 'r' && changes[i].partitions != changes[i - 1].partitions) return false;
  }
  return changes.back().partitions == owned;
}

class Errors {
 public:
  void record(std::string_view message) {
    std::lock_guard lock(mutex_);
    all_.emplace_back(message);
  }
  bool saw(std::string_view part) {
    std::lock_guard lock(mutex_);
    return std::any_of(all_.begin(), all_.end(), [&](const std::string& m) { return m.find(part) != std::string::npos; });
  }
  std::vector<std::string> all() {
    std::lock_guard lock(mutex_);
    return all_;
  }

 private:
  std::mutex mutex_;
  std::vector<std::string> all_;
};

// A serve node's view of the group: the changes it was told of, in order.
struct Node {
  std::string name;
  std::mutex mutex;
  std::vector<Change> changes;
  std::unique_ptr<KafkaGroupMember> member;
  // The stall hook: while `stall` is set, the poll thread waits (as a stuck node would).
  std::mutex stall_mutex;
  std::condition_variable stall_changed;
  bool stall = false;
  std::atomic<bool> stalled{false};
  // Test hook for on_revoked: runs inside the callback, before the revoke is acknowledged.
  std::function<void(const std::set<int32_t>&)> while_revoking;

  void record(char kind, const std::vector<PartitionId>& list) {
    if (kind == 'r' && while_revoking) while_revoking(values(list));
    std::lock_guard lock(mutex);
    changes.push_back(Change{kind, values(list)});
  }
  std::vector<Change> all() {
    std::lock_guard lock(mutex);
    return changes;
  }
  std::set<int32_t> owned() const { return values(member->owned()); }
  void set_stall(bool on) {
    std::lock_guard lock(stall_mutex);
    stall = on;
    stall_changed.notify_all();
  }
  void before_poll() {
    std::unique_lock lock(stall_mutex);
    if (!stall) return;
    stalled = true;
    stall_changed.wait(lock, [&] { return !stall; });
    stalled = false;
  }
};

struct Cluster {
  Cluster() {
    auto created = MockKafkaCluster::create(1);
    BOOST_REQUIRE_MESSAGE(created.is_ok(), created.status().to_string());
    mock = std::move(created.value());
    options.brokers = mock->bootstraps();
    options.timeout_ms = 5000;
    options.on_client_error = [this](std::string_view message) { errors.record(message); };
    BOOST_REQUIRE(mock->create_topic(kafka_topic(options, kafka_events_kind), partitions, 1).is_ok());
  }
  ~Cluster() {
    for (auto& node : nodes) node->set_stall(false);
    nodes.clear();  // members close before the cluster goes
    for (const std::string& message : errors.all()) BOOST_TEST_MESSAGE("client error: " << message);
  }

  KafkaGroupOptions group_options(Node* node) {
    KafkaGroupOptions group;
    group.group_id = "tally-serve";
    group.session_timeout_ms = session_timeout_ms;
    group.heartbeat_interval_ms = 300;
    group.max_poll_interval_ms = session_timeout_ms;
    group.poll_wait_ms = 50;
    group.on_assigned = [node](std::vector<PartitionId> added) { node->record('a', added); };
    group.on_revoked = [node](std::vector<PartitionId> removed) { node->record('r', removed); };
    group.on_lost = [node](std::vector<PartitionId> lost) { node->record('l', lost); };
    group.before_poll_for_testing = [node] { node->before_poll(); };
    return group;
  }

  Node& join(const std::string& name, const std::function<void(KafkaGroupOptions&)>& adjust = {}) {
    nodes.push_back(std::make_unique<Node>());
    Node& node = *nodes.back();
    node.name = name;
    KafkaGroupOptions group = group_options(&node);
    if (adjust) adjust(group);
    auto opened = KafkaGroupMember::open(options, group);
    BOOST_REQUIRE_MESSAGE(opened.is_ok(), opened.status().to_string());
    node.member = std::move(opened.value());
    BOOST_REQUIRE_EQUAL(node.member->partition_count(), partitions);
    return node;
  }

  std::unique_ptr<MockKafkaCluster> mock;
  KafkaOptions options;
  Errors errors;
  std::vector<std::unique_ptr<Node>> nodes;
};

// Both own something, nothing twice, everything once. Reads `b` before `a`: a partition leaves
// its old owner before the group gives it to the new one, so an overlap seen in this order is real.
bool split_between(Node& a, Node& b) {
  const std::set<int32_t> owned_b = b.owned();
  const std::set<int32_t> owned_a = a.owned();
  std::set<int32_t> both;
  for (const int32_t p : owned_a) {
    if (owned_b.count(p) != 0) return false;
    both.insert(p);
  }
  both.insert(owned_b.begin(), owned_b.end());
  return !owned_a.empty() && !owned_b.empty() && both.size() == static_cast<std::size_t>(partitions);
}

// Waits until `a` and `b` split the partitions; records in `overlap` any partition seen owned by
// both on the way (read in split_between's order).
bool wait_for_split(Node& a, Node& b, std::set<int32_t>& overlap) {
  return wait_until(
      [&] {
        const std::set<int32_t> owned_b = b.owned();
        for (const int32_t p : a.owned()) {
          if (owned_b.count(p) != 0) overlap.insert(p);
        }
        return split_between(a, b);
      },
      settle_deadline);
}

std::set<int32_t> everything() {
  std::set<int32_t> all;
  for (int32_t p = 0; p < partitions; ++p) all.insert(p);
  return all;
}

BOOST_AUTO_TEST_CASE(a_second_member_takes_half_and_the_first_revokes_only_what_it_gives_up) {
  // Declared before the cluster: the revoke hook reads them, and the members leave the group (and
  // revoke) when the cluster is destroyed, at the end of the test.
  std::atomic<Node*> second_node{nullptr};
  std::atomic<int> overlaps_while_revoking{0};
  Cluster cluster;
  Node& first = cluster.join("first");
  BOOST_REQUIRE_MESSAGE(wait_until([&] { return first.owned() == everything(); }, settle_deadline),
                        "the only member owns everything; owns " << text(first.owned()));

  first.while_revoking = [&](const std::set<int32_t>& revoking) {
    // The group may not give a partition away before its owner has acknowledged the revoke.
    Node* other = second_node.load();
    if (other == nullptr) return;
    for (const int32_t p : other->owned()) overlaps_while_revoking += revoking.count(p) != 0 ? 1 : 0;
  };
  Node& second = cluster.join("second");
  second_node = &second;

  // While the group moves partitions, no moment shows one partition owned by both.
  std::set<int32_t> seen_overlap;
  BOOST_REQUIRE_MESSAGE(wait_for_split(first, second, seen_overlap),
                        "the members split the partitions; first " << text(first.owned()) << ", second "
                                                                   << text(second.owned()));
  BOOST_TEST(seen_overlap.empty(), "partitions owned by both at once: " << text(seen_overlap));
  BOOST_TEST(overlaps_while_revoking.load() == 0);
  BOOST_TEST(first.owned().size() == 4u);
  BOOST_TEST(second.owned().size() == 4u);

  // Cooperative: the first member was told to give up exactly what the second got, and kept the
  // rest without a revoke.
  const std::vector<Change> first_changes = first.all();
  BOOST_REQUIRE_EQUAL(first_changes.size(), 2u);
  BOOST_TEST(first_changes[0].kind == 'a');
  BOOST_TEST(first_changes[0].partitions == everything());
  BOOST_TEST(first_changes[1].kind == 'r');
  BOOST_TEST(first_changes[1].partitions == second.owned());
  const std::vector<Change> second_changes = second.all();
  BOOST_REQUIRE_EQUAL(second_changes.size(), 1u);
  BOOST_TEST(second_changes[0].kind == 'a');
  BOOST_TEST(second_changes[0].partitions == second.owned());
}

// The defensive path: a group on an eager assignor revokes everything at each rebalance.
BOOST_AUTO_TEST_CASE(an_eager_group_revokes_everything_and_assigns_again) {
  Cluster cluster;
  auto eager = [](KafkaGroupOptions& group) { group.assignment_strategy = "range"; };
  Node& first = cluster.join("first", eager);
  BOOST_REQUIRE_MESSAGE(wait_until([&] { return first.owned() == everything(); }, settle_deadline),
                        "the only member owns everything; owns " << text(first.owned()));
  Node& second = cluster.join("second", eager);
  std::set<int32_t> seen_overlap;
  BOOST_REQUIRE_MESSAGE(wait_for_split(first, second, seen_overlap),
                        "the members split the partitions; first " << text(first.owned()) << ", second "
                                                                   << text(second.owned()));
  BOOST_TEST(seen_overlap.empty(), "partitions owned by both at once: " << text(seen_overlap));

  // A group may rebalance more than once while a member joins (a member slow to rejoin a round is
  // dropped from it and rejoins in the next): each round revokes everything and assigns afresh.
  const std::vector<Change> first_changes = first.all();
  BOOST_REQUIRE_GE(first_changes.size(), 3u);
  BOOST_TEST(first_changes[0].partitions == everything());
  BOOST_TEST(revokes_everything_each_round(first_changes, first.owned()), "first: " << text(first_changes));
  BOOST_TEST(revokes_everything_each_round(second.all(), second.owned()), "second: " << text(second.all()));

  // close() revokes on the eager path too.
  second.member->close();
  BOOST_TEST(second.all().back().kind == 'r');
  BOOST_TEST(second.owned().empty());
}

BOOST_AUTO_TEST_CASE(a_member_that_closes_hands_its_partitions_to_the_other) {
  Cluster cluster;
  Node& leaving = cluster.join("leaving");
  Node& staying = cluster.join("staying");
  BOOST_REQUIRE_MESSAGE(wait_until([&] { return split_between(leaving, staying); }, settle_deadline),
                        "the members split the partitions; leaving " << text(leaving.owned()) << ", staying "
                                                                     << text(staying.owned()));
  const std::set<int32_t> given_up = leaving.owned();
  const std::set<int32_t> kept = staying.owned();

  leaving.member->close();
  BOOST_TEST(leaving.owned().empty());
  const std::vector<Change> leaving_changes = leaving.all();
  BOOST_REQUIRE(!leaving_changes.empty());
  BOOST_TEST(leaving_changes.back().kind == 'r');
  BOOST_TEST(leaving_changes.back().partitions == given_up);
  BOOST_TEST(leaving.member->commit_lag({{PartitionId{0}, Offset{1}}}).code() == Status::Code::unavailable);
  leaving.member->close();  // idempotent

  BOOST_REQUIRE_MESSAGE(wait_until([&] { return staying.owned() == everything(); }, settle_deadline),
                        "the staying member owns everything; owns " << text(staying.owned()));
  // It kept its own partitions throughout: only assignments, the last one being what was handed over.
  const std::vector<Change> staying_changes = staying.all();
  for (const Change& change : staying_changes) BOOST_TEST(change.kind == 'a');
  BOOST_REQUIRE(!staying_changes.empty());
  BOOST_TEST(staying_changes.back().partitions == given_up);
  BOOST_TEST(staying_changes.front().partitions == kept);
}

BOOST_AUTO_TEST_CASE(a_stalled_member_loses_its_partitions_and_hears_so_when_it_resumes) {
  Cluster cluster;
  Node& stalling = cluster.join("stalling");
  Node& healthy = cluster.join("healthy");
  BOOST_REQUIRE_MESSAGE(wait_until([&] { return split_between(stalling, healthy); }, settle_deadline),
                        "the members split the partitions; stalling " << text(stalling.owned()) << ", healthy "
                                                                      << text(healthy.owned()));
  const std::set<int32_t> held = stalling.owned();
  const std::size_t changes_before = stalling.all().size();

  // The poll thread stops; librdkafka's heartbeats go on, so the group notices through
  // max.poll.interval.ms: librdkafka leaves the group on the stalled member's behalf.
  stalling.set_stall(true);
  BOOST_REQUIRE(wait_until([&] { return stalling.stalled.load(); }, std::chrono::seconds(5)));
  BOOST_REQUIRE_MESSAGE(wait_until([&] { return healthy.owned() == everything(); }, settle_deadline),
                        "the healthy member took everything; owns " << text(healthy.owned()));
  // The zombie window of the CAVEATS: the stalled member has not heard yet and still believes.
  BOOST_TEST(stalling.owned() == held);
  BOOST_TEST(stalling.all().size() == changes_before);

  stalling.set_stall(false);
  BOOST_REQUIRE_MESSAGE(wait_until(
                            [&] {
                              const std::vector<Change> changes = stalling.all();
                              return changes.size() > changes_before;
                            },
                            settle_deadline),
                        "the stalled member hears of its loss once it polls again");
  const Change heard = stalling.all()[changes_before];
  BOOST_TEST(heard.kind == 'l');
  BOOST_TEST(heard.partitions == held);
  BOOST_TEST(cluster.errors.saw("maximum poll interval"));
  // It dropped the lost partitions at once (it may rejoin and get some back later).
  BOOST_TEST(wait_until(
      [&] {
        const std::set<int32_t> owned_now = stalling.owned();
        const std::vector<Change> changes = stalling.all();
        return changes.size() > changes_before + 1 || owned_now.empty();
      },
      std::chrono::seconds(5)));
}

BOOST_AUTO_TEST_CASE(lag_commits_are_readable_by_the_group) {
  Cluster cluster;
  // Static membership is accepted (the mock ignores group.instance.id).
  Node& node = cluster.join("node", [](KafkaGroupOptions& group) { group.group_instance_id = "node-1"; });
  BOOST_REQUIRE_MESSAGE(wait_until([&] { return node.owned() == everything(); }, settle_deadline),
                        "the only member owns everything; owns " << text(node.owned()));

  BOOST_TEST(node.member->commit_lag({{PartitionId{partitions}, Offset{1}}}).code() == Status::Code::invalid_argument);
  BOOST_TEST(node.member->commit_lag({{PartitionId{0}, Offset{-1}}}).code() == Status::Code::invalid_argument);
  const std::map<int32_t, int64_t> lag{{0, 5}, {3, 42}, {7, 1000}};
  std::vector<std::pair<PartitionId, Offset>> next_offsets;
  for (const auto& [p, offset] : lag) next_offsets.emplace_back(PartitionId{p}, Offset{offset});
  const Status committed = node.member->commit_lag(next_offsets);
  BOOST_REQUIRE_MESSAGE(committed.is_ok(), committed.to_string());

  // Another client of the same group (not a member: it never subscribes) reads them back.
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  char errstr[512];
  BOOST_REQUIRE(rd_kafka_conf_set(conf, "bootstrap.servers", cluster.options.brokers.c_str(), errstr, sizeof errstr) ==
                RD_KAFKA_CONF_OK);
  BOOST_REQUIRE(rd_kafka_conf_set(conf, "group.id", "tally-serve", errstr, sizeof errstr) == RD_KAFKA_CONF_OK);
  rd_kafka_t* reader = rd_kafka_new(RD_KAFKA_CONSUMER, conf, errstr, sizeof errstr);
  BOOST_REQUIRE_MESSAGE(reader != nullptr, errstr);
  const std::string topic = kafka_topic(cluster.options, kafka_events_kind);
  std::map<int32_t, int64_t> read_back;
  const bool visible = wait_until(
      [&] {
        rd_kafka_topic_partition_list_t* list = rd_kafka_topic_partition_list_new(partitions);
        for (int32_t p = 0; p < partitions; ++p) rd_kafka_topic_partition_list_add(list, topic.c_str(), p);
        read_back.clear();
        if (rd_kafka_committed(reader, list, 5000) == RD_KAFKA_RESP_ERR_NO_ERROR) {
          for (int i = 0; i < list->cnt; ++i) {
            if (list->elems[i].offset >= 0) read_back[list->elems[i].partition] = list->elems[i].offset;
          }
        }
        rd_kafka_topic_partition_list_destroy(list);
        return read_back == lag;
      },
      std::chrono::seconds(20));
  rd_kafka_destroy(reader);
  BOOST_TEST(visible);
  BOOST_TEST(read_back.size() == lag.size());
}

BOOST_AUTO_TEST_CASE(open_says_what_is_wrong) {
  Cluster cluster;
  Node node;
  KafkaGroupOptions group = cluster.group_options(&node);
  group.group_id.clear();
  BOOST_TEST(KafkaGroupMember::open(cluster.options, group).status().field() == "group_id");
  group = cluster.group_options(&node);
  group.max_poll_interval_ms = group.session_timeout_ms - 1;
  BOOST_TEST(KafkaGroupMember::open(cluster.options, group).status().field() == "max_poll_interval_ms");
  group = cluster.group_options(&node);
  group.heartbeat_interval_ms = group.session_timeout_ms;
  BOOST_TEST(KafkaGroupMember::open(cluster.options, group).status().field() == "session_timeout_ms");
  KafkaOptions elsewhere = cluster.options;
  elsewhere.topic_prefix = "absent";
  BOOST_TEST(KafkaGroupMember::open(elsewhere, cluster.group_options(&node)).status().code() ==
             Status::Code::not_found);
  KafkaOptions fixed = cluster.options;
  fixed.properties = {{"enable.auto.commit", "true"}};
  BOOST_TEST(KafkaGroupMember::open(fixed, cluster.group_options(&node)).status().code() ==
             Status::Code::invalid_argument);
}

}  // namespace
}  // namespace tally
