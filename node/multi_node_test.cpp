// Several `tally serve` nodes sharing the events partitions through one Kafka consumer group
// (SPEC §13), as separate processes on loopback, on librdkafka's mock cluster hosted by this test
// process, each running the recharge connector against the Stripe emulator. The group scales 1 → 3 → 2 mid-stream, an owner is SIGKILLed, another is SIGSTOPped
// past its session timeout and woken (a zombie for a moment). Throughout, reads through any node
// equal the owner's and read-your-writes holds across nodes with min_position; at the end the
// stores the nodes left behind, partition by partition, hold exactly what one process replaying
// the whole log computes (every view digest), so nothing was lost, doubled or diverged, and
// Stripe holds exactly one charge for each recharge the views requested, although every node
// charged every signal it read (and a zombie emitted signals it no longer owned).
#include <boost/test/unit_test.hpp>

#include <signal.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include <boost/json.hpp>

#include "engine/partitioner.h"
#include "log/kafka_log.h"
#include "log/kafka_testing.h"
#include "outbound/http_client.h"
#include "projections/partitioned_layout.h"
#include "projections/views.h"
#include "tests/support/temp_dir.h"
#include "node/testing/serve_nodes.h"
#include "outbound/stripe_client.h"
#include "outbound/testing/stripe_emulator.h"
#include "outbound/testing/stripe_test.h"
#include "relay/testing/relay_harness.h"
#include "tests/support/text_file.h"

using namespace tally;
using connectors::HttpResponse;
using test_support::TempDir;
using testing::ServeNode;
namespace json = boost::json;
using Clock = std::chrono::steady_clock;

namespace {

constexpr int32_t partitions = 8;
constexpr int orgs = 24;
constexpr auto settle_deadline = std::chrono::seconds(90);
// Rounds of killing a node mid-stream and bringing it back after the main story: none by default,
// TALLY_CLUSTER_SOAK_ROUNDS in the soak (ctest multi_node_soak_test).
int soak_rounds() {
  const char* value = std::getenv("TALLY_CLUSTER_SOAK_ROUNDS");
  return value != nullptr ? std::atoi(value) : 0;
}

template <typename F>
bool eventually(F&& condition) {
  return testing::eventually(std::forward<F>(condition), settle_deadline);
}
bool settled(const std::vector<ServeNode*>& nodes) { return testing::settled(nodes, partitions); }
bool caught_up(const std::vector<ServeNode*>& nodes) { return testing::caught_up(nodes, partitions); }
std::string settle_report(const std::vector<ServeNode*>& nodes) { return testing::ownership_report(nodes); }

testing::ServeNodeOptions node_options(const std::string& id, const TempDir& dir, const std::string& brokers) {
  testing::ServeNodeOptions options;
  options.tally_binary = TALLY_BINARY;
  options.id = id;
  options.data_dir = dir.sub(id);
  options.brokers = brokers;
  // Every node charges the recharges it reads on the signals topic.
  options.extra_args = {"--roles", "api,projector,recharge", "--stripe-url", connectors::testing::emulator().base_url()};
  options.extra_env = {std::string("TALLY_STRIPE_KEY=") + connectors::testing::StripeEmulator::api_key};
  return options;
}

connectors::StripeClient stripe_client() {
  connectors::StripeConfig config;
  config.base_url = connectors::testing::emulator().base_url();
  config.api_key = connectors::testing::StripeEmulator::api_key;
  return connectors::StripeClient(config);
}

// An org with 50 credits, auto-refill below 20 up to 100 on a card, then 45 credits of usage: the
// fold requests one recharge (at the position of that usage).
void request_refill(LogWriter& log, const std::string& org) {
  connectors::StripeClient client = stripe_client();
  auto customer = client.create_customer("tok_visa");
  BOOST_REQUIRE_MESSAGE(customer.is_ok(), customer.status().to_string());
  connectors::testing::OrgScript script(log, org);
  BOOST_REQUIRE(script.purchase(50).is_ok());
  BOOST_REQUIRE(script.auto_refill(20, 100, customer.value()).is_ok());
  BOOST_REQUIRE(script.usage_output_tokens(3'000'000).is_ok());  // 45 credits at 15 per Mtok
}



int64_t unix_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::string org_id(int i) { return "org-" + std::to_string(i); }

// The usage events of `org` among batches "a" and "b" (400 each, spread by index over the orgs).
int64_t usage_events_ab(int org) { return 2 * (400 / orgs + (org < 400 % orgs ? 1 : 0)); }

std::string rate_card() {
  return R"({"type":"rate_card_published","idempotency_key":"rc-1","occurred_at_ms":)" + std::to_string(unix_ms() - 60'000) +
         R"(,"version":1,"markup_bp":10000,"models":[{"model":"m1","input_per_mtok_micros":1000000,"output_per_mtok_micros":2000000},)"
         R"({"model":"claude-sonnet-4","input_per_mtok_micros":3000000,"output_per_mtok_micros":15000000}]})";
}
std::string signup(int org) {
  return R"({"type":"signup_allocation","idempotency_key":"signup-)" + std::to_string(org) + R"(","org_id":")" +
         org_id(org) + R"(","occurred_at_ms":)" + std::to_string(unix_ms() - 1'000) +
         R"(,"credits_micros":50000000000})";
}
// 1,000 input tokens of m1: 1,000 µcr.
std::string usage(int org, const std::string& key) {
  return R"({"type":"usage","idempotency_key":")" + key + R"(","org_id":")" + org_id(org) +
         R"(","occurred_at_ms":)" + std::to_string(unix_ms() - 1'000) +
         R"(,"member_id":"m","meter":"llm_tokens","model":"m1","input_tokens":1000,"output_tokens":0})";
}

// Posts `count` usage events (keys batch-i) spread over the orgs, 50 per request, through `node`.
void post_usage(ServeNode& node, const std::string& batch, int count) {
  for (int first = 0; first < count; first += 50) {
    std::string body = "[";
    for (int i = first; i < std::min(count, first + 50); ++i) {
      body += (i == first ? "" : ",") + usage(i % orgs, batch + "-" + std::to_string(i));
    }
    node.post_events(body + "]");
  }
}

// From /metrics: how many partitions `node` caught up from `source` (own_store, snapshot, log).
int64_t catchups(ServeNode& node, const std::string& source) {
  std::optional<HttpResponse> metrics = node.get("/metrics");
  if (!metrics) return -1;
  const std::string line = "tally_partition_catchups_total{source=\"" + source + "\"} ";
  const std::size_t at = metrics->body.find(line);
  return at == std::string::npos ? -1 : std::stoll(metrics->body.substr(at + line.size()));
}

// GET credits of `org` through `node`: (balance_micros, as_of).
std::optional<std::pair<int64_t, std::string>> credits(ServeNode& node, const std::string& org,
                                                       const std::string& query = "") {
  std::optional<HttpResponse> r = node.get("/api/v1/org/" + org + "/credits" + query);
  if (!r || r->status_code != 200) return std::nullopt;
  const json::object o = json::parse(r->body).as_object();
  return std::pair{o.at("balance_micros").to_number<int64_t>(), std::string(o.at("as_of").as_string())};
}

}  // namespace

using connectors::testing::EmulatorFixture;
BOOST_TEST_GLOBAL_FIXTURE(EmulatorFixture);

BOOST_AUTO_TEST_CASE(a_group_of_serve_nodes_scales_fails_over_and_agrees_with_one_replay) {
  TempDir dir;
  auto cluster = MockKafkaCluster::create(3);
  BOOST_REQUIRE_MESSAGE(cluster.is_ok(), cluster.status().to_string());
  const std::string brokers = cluster.value()->bootstraps();
  BOOST_REQUIRE(cluster.value()->create_topic("tally.events", partitions, 1).is_ok());
  BOOST_REQUIRE(cluster.value()->create_topic("tally.signals", 1, 1).is_ok());
  BOOST_REQUIRE(cluster.value()->create_topic("tally.members", 1, 1).is_ok());
  KafkaOptions kafka;
  kafka.brokers = brokers;
  kafka.on_client_error = [](std::string_view) {};
  auto events = KafkaWriter::open(kafka, "tally.events");
  BOOST_REQUIRE_MESSAGE(events.is_ok(), events.status().to_string());
  std::vector<std::string> refill_orgs;
  const auto refill = [&](int i) {
    refill_orgs.push_back("refill-" + std::to_string(i));
    request_refill(*events.value(), refill_orgs.back());
  };

  ServeNode n1(node_options("n1", dir, brokers));
  ServeNode n2(node_options("n2", dir, brokers));
  ServeNode n3(node_options("n3", dir, brokers));

  // One node: it owns every partition.
  n1.start();
  BOOST_REQUIRE_MESSAGE(eventually([&] { return settled({&n1}); }), settle_report({&n1}) << n1.log());
  std::string opening = "[" + rate_card();
  for (int i = 0; i < orgs; ++i) opening += "," + signup(i);
  n1.post_events(opening + "]");
  post_usage(n1, "a", 400);
  refill(0);
  refill(1);

  // Three: the partitions spread, each owned once; reads through any node equal the owner's.
  n2.start();
  n3.start();
  BOOST_REQUIRE_MESSAGE(eventually([&] { return settled({&n1, &n2, &n3}); }),
                        settle_report({&n1, &n2, &n3}) << "\n" << n3.log());
  // The partitions n2 and n3 took from n1 came as snapshots of n1's stores (verified against the
  // digest and chain head n1 sent), not folded again from offset 0.
  BOOST_TEST(catchups(n2, "snapshot") + catchups(n3, "snapshot") >= 2, n2.log() << n3.log());
  BOOST_TEST(catchups(n2, "log") + catchups(n3, "log") == 0);
  post_usage(n2, "b", 400);
  refill(2);
  refill(3);
  BOOST_REQUIRE_MESSAGE(eventually([&] { return caught_up({&n1, &n2, &n3}); }), settle_report({&n1, &n2, &n3}));
  for (int org = 0; org < orgs; org += 5) {
    const auto one = credits(n1, org_id(org)), two = credits(n2, org_id(org)), three = credits(n3, org_id(org));
    BOOST_REQUIRE(one && two && three);
    BOOST_TEST(one->first == two->first, org_id(org));
    BOOST_TEST(one->first == three->first, org_id(org));
    BOOST_TEST(one->second == three->second, org_id(org));
    // 50,000 credits, less 1,000 µcr for each of its usage events.
    BOOST_TEST(one->first == 50'000'000'000 - 1'000 * usage_events_ab(org), org_id(org));
  }
  // Read-your-writes across nodes: a usage posted through n1 for an org another node owns is in
  // the read through n1 given its position (forwarded to the owner, which waits for it).
  const auto n1_owns = n1.scrape();
  BOOST_REQUIRE(n1_owns.has_value());
  int remote = 0;
  for (int org = 0; org < orgs; ++org) {
    if (n1_owns->owned.count(partition_for_key(org_id(org), partitions)) != 0) continue;
    HttpResponse posted = n1.post_events(usage(org, "ryw-" + std::to_string(org)));
    const std::string position(json::parse(posted.body).at("position").as_string());
    const auto read = credits(n1, org_id(org), "?min_position=" + position);
    BOOST_REQUIRE_MESSAGE(read.has_value(), "read at " << position);
    BOOST_TEST(read->first == 50'000'000'000 - 1'000 * (usage_events_ab(org) + 1), org_id(org));
    ++remote;
  }
  BOOST_TEST(remote >= 4);

  // An owner killed mid-stream: the others take its partitions over and fold what it left.
  post_usage(n1, "c", 200);
  refill(4);
  // Waits until `nodes` own every partition between them while records keep coming, so the
  // nodes commit batches throughout the group's reassignment.
  const auto reassigned_while_records_flow = [&](const std::vector<ServeNode*>& nodes) {
    std::atomic<bool> flowing{true};
    std::thread flow([&] {
      connectors::testing::OrgScript script(*events.value(), "flow");
      (void)script.purchase(1'000);
      while (flowing) {
        (void)script.usage_output_tokens(1'000);
        std::this_thread::sleep_for(std::chrono::milliseconds(5));  // a steady stream, not a wait
      }
    });
    const bool reassigned = eventually([&] { return settled(nodes); });
    flowing = false;
    flow.join();
    BOOST_REQUIRE_MESSAGE(reassigned, settle_report(nodes));
  };
  const auto took_on = [&](ServeNode& node) {
    return catchups(node, "own_store") + catchups(node, "snapshot") + catchups(node, "log");
  };
  const auto owned_before_1 = n1.scrape()->owned, owned_before_2 = n2.scrape()->owned;
  const int64_t took_on_before_1 = took_on(n1), took_on_before_2 = took_on(n2);
  const auto killed_at = Clock::now();
  n3.kill_now(SIGKILL);
  post_usage(n1, "d", 200);
  reassigned_while_records_flow({&n1, &n2});
  BOOST_REQUIRE_MESSAGE(eventually([&] { return settled({&n1, &n2}) && caught_up({&n1, &n2}); }),
                        settle_report({&n1, &n2}));
  const double failover_s = std::chrono::duration<double>(Clock::now() - killed_at).count();
  BOOST_TEST_MESSAGE("bench failover_seconds " << failover_s << " s (kill to every partition served and caught up)");
  // The survivors kept serving their own partitions through the failover: each took on only the
  // dead node's (a survivor that lost its assignment takes its own partitions on again).
  const auto gained = [](const std::set<int32_t>& before, const std::set<int32_t>& after) {
    int64_t n = 0;
    for (int32_t p : after) n += before.count(p) == 0 ? 1 : 0;
    return n;
  };
  BOOST_TEST(took_on(n1) - took_on_before_1 == gained(owned_before_1, n1.scrape()->owned), n1.log());
  BOOST_TEST(took_on(n2) - took_on_before_2 == gained(owned_before_2, n2.scrape()->owned), n2.log());

  // A node stopped past its session timeout: n1 takes everything; woken, n2 learns it lost its
  // partitions (a zombie until then) and rejoins.
  const auto owned_alone_before = n1.scrape()->owned;
  const int64_t took_on_alone_before = took_on(n1);
  n2.signal(SIGSTOP);
  reassigned_while_records_flow({&n1});
  BOOST_TEST(took_on(n1) - took_on_alone_before == gained(owned_alone_before, n1.scrape()->owned), n1.log());
  post_usage(n1, "e", 200);
  refill(5);
  n2.signal(SIGCONT);
  BOOST_REQUIRE_MESSAGE(eventually([&] { return settled({&n1, &n2}); }), settle_report({&n1, &n2}));
  post_usage(n2, "f", 200);

  // The killed node comes back on its data dir: the partitions it gets resume from its own stores.
  n3.start();
  BOOST_REQUIRE_MESSAGE(eventually([&] { return settled({&n1, &n2, &n3}); }),
                        settle_report({&n1, &n2, &n3}) << "\n" << n3.log());
  // Each partition it got resumed from its own earlier store or from the previous owner's
  // snapshot (which the assignment picks is the group's choice), none from offset 0.
  const auto n3_owns = n3.scrape();
  BOOST_REQUIRE(n3_owns.has_value());
  BOOST_TEST(catchups(n3, "own_store") + catchups(n3, "snapshot") >= static_cast<int64_t>(n3_owns->owned.size()));
  BOOST_TEST(catchups(n3, "log") == 0, n3.log());
  post_usage(n3, "g", 200);
  // The soak (ctest -L soak): more rounds of killing one node mid-stream and bringing it back.
  ServeNode* nodes_in_turn[] = {&n1, &n2, &n3};
  for (int round = 0, rounds = soak_rounds(); round < rounds; ++round) {
    ServeNode& victim = *nodes_in_turn[round % 3];
    post_usage(*nodes_in_turn[(round + 1) % 3], "soak-" + std::to_string(round) + "-a", 200);
    victim.kill_now(SIGKILL);
    post_usage(*nodes_in_turn[(round + 1) % 3], "soak-" + std::to_string(round) + "-b", 200);
    victim.start();
    BOOST_REQUIRE_MESSAGE(eventually([&] { return settled({&n1, &n2, &n3}); }), settle_report({&n1, &n2, &n3}));
  }
  BOOST_REQUIRE_MESSAGE(eventually([&] { return caught_up({&n1, &n2, &n3}); }), settle_report({&n1, &n2, &n3}));
  // Every refill landed (50 - 45 + 100 credits) before the nodes stop.
  for (const std::string& org : refill_orgs) {
    BOOST_TEST(eventually([&] {
                 const auto c = credits(n1, org);
                 return c && c->first == 105'000'000;
               }),
               org);
  }
  BOOST_TEST(n1.stop() == 0, n1.log());
  BOOST_TEST(n2.stop() == 0, n2.log());
  BOOST_TEST(n3.stop() == 0, n3.log());

  // One process replays the whole log.
  const std::string replayed = dir.sub("replayed");
  {
    const std::string command = std::string(TALLY_BINARY) + " replay --kafka " + brokers + " --into " + replayed +
                                " > " + dir.sub("replay.out") + " 2>&1";
    BOOST_REQUIRE_MESSAGE(std::system(command.c_str()) == 0, test_support::read_text_file(dir.sub("replay.out")));
  }
  // For every partition, the store that folded it furthest among the nodes' data dirs; every other
  // copy that got as far (a partition folded by two nodes: hand-overs, the zombie) is the same.
  const std::string assembled = dir.sub("assembled");
  BOOST_REQUIRE(write_partitioned_layout(assembled, partitions).is_ok());
  for (int32_t p = 0; p < partitions; ++p) {
    std::map<int64_t, std::vector<std::string>> stores;  // by next offset
    for (ServeNode* node : {&n1, &n2, &n3}) {
      const std::string store = partition_store_dir(node->data() + "/views", PartitionId{p});
      auto views = ViewReader::open(store);
      if (!views.is_ok()) continue;
      auto held = views.value()->partitions();
      if (held.is_ok() && !held->empty()) stores[held->front().next_offset.value].push_back(store);
    }
    BOOST_REQUIRE_MESSAGE(!stores.empty(), "no node folded partition " << p);
    const std::vector<std::string>& furthest = stores.rbegin()->second;
    const auto first = ViewReader::open(furthest.front()).value()->digests().value();
    for (std::size_t i = 1; i < furthest.size(); ++i) {
      BOOST_TEST(ViewReader::open(furthest[i]).value()->digests().value().at("all").to_hex() == first.at("all").to_hex(),
                 furthest[i] << " against " << furthest.front());
    }
    BOOST_TEST_MESSAGE("partition " << p << ": " << furthest.size() << " complete copies");
    std::filesystem::create_directory_symlink(furthest.front(), partition_store_dir(assembled, PartitionId{p}));
  }
  auto single = ViewReader::open(replayed);
  BOOST_REQUIRE_MESSAGE(single.is_ok(), single.status().to_string());
  auto nodes = ViewReader::open(assembled);
  BOOST_REQUIRE_MESSAGE(nodes.is_ok(), nodes.status().to_string());
  const auto expected = single.value()->digests();
  const auto got = nodes.value()->digests();
  BOOST_REQUIRE(expected.is_ok() && got.is_ok());
  for (const auto& [name, digest] : expected.value()) {
    BOOST_TEST(got.value().at(name).to_hex() == digest.to_hex(), name);
  }

  // One Stripe charge per recharge the views requested, though up to three nodes charged each.
  connectors::StripeClient client = stripe_client();
  for (const std::string& org : refill_orgs) {
    SignalQuery query;
    query.org_id = OrgId::make(org).value();
    query.kind = SignalKind::recharge_requested;
    auto requested = nodes.value()->org_signals(query);
    BOOST_REQUIRE_MESSAGE(requested.is_ok(), requested.status().to_string());
    BOOST_TEST(requested->signals.size() == 1u, org);
    BOOST_TEST(connectors::testing::charges_with_metadata(client, "org_id", org) == requested->signals.size(), org);
  }
}
