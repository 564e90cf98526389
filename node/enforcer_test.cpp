// Enforcement webhooks end to end: a Node with the enforcement connector posts to a local
// "platform" (outbound/testing/http_receiver.h) that verifies every signature as a platform
// would (verify_webhook) and records what it applied. Pause and resume arrive once per crossing,
// in order, through delivery failures (retried with the same Tally-Webhook-Id) and across an
// emitter crash between appending signals and recording that it did (the signals log then holds
// copies; the connector drops them by id).
#include <boost/test/unit_test.hpp>

#include <signal.h>
#include <sys/wait.h>

#include <chrono>
#include <map>
#include <mutex>
#include <sstream>
#include <string>
#include <vector>

#include <boost/json.hpp>

#include "log/journal.h"
#include "node/node.h"
#include "node/testing/node_test.h"
#include "outbound/testing/http_receiver.h"
#include "relay/enforcer.h"
#include "relay/outbox_emitter.h"
#include "relay/testing/relay_harness.h"
#include "relay/webhook_signer.h"

using namespace tally;
using namespace tally::connectors;
using namespace tally::connectors::testing;

namespace {

constexpr const char* secret = "whsec-platform-test-0123456789";

struct Delivery {
  std::string signal_id;
  std::string kind;
  std::string action;
  std::string scope;
  std::string org_id;
  std::string member_id;
};

// The platform side: verifies, fails the first `failures` deliveries with 503, records the rest.
class Platform {
 public:
  explicit Platform(int failures = 0) : failures_(failures) {
    auto started = HttpReceiver::start([this](const ReceivedRequest& request) { return handle(request); });
    BOOST_REQUIRE(started.is_ok());
    receiver_ = std::move(started.value());
  }
  std::string url() const { return receiver_->url("/hooks/tally"); }
  std::vector<Delivery> accepted() const {
    std::lock_guard lock(mutex_);
    return accepted_;
  }
  std::vector<std::string> refused_ids() const {
    std::lock_guard lock(mutex_);
    return refused_ids_;
  }
  int bad_signatures() const {
    std::lock_guard lock(mutex_);
    return bad_signatures_;
  }

 private:
  ReceiverResponse handle(const ReceivedRequest& request) {
    const std::string* timestamp = request.header("tally-timestamp");
    const std::string* signature = request.header("tally-signature");
    const std::string* webhook_id = request.header("tally-webhook-id");
    const int64_t now_s = std::chrono::duration_cast<std::chrono::seconds>(
                              std::chrono::system_clock::now().time_since_epoch()).count();
    std::lock_guard lock(mutex_);
    if (timestamp == nullptr || signature == nullptr || webhook_id == nullptr ||
        !verify_webhook(secret, *timestamp, *signature, request.body, now_s).is_ok()) {
      ++bad_signatures_;
      return ReceiverResponse{401, R"({"error":"bad signature"})", {}};
    }
    if (failures_ > 0) {
      --failures_;
      refused_ids_.push_back(*webhook_id);
      return ReceiverResponse{503, R"({"error":"busy"})", {}};
    }
    const auto body = boost::json::parse(request.body).as_object();
    Delivery delivery;
    delivery.signal_id = std::string(body.at("signal_id").as_string());
    delivery.kind = std::string(body.at("kind").as_string());
    delivery.action = std::string(body.at("action").as_string());
    delivery.scope = std::string(body.at("scope").as_string());
    delivery.org_id = std::string(body.at("org_id").as_string());
    delivery.member_id = std::string(body.at("member_id").as_string());
    if (delivery.signal_id != *webhook_id) ++bad_signatures_;  // (Boost.Test is not thread-safe)
    accepted_.push_back(delivery);
    return ReceiverResponse{200, "{}", {}};
  }

  mutable std::mutex mutex_;
  int failures_;
  std::vector<Delivery> accepted_;
  std::vector<std::string> refused_ids_;
  int bad_signatures_ = 0;
  std::unique_ptr<HttpReceiver> receiver_;
};

EnforcerOptions enforcer_options(const std::string& url) {
  EnforcerOptions options;
  options.url = url;
  options.secret = secret;
  options.retry.backoff_ms_initial = 10;
  options.retry.backoff_ms_max = 50;
  return options;
}

std::unique_ptr<Node> start_node(const TempDir& dir, const std::string& url) {
  NodeOptions options = test_node_options(dir.path());
  options.role_api = false;
  options.enforce = enforcer_options(url);
  options.on_role_error = [](std::string_view, const Status&) {};  // the refused deliveries are expected
  return start_test_node(options);
}

std::vector<std::string> actions_of(const std::vector<Delivery>& deliveries, const std::string& org) {
  std::vector<std::string> out;
  for (const Delivery& d : deliveries) {
    if (d.org_id == org) out.push_back(d.action + ":" + d.kind);
  }
  return out;
}

}  // namespace

BOOST_AUTO_TEST_CASE(pause_and_resume_arrive_signed_once_per_crossing_through_failed_deliveries) {
  Platform platform(2);  // the first two deliveries are refused with 503
  TempDir dir;
  auto node = start_node(dir, platform.url());
  const std::string org = unique_name("sandbox");
  OrgScript script(node->events_writer(), org);
  BOOST_REQUIRE(script.rate_card().is_ok());
  BOOST_REQUIRE(script.open().is_ok());
  BOOST_REQUIRE(script.purchase(40).is_ok());                   // first credit: resume
  BOOST_REQUIRE(script.usage_output_tokens(2'000'000).is_ok());  // 45 credits: -5, pause
  BOOST_REQUIRE(script.purchase(40).is_ok());                   // 35: resume

  BOOST_REQUIRE(wait_until([&] { return platform.accepted().size() == 3; }));
  const auto deliveries = platform.accepted();
  BOOST_TEST((actions_of(deliveries, org) ==
              std::vector<std::string>{"resume:balance_restored", "pause:balance_exhausted", "resume:balance_restored"}));
  BOOST_TEST(deliveries[1].scope == "org");
  const auto refused = platform.refused_ids();
  BOOST_REQUIRE(refused.size() == 2u);
  BOOST_TEST(refused[0] == deliveries[0].signal_id);  // retried with the same id
  BOOST_TEST(refused[1] == deliveries[0].signal_id);
  BOOST_TEST(platform.bad_signatures() == 0);
}

BOOST_AUTO_TEST_CASE(member_limits_pause_and_resume_only_that_member) {
  Platform platform;
  TempDir dir;
  auto node = start_node(dir, platform.url());
  const std::string org = unique_name("office");
  OrgScript script(node->events_writer(), org);
  BOOST_REQUIRE(script.rate_card().is_ok());
  BOOST_REQUIRE(script.purchase(500).is_ok());
  BOOST_REQUIRE(script.member_limit("u1", 40).is_ok());
  BOOST_REQUIRE(script.usage_output_tokens(2'000'000, "u1").is_ok());  // 45 of 40: pause u1
  BOOST_REQUIRE(script.usage_output_tokens(2'000'000, "u2").is_ok());  // u2 has no limit
  BOOST_REQUIRE(script.member_limit_cleared("u1").is_ok());            // resume u1

  BOOST_REQUIRE(wait_until([&] { return platform.accepted().size() == 3; }));
  const auto deliveries = platform.accepted();
  BOOST_TEST((actions_of(deliveries, org) == std::vector<std::string>{"resume:balance_restored",
                                                                      "pause:member_limit_exceeded",
                                                                      "resume:member_limit_restored"}));
  BOOST_TEST(deliveries[1].scope == "member");
  BOOST_TEST(deliveries[1].member_id == "u1");
  BOOST_TEST(deliveries[2].member_id == "u1");
}

BOOST_AUTO_TEST_CASE(emitter_crash_between_append_and_record_still_delivers_each_crossing_once) {
  Platform platform;
  TempDir dir;
  NodeJournal journal(dir.path());
  const std::string org = unique_name("crossing");
  OrgScript script(*journal.events, org);
  BOOST_REQUIRE(script.rate_card().is_ok());
  BOOST_REQUIRE(script.purchase(40).is_ok());
  BOOST_REQUIRE(script.usage_output_tokens(2'000'000).is_ok());
  BOOST_REQUIRE(script.purchase(40).is_ok());

  // 1. The emitter appends signals, then the process dies before recording it.
  const pid_t crashing = spawn({TALLY_RELAY_NODE_CHILD, "--data", dir.path(), "--crash-at",
                                std::string(fault_emitter_after_append)});
  const auto crashed = wait_exit(crashing);
  BOOST_REQUIRE(crashed.has_value());
  BOOST_REQUIRE(WIFSIGNALED(*crashed) && WTERMSIG(*crashed) == SIGKILL);
  const std::size_t before_restart = read_signals(dir.sub("journal")).size();
  BOOST_REQUIRE(before_restart >= 1u);

  // 2. Restarted with the enforcement connector: the emitter resends from its recorded progress.
  const pid_t running = spawn({TALLY_RELAY_NODE_CHILD, "--data", dir.path(), "--webhook-url", platform.url(),
                               "--webhook-secret", secret});
  const bool settled = wait_until([&] {
    const std::size_t in_log = read_signals(dir.sub("journal")).size();
    return platform.accepted().size() == 3 && in_log == before_restart + 3 &&
           recorded_offset(dir.sub("enforce.progress")) == static_cast<int64_t>(in_log);
  });
  ::kill(running, SIGTERM);
  const auto stopped = wait_exit(running);
  BOOST_REQUIRE_MESSAGE(settled, "accepted " + std::to_string(platform.accepted().size()));
  BOOST_REQUIRE(stopped.has_value());
  BOOST_TEST((WIFEXITED(*stopped) && WEXITSTATUS(*stopped) == 0));

  BOOST_TEST(read_signals(dir.sub("journal")).size() > 3u);  // copies are in the log ...
  const auto deliveries = platform.accepted();                // ... but each crossing arrived once
  BOOST_TEST((actions_of(deliveries, org) ==
              std::vector<std::string>{"resume:balance_restored", "pause:balance_exhausted", "resume:balance_restored"}));
  BOOST_TEST(deliveries[0].signal_id != deliveries[2].signal_id);
  BOOST_TEST(platform.bad_signatures() == 0);
}
