// Faults a running node survives (SPEC §10): a projector whose commits fail (injected ENOSPC, then
// a real full tmpfs) pauses and retries while the API keeps serving reads and /healthz says
// degraded; once the disk has room again it resumes and every acknowledged event lands once.
// A full disk under the journal answers 503 to commands and still serves reads. Data dirs and
// files are private to their owner.
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <boost/json.hpp>
#include <boost/test/unit_test.hpp>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <memory>
#include <string>
#include <thread>

#include "api/http_server.h"
#include "node/node.h"
#include "projections/projector.h"
#include "node/testing/node_test.h"
#include "outbound/http_client.h"
#include "relay/testing/relay_harness.h"

using namespace tally;
using namespace tally::connectors;
using namespace tally::connectors::testing;

namespace {

constexpr int64_t deadline_ms = 60'000;
constexpr const char* admin_token = "node-faults-admin-token-0123";

std::string signup(const std::string& key, int64_t credits_micros) {
  return R"({"type":"signup_allocation","idempotency_key":")" + key + R"(","org_id":"acme","occurred_at_ms":)" +
         std::to_string(now_ms()) + R"(,"credits_micros":)" + std::to_string(credits_micros) + "}";
}

struct RunningNode {
  std::unique_ptr<Node> node;
  HttpClient http;

  explicit RunningNode(NodeOptions options, int tick_interval_ms = 0) {
    options.listen_port = 0;
    options.tick_interval_ms = tick_interval_ms;
    options.tokens.push_back(node_token("admin", admin_token, "admin"));
    node = start_test_node(options);
  }

  std::string url(const std::string& path) const { return "http://127.0.0.1:" + std::to_string(node->port()) + path; }

  HttpResponse get(const std::string& path) {
    auto response = http.get(url(path), {{"Authorization", std::string("Bearer ") + admin_token}});
    BOOST_REQUIRE_MESSAGE(response.is_ok(), response.status().to_string());
    return response.value();
  }

  HttpResponse post_events(const std::string& body, bool wait) {
    auto response = http.post(url(std::string("/api/v1/events") + (wait ? "?wait=1" : "")),
                              {{"Authorization", std::string("Bearer ") + admin_token},
                               {"Content-Type", "application/json"}},
                              body);
    BOOST_REQUIRE_MESSAGE(response.is_ok(), response.status().to_string());
    return response.value();
  }

  int64_t balance() {
    const HttpResponse credits = get("/api/v1/org/acme/credits");
    BOOST_REQUIRE_MESSAGE(credits.status_code == 200, credits.body);
    return boost::json::parse(credits.body).as_object().at("balance_micros").as_int64();
  }

  // Polls until `ready` holds (the condition is the projector's state, seen over HTTP).
  bool eventually(const std::function<bool()>& ready) { return wait_until(ready, deadline_ms); }

  std::string health() { return get("/healthz").body; }
};

bool is_degraded(const std::string& health) { return health.find("\"status\":\"degraded\"") != std::string::npos; }
bool is_ok(const std::string& health) { return health.find("\"status\":\"ok\"") != std::string::npos; }

BOOST_AUTO_TEST_CASE(healthz_is_degraded_while_a_failing_commit_is_retried_and_reads_go_on) {
  TempDir dir;
  std::atomic<bool> disk_full{false};
  NodeOptions options;
  options.data_dir = dir.path();
  options.projector_commit_fault = [&disk_full] { return disk_full ? ENOSPC : 0; };
  RunningNode n(options);
  BOOST_REQUIRE_EQUAL(n.post_events(signup("s-1", 5'000'000), true).status_code, 200);
  BOOST_TEST(is_ok(n.health()));

  disk_full = true;
  const HttpResponse accepted = n.post_events(signup("s-2", 7'000'000), false);
  BOOST_TEST(accepted.status_code == 202, accepted.body);  // the log took it: acknowledged
  BOOST_REQUIRE(n.eventually([&] { return is_degraded(n.health()); }));
  const std::string health = n.health();
  BOOST_TEST_MESSAGE(health);
  // The partition whose commit fails is named.
  BOOST_TEST(health.find("projector: partition ") != std::string::npos, health);
  BOOST_TEST(health.find(": commit_fault (injected): No space left on device, retrying the batch since ") !=
                 std::string::npos,
             health);
  BOOST_TEST(n.get("/healthz").status_code == 200);
  BOOST_TEST(n.balance() == 5'000'000);  // reads are served, as of the last committed batch
  BOOST_TEST(n.node->error().empty());   // nothing stopped

  disk_full = false;
  BOOST_REQUIRE(n.eventually([&] { return is_ok(n.health()); }));
  BOOST_REQUIRE(n.eventually([&] { return n.balance() == 12'000'000; }));  // landed, once
  const std::string metrics = n.get("/metrics").body;
  BOOST_TEST(metrics.find("tally_projector_commit_retries_total 0") == std::string::npos);
  BOOST_TEST(metrics.find("tally_projector_commit_retries_total ") != std::string::npos);
  // Stopping while a commit is failing is prompt, and the next start folds the batch.
  disk_full = true;
  BOOST_REQUIRE_EQUAL(n.post_events(signup("s-3", 1'000'000), false).status_code, 202);
  BOOST_REQUIRE(n.eventually([&] { return is_degraded(n.health()); }));
  n.node->stop();
  n.node.reset();
  disk_full = false;
  RunningNode again(options);
  BOOST_REQUIRE(again.eventually([&] { return again.balance() == 13'000'000; }));
}

BOOST_AUTO_TEST_CASE(a_data_dir_made_by_a_node_is_private_to_its_owner) {
  TempDir dir;
  NodeOptions options;
  options.data_dir = dir.sub("a/data");
  RunningNode n(options);
  BOOST_REQUIRE_EQUAL(n.post_events(signup("s-1", 1'000'000), true).status_code, 200);
  const auto mode = [](const std::string& path) {
    struct stat st {};
    BOOST_REQUIRE_MESSAGE(::stat(path.c_str(), &st) == 0, path);
    return st.st_mode & 0777;
  };
  for (const std::string& d : {dir.sub("a"), dir.sub("a/data"), dir.sub("a/data/journal"), dir.sub("a/data/views"),
                               dir.sub("a/data/views/p0000"), dir.sub("a/data/views/p0003")}) {
    BOOST_TEST(mode(d) == 0700u, d);
  }
  for (const std::string& f : {dir.sub("a/data/journal/data.mdb"), dir.sub("a/data/journal/lock.mdb"),
                               dir.sub("a/data/views/layout"), dir.sub("a/data/views/p0000/data.mdb"),
                               dir.sub("a/data/views/p0000/lock.mdb"), dir.sub("a/data/views/p0003/data.mdb"),
                               dir.sub("a/data/views/p0003/projector.lock")}) {
    BOOST_TEST(mode(f) == 0600u, f);
  }
}

// Views are one store per events partition (SPEC §13); a data dir whose views are one store for
// every partition (the earlier layout) is refused with what to do, and is left as it was.
BOOST_AUTO_TEST_CASE(views_of_one_store_for_every_partition_are_refused_at_start) {
  TempDir dir;
  {
    auto single = Projector::open(dir.sub("data/views"), ProjectorOptions{});
    BOOST_REQUIRE_MESSAGE(single.is_ok(), single.status().to_string());
  }
  NodeOptions options;
  options.data_dir = dir.sub("data");
  options.listen_port = 0;
  auto node = Node::start(options);
  BOOST_REQUIRE(!node.is_ok());
  BOOST_TEST(node.status().field() == "data dir");
  BOOST_TEST(node.status().message().find("one store") != std::string::npos, node.status().to_string());
  BOOST_TEST(node.status().message().find("move it aside") != std::string::npos, node.status().to_string());
  BOOST_TEST(!std::filesystem::exists(dir.sub("data/views/layout")));
  BOOST_TEST(std::filesystem::exists(dir.sub("data/views/data.mdb")));
}

// ---- A real full disk: a small tmpfs (needs CAP_SYS_ADMIN, as root in a container).

constexpr const char* tmpfs_size = "size=4m";

struct Tmpfs {
  std::string path;
  bool mounted = false;
  explicit Tmpfs(std::string at) : path(std::move(at)) {
    mounted = ::mkdir(path.c_str(), 0700) == 0 && ::mount("tmpfs", path.c_str(), "tmpfs", 0, tmpfs_size) == 0;
  }
  ~Tmpfs() {
    if (mounted) ::umount2(path.c_str(), MNT_DETACH);
  }
  // Writes a file until the filesystem is full.
  void fill() {
    std::FILE* file = std::fopen((path + "/filler").c_str(), "wb");
    BOOST_REQUIRE(file != nullptr);
    const std::string block(64 * 1024, 'f');
    while (std::fwrite(block.data(), 1, block.size(), file) == block.size()) {
    }
    std::fclose(file);
  }
  void make_room() { BOOST_REQUIRE(::unlink((path + "/filler").c_str()) == 0); }
};

boost::test_tools::assertion_result can_mount_tmpfs(boost::unit_test::test_unit_id) {
  TempDir probe;
  Tmpfs tmpfs(probe.sub("mnt"));
  boost::test_tools::assertion_result result(tmpfs.mounted);
  if (!tmpfs.mounted) {
    result.message() << "skipped: mounting a tmpfs is not permitted here (" << std::strerror(errno)
                     << "); the injected-fault test above covers the same path";
  }
  return result;
}

// Events in batches of 100 until `full` says the disk is full; the keys go on from `next_key`.
std::string signups(int first, int count) {
  std::string body = "[";
  for (int i = first; i < first + count; ++i) body += (i > first ? "," : "") + signup("bulk-" + std::to_string(i), 1);
  return body + "]";
}

BOOST_AUTO_TEST_CASE(views_on_a_full_tmpfs_pause_the_projector_until_there_is_room,
                     *boost::unit_test::precondition(can_mount_tmpfs)) {
  TempDir dir;
  Tmpfs tmpfs(dir.sub("mnt"));
  BOOST_REQUIRE(tmpfs.mounted);
  NodeOptions options;
  options.data_dir = tmpfs.path + "/data";  // the views on the small disk
  options.journal_dir = dir.sub("journal");  // the log elsewhere: it keeps taking events
  RunningNode n(options);
  BOOST_REQUIRE_EQUAL(n.post_events(signup("s-1", 5'000'000), true).status_code, 200);
  tmpfs.fill();
  int posted = 0;
  BOOST_REQUIRE(n.eventually([&] {
    if (is_degraded(n.health())) return true;
    BOOST_REQUIRE_EQUAL(n.post_events(signups(posted, 100), false).status_code, 202);
    posted += 100;
    return false;
  }));
  const std::string health = n.health();
  BOOST_TEST_MESSAGE(health << " after " << posted << " events");
  BOOST_TEST(health.find("No space left on device") != std::string::npos, health);
  BOOST_TEST(n.balance() >= 5'000'000);  // reads are served
  BOOST_TEST(n.node->error().empty());

  tmpfs.make_room();
  BOOST_REQUIRE(n.eventually([&] { return is_ok(n.health()); }));
  BOOST_REQUIRE(n.eventually([&] { return n.balance() == 5'000'000 + posted; }));  // each event once
}

BOOST_AUTO_TEST_CASE(a_journal_on_a_full_tmpfs_answers_503_to_commands_and_serves_reads,
                     *boost::unit_test::precondition(can_mount_tmpfs)) {
  TempDir dir;
  Tmpfs tmpfs(dir.sub("mnt"));
  BOOST_REQUIRE(tmpfs.mounted);
  NodeOptions options;
  options.data_dir = tmpfs.path + "/data";  // journal and views on the small disk
  options.on_role_error = [](std::string_view, const Status&) {};  // failing ticks: expected here
  RunningNode n(options, 20);  // a ticker that cannot append degrades the node, never stops it
  BOOST_REQUIRE_EQUAL(n.post_events(signup("s-1", 5'000'000), true).status_code, 200);
  tmpfs.fill();
  int posted = 0;
  HttpResponse refused;
  BOOST_REQUIRE(n.eventually([&] {
    refused = n.post_events(signups(posted, 100), true);
    if (refused.status_code == 503) return true;
    posted += 100;
    return false;
  }));
  BOOST_TEST_MESSAGE(refused.body);
  BOOST_TEST(refused.body.find("log_unavailable") != std::string::npos, refused.body);
  BOOST_REQUIRE(n.eventually([&] { return n.health().find("\"ticker: ") != std::string::npos; }));
  BOOST_TEST_MESSAGE("health: " << n.health());
  BOOST_TEST(n.get("/healthz").status_code == 200);
  BOOST_TEST(n.get("/api/v1/org/acme/credits").status_code == 200);
  BOOST_TEST(n.node->error().empty());
  tmpfs.make_room();
  BOOST_TEST(n.post_events(signup("s-after", 1'000'000), true).status_code == 200);
  BOOST_REQUIRE(n.eventually([&] { return n.balance() == 6'000'000 + posted; }));
  BOOST_REQUIRE(n.eventually([&] { return is_ok(n.health()); }));  // the ticker appends again
}

}  // namespace
