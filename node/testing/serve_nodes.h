// Test and bench support: `tally serve` processes of one consumer group on loopback (SPEC §13),
// driven over HTTP, and what their /metrics say about ownership and lag. Not linked into the
// product. Failures throw std::runtime_error (tests turn them into failed checks).
#pragma once

#include <sys/types.h>

#include <chrono>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "outbound/http_client.h"

namespace tally::testing {

inline constexpr const char* serve_admin_secret = "serve-nodes-admin-token-0123";

// Polls `condition` every 20 ms until it holds or `deadline` passes (the polling is the wait).
template <typename F>
bool eventually(F&& condition, std::chrono::steady_clock::duration deadline) {
  const auto until = std::chrono::steady_clock::now() + deadline;
  while (std::chrono::steady_clock::now() < until) {
    if (condition()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return condition();
}

struct ServeNodeOptions {
  std::string tally_binary;  // the tally executable
  std::string id;            // --node-id
  std::string data_dir;      // --data (its log goes to DATA.log)
  std::string brokers;       // --kafka
  std::string group = "tally-nodes";
  int session_timeout_ms = 6'000;
  std::vector<std::string> extra_args;  // e.g. --roles, --stripe-url
  std::vector<std::string> extra_env;   // NAME=VALUE
};

// One `tally serve --group` process.
class ServeNode {
 public:
  explicit ServeNode(ServeNodeOptions options) : options_(std::move(options)) {}
  ~ServeNode() { kill_now(9); }
  ServeNode(const ServeNode&) = delete;
  ServeNode& operator=(const ServeNode&) = delete;

  // Spawns the process and waits (up to 60 s) until it listens.
  void start();
  void signal(int sig) const;
  // Sends `sig` (SIGKILL also SIGCONTs a stopped process) and reaps it.
  void kill_now(int sig);
  // SIGTERM, then the exit status (0: a clean stop; 128 + signal when killed).
  int stop();
  bool running() const { return pid_ > 0; }

  std::string url(const std::string& path) const;
  // GET with the admin token; nullopt when the node does not answer.
  std::optional<connectors::HttpResponse> get(const std::string& path);
  // POST /api/v1/events (no wait) with the admin token; throws unless 202.
  connectors::HttpResponse post_events(const std::string& body);

  struct Scrape {
    std::set<int32_t> owned;          // tally_partition_owned 1
    std::map<int32_t, int64_t> lag;   // tally_consumer_lag
    std::map<int32_t, int64_t> next_offset;  // tally_projector_next_offset: folded up to here
  };
  // From /metrics; nullopt when the node does not answer.
  std::optional<Scrape> scrape();

  const std::string& id() const { return options_.id; }
  const std::string& data() const { return options_.data_dir; }
  std::string log() const;

 private:
  ServeNodeOptions options_;
  pid_t pid_ = 0;
  uint16_t port_ = 0;
  connectors::HttpClient http_;
};

// Every one of `partitions` partitions owned by exactly one of `nodes`, each owning at least one.
bool settled(const std::vector<ServeNode*>& nodes, int32_t partitions);
// Every partition's owner among `nodes` has folded it to the log's end.
bool caught_up(const std::vector<ServeNode*>& nodes, int32_t partitions);
// "n1: 0(lag 0) 3(lag 2); n2: unreachable;" for failure messages.
std::string ownership_report(const std::vector<ServeNode*>& nodes);

}  // namespace tally::testing
