// Several `tally serve` nodes sharing the events partitions through one Kafka consumer group
// (SPEC §13), as separate processes on loopback, on librdkafka's mock cluster hosted by this test
// process. The group scales 1 → 3 → 2 mid-stream, an owner is SIGKILLed, another is SIGSTOPped
// past its session timeout and woken (a zombie for a moment). Throughout, reads through any node
// equal the owner's and read-your-writes holds across nodes with min_position; at the end the
// stores the nodes left behind, partition by partition, hold exactly what one process replaying
// the whole log computes (every view digest), so nothing was lost, doubled or diverged.
#define BOOST_TEST_MODULE multi_node_test
#include <boost/test/unit_test.hpp>

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <regex>
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
#include "tests/support/text_file.h"

using namespace tally;
using connectors::HttpClient;
using connectors::HttpResponse;
using test_support::TempDir;
namespace json = boost::json;
using Clock = std::chrono::steady_clock;

namespace {

constexpr int32_t partitions = 8;
constexpr int orgs = 24;
constexpr int session_timeout_ms = 6'000;
constexpr const char* admin_secret = "multi-node-admin-token-0123";
constexpr auto settle_deadline = std::chrono::seconds(90);

int64_t unix_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::string org_id(int i) { return "org-" + std::to_string(i); }

// The usage events of `org` among batches "a" and "b" (400 each, spread by index over the orgs).
int64_t usage_events_ab(int org) { return 2 * (400 / orgs + (org < 400 % orgs ? 1 : 0)); }

// Polls `condition` until it holds or `deadline` passes (the polling is the wait, not a sleep
// standing in for one).
template <typename F>
bool eventually(F&& condition, std::chrono::steady_clock::duration deadline = settle_deadline) {
  const auto until = Clock::now() + deadline;
  while (Clock::now() < until) {
    if (condition()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return condition();
}

// One `tally serve` process of the group.
class ServeNode {
 public:
  ServeNode(std::string id, std::string data_dir, std::string brokers)
      : id_(std::move(id)), data_(std::move(data_dir)), brokers_(std::move(brokers)) {}
  ~ServeNode() { kill_now(SIGKILL); }

  void start() {
    log_path_ = data_ + ".log";
    const std::vector<std::string> argv = {
        TALLY_BINARY, "serve", "--kafka", brokers_, "--group", "tally-nodes", "--node-id", id_,
        "--data", data_, "--listen", "127.0.0.1:0", "--tick-interval-ms", "0",
        "--group-session-timeout-ms", std::to_string(session_timeout_ms),
        "--token", std::string("admin:") + admin_secret + ":admin"};
    std::vector<char*> args;
    for (const std::string& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, 1, log_path_.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    posix_spawn_file_actions_adddup2(&actions, 1, 2);
    const int spawned = ::posix_spawn(&pid_, args[0], &actions, nullptr, args.data(), environ);
    posix_spawn_file_actions_destroy(&actions);
    BOOST_REQUIRE_MESSAGE(spawned == 0, "cannot run " << argv[0]);
    const std::regex listening("listening on http://127\\.0\\.0\\.1:([0-9]+)");
    std::smatch match;
    const bool up = eventually([&] {
      const std::string text = test_support::read_text_file(log_path_);
      if (!std::regex_search(text, match, listening)) return false;
      port_ = static_cast<uint16_t>(std::stoi(match[1].str()));
      return true;
    });
    BOOST_REQUIRE_MESSAGE(up, id_ << " did not start: " << test_support::read_text_file(log_path_));
  }

  void signal(int sig) const { BOOST_REQUIRE(::kill(pid_, sig) == 0); }
  void kill_now(int sig) {
    if (pid_ <= 0) return;
    ::kill(pid_, sig);
    if (sig == SIGKILL) ::kill(pid_, SIGCONT);
    int status = 0;
    ::waitpid(pid_, &status, 0);
    pid_ = 0;
  }
  // SIGTERM and the exit status (0: a clean stop).
  int stop() {
    ::kill(pid_, SIGTERM);
    int status = 0;
    ::waitpid(pid_, &status, 0);
    pid_ = 0;
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  }

  std::string url(const std::string& path) const { return "http://127.0.0.1:" + std::to_string(port_) + path; }
  std::optional<HttpResponse> get(const std::string& path) {
    auto response = http_.get(url(path), {{"Authorization", std::string("Bearer ") + admin_secret}}, 15'000);
    if (!response.is_ok()) return std::nullopt;
    return response.value();
  }
  HttpResponse post_events(const std::string& body) {
    auto response = http_.post(url("/api/v1/events"),
                               {{"Authorization", std::string("Bearer ") + admin_secret},
                                {"Content-Type", "application/json"}},
                               body, 30'000);
    BOOST_REQUIRE_MESSAGE(response.is_ok(), response.status().to_string());
    BOOST_REQUIRE_MESSAGE(response->status_code == 202, response->status_code << " " << response->body);
    return response.value();
  }

  // From /metrics: the partitions it owns and its lag per partition; nullopt when unreachable.
  struct Scrape {
    std::set<int32_t> owned;
    std::map<int32_t, int64_t> lag;
  };
  std::optional<Scrape> scrape() {
    std::optional<HttpResponse> metrics = get("/metrics");
    if (!metrics || metrics->status_code != 200) return std::nullopt;
    Scrape scrape;
    const std::regex owned("tally_partition_owned\\{partition=\"([0-9]+)\"\\} 1");
    const std::regex lag("tally_consumer_lag\\{partition=\"([0-9]+)\"\\} ([0-9]+)");
    for (std::sregex_iterator it(metrics->body.begin(), metrics->body.end(), owned), end; it != end; ++it) {
      scrape.owned.insert(std::stoi((*it)[1].str()));
    }
    for (std::sregex_iterator it(metrics->body.begin(), metrics->body.end(), lag), end; it != end; ++it) {
      scrape.lag[std::stoi((*it)[1].str())] = std::stoll((*it)[2].str());
    }
    return scrape;
  }

  const std::string& id() const { return id_; }
  const std::string& data() const { return data_; }
  std::string log() const { return test_support::read_text_file(log_path_); }

 private:
  std::string id_, data_, brokers_, log_path_;
  pid_t pid_ = 0;
  uint16_t port_ = 0;
  HttpClient http_;
};

std::string rate_card() {
  return R"({"type":"rate_card_published","idempotency_key":"rc-1","occurred_at_ms":)" + std::to_string(unix_ms() - 60'000) +
         R"(,"version":1,"markup_bp":10000,"models":[{"model":"m1","input_per_mtok_micros":1000000,"output_per_mtok_micros":2000000}]})";
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

// Every partition owned by exactly one of `nodes`, and each of them owning at least one.
bool settled(std::vector<ServeNode*> nodes) {
  std::map<int32_t, int> owners;
  for (ServeNode* node : nodes) {
    auto scrape = node->scrape();
    if (!scrape || scrape->owned.empty()) return false;
    for (int32_t p : scrape->owned) ++owners[p];
  }
  if (owners.size() != static_cast<std::size_t>(partitions)) return false;
  for (const auto& [p, count] : owners) {
    if (count != 1) return false;
  }
  return true;
}

// Every partition's owner among `nodes` has folded it to the log's end.
bool caught_up(std::vector<ServeNode*> nodes) {
  std::set<int32_t> done;
  for (ServeNode* node : nodes) {
    auto scrape = node->scrape();
    if (!scrape) return false;
    for (int32_t p : scrape->owned) {
      if (scrape->lag.count(p) != 0 && scrape->lag[p] == 0) done.insert(p);
    }
  }
  return done.size() == static_cast<std::size_t>(partitions);
}

std::string settle_report(std::vector<ServeNode*> nodes) {
  std::string report;
  for (ServeNode* node : nodes) {
    auto scrape = node->scrape();
    report += node->id() + ":";
    if (!scrape) {
      report += " unreachable;";
      continue;
    }
    for (int32_t p : scrape->owned) report += " " + std::to_string(p) + "(lag " + std::to_string(scrape->lag[p]) + ")";
    report += ";";
  }
  return report;
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

BOOST_AUTO_TEST_CASE(a_group_of_serve_nodes_scales_fails_over_and_agrees_with_one_replay) {
  TempDir dir;
  auto cluster = MockKafkaCluster::create(3);
  BOOST_REQUIRE_MESSAGE(cluster.is_ok(), cluster.status().to_string());
  const std::string brokers = cluster.value()->bootstraps();
  BOOST_REQUIRE(cluster.value()->create_topic("tally.events", partitions, 1).is_ok());
  BOOST_REQUIRE(cluster.value()->create_topic("tally.signals", 1, 1).is_ok());
  BOOST_REQUIRE(cluster.value()->create_topic("tally.members", 1, 1).is_ok());

  ServeNode n1("n1", dir.sub("n1"), brokers), n2("n2", dir.sub("n2"), brokers), n3("n3", dir.sub("n3"), brokers);

  // One node: it owns every partition.
  n1.start();
  BOOST_REQUIRE_MESSAGE(eventually([&] { return settled({&n1}); }), settle_report({&n1}) << n1.log());
  std::string opening = "[" + rate_card();
  for (int i = 0; i < orgs; ++i) opening += "," + signup(i);
  n1.post_events(opening + "]");
  post_usage(n1, "a", 400);

  // Three: the partitions spread, each owned once; reads through any node equal the owner's.
  n2.start();
  n3.start();
  BOOST_REQUIRE_MESSAGE(eventually([&] { return settled({&n1, &n2, &n3}); }), settle_report({&n1, &n2, &n3}));
  post_usage(n2, "b", 400);
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
  const auto killed_at = Clock::now();
  n3.kill_now(SIGKILL);
  post_usage(n1, "d", 200);
  BOOST_REQUIRE_MESSAGE(eventually([&] { return settled({&n1, &n2}) && caught_up({&n1, &n2}); }),
                        settle_report({&n1, &n2}));
  const double failover_s = std::chrono::duration<double>(Clock::now() - killed_at).count();
  BOOST_TEST_MESSAGE("bench failover_seconds " << failover_s << " s (kill to every partition served and caught up)");

  // A node stopped past its session timeout: n1 takes everything; woken, n2 learns it lost its
  // partitions (a zombie until then) and rejoins.
  n2.signal(SIGSTOP);
  BOOST_REQUIRE_MESSAGE(eventually([&] { return settled({&n1}); }), settle_report({&n1}));
  post_usage(n1, "e", 200);
  n2.signal(SIGCONT);
  BOOST_REQUIRE_MESSAGE(eventually([&] { return settled({&n1, &n2}); }), settle_report({&n1, &n2}));
  post_usage(n2, "f", 200);
  BOOST_REQUIRE_MESSAGE(eventually([&] { return caught_up({&n1, &n2}); }), settle_report({&n1, &n2}));
  BOOST_TEST(n1.stop() == 0, n1.log());
  BOOST_TEST(n2.stop() == 0, n2.log());

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
}
