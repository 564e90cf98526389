// ?wait=1 requests made at the same time share their commits (issue 15, latency): while one journal
// commit is under way, the other requests reach the journal and queue for the next one together,
// instead of waiting for a free HTTP thread, and each is answered with its outcome once durable.
#include <boost/json.hpp>
#include <boost/test/unit_test.hpp>
#include <chrono>
#include <future>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "api/http_server.h"
#include "log/journal_testing.h"
#include "node/node.h"
#include "node/testing/node_test.h"
#include "outbound/http_client.h"
#include "relay/testing/relay_harness.h"

using namespace tally;
using namespace tally::connectors;
using namespace tally::connectors::testing;

namespace {

constexpr int64_t deadline_ms = 60'000;
constexpr const char* admin_token = "wait-group-admin-token-0123";
constexpr int clients = 16;
constexpr int64_t credits_each = 1'000'000;

std::vector<HttpHeader> auth() { return {{"Authorization", std::string("Bearer ") + admin_token}}; }

BOOST_AUTO_TEST_CASE(concurrent_wait_requests_queue_together_for_one_commit_and_each_gets_its_outcome) {
  TempDir dir;
  NodeOptions options = test_node_options(dir.sub("data"));
  options.tokens.push_back(node_token("admin", admin_token, "admin"));
  std::unique_ptr<Node> node = start_test_node(options);
  const std::string base = "http://127.0.0.1:" + std::to_string(node->port());
  const std::string journal_dir = dir.sub("data") + "/journal";

  // Hold the journal's writes: the first request to append leads a commit of its own and waits;
  // every other one must be able to reach the journal meanwhile and queue.
  std::promise<void> held_promise;
  std::promise<void> release_promise;
  std::shared_future<void> release = release_promise.get_future().share();
  std::thread holder([&] {
    Status held = journal_hold_writes_for_test(journal_dir, [&] {
      held_promise.set_value();
      release.wait();
    });
    BOOST_CHECK_MESSAGE(held.is_ok(), held.to_string());
  });
  held_promise.get_future().wait();

  std::vector<HttpResponse> answers(clients);
  std::vector<std::string> failures(clients);
  std::vector<std::thread> requests;
  for (int i = 0; i < clients; ++i) {
    requests.emplace_back([&, i] {
      HttpClient http;  // one per thread
      std::vector<HttpHeader> headers = auth();
      headers.push_back({"Content-Type", "application/json"});
      const std::string body = R"({"type":"signup_allocation","idempotency_key":"grant-)" + std::to_string(i) +
                               R"(","org_id":"acme","occurred_at_ms":)" + std::to_string(now_ms()) +
                               R"(,"credits_micros":)" + std::to_string(credits_each) + "}";
      auto answer = http.post(base + "/api/v1/events?wait=1", headers, body);
      if (answer.is_ok()) {
        answers[static_cast<std::size_t>(i)] = answer.value();
      } else {
        failures[static_cast<std::size_t>(i)] = answer.status().to_string();
      }
    });
  }
  // Re-checked until the deadline: a count of waiting requests, not an ordering of threads.
  const bool queued =
      wait_until([&] { return journal_queued_appends_for_test(journal_dir) == clients - 1; }, deadline_ms);
  release_promise.set_value();
  holder.join();
  for (std::thread& request : requests) request.join();
  BOOST_TEST_MESSAGE("queued behind the held commit: " << (queued ? clients - 1 : -1));
  BOOST_CHECK_MESSAGE(queued, "fewer than " << clients - 1 << " requests ever waited for the next commit together");

  for (int i = 0; i < clients; ++i) {
    BOOST_REQUIRE_MESSAGE(failures[static_cast<std::size_t>(i)].empty(), failures[static_cast<std::size_t>(i)]);
    const HttpResponse& answer = answers[static_cast<std::size_t>(i)];
    BOOST_TEST(answer.status_code == 200);
    BOOST_TEST(answer.body.find("\"applied\":true") != std::string::npos, answer.body);
  }
  // Answered after the commit: every grant is in the views already.
  HttpClient http;
  auto credits = http.get(base + "/api/v1/org/acme/credits", auth());
  BOOST_REQUIRE_MESSAGE(credits.is_ok(), credits.status().to_string());
  BOOST_REQUIRE_MESSAGE(credits->status_code == 200, credits->body);
  BOOST_TEST(boost::json::parse(credits->body).as_object().at("balance_micros").as_int64() == clients * credits_each);
  node->stop();
}

}  // namespace
