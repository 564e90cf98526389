// verify_passes_bench: how many times a record's FlatBuffer is verified between the HTTP body and
// the fold (envelope_verifications(), engine/validate.h), over real HTTP into a journal, the
// projector and the server in this process (api/testing/api_stack.h). Not a ctest test.
//
//   verify_passes_bench [--events 10000] [--batch 500]
//
// Posts --events usage events in batches with ?wait=1 (every one applied when it returns), plus one
// command, and prints
//   bench fold_verify_passes_per_event <verifications / records> passes/event
// which is 1 when only the fold verifies (the submission path parses and validates once and
// never verifies).
#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "api/testing/api_stack.h"
#include "engine/validate.h"

namespace {

using tally::api::testing::ApiStack;
using tally::api::testing::HttpClient;
using tally::api::testing::HttpReply;

constexpr std::string_view token = "bench-admin-token-000000000001";

[[noreturn]] void die(const std::string& message) {
  std::fprintf(stderr, "verify_passes_bench: %s\n", message.c_str());
  std::exit(1);
}

std::string usage(const std::string& key, int64_t at_ms) {
  return R"({"type":"usage","idempotency_key":")" + key + R"(","org_id":"bench","occurred_at_ms":)" +
         std::to_string(at_ms) + R"(,"meter":"llm_tokens","model":"m","input_tokens":10})";
}

void expect_200(const HttpReply& reply, const char* what) {
  if (reply.status != 200) die(std::string(what) + ": HTTP " + std::to_string(reply.status) + " " + reply.body);
}

}  // namespace

int main(int argc, char** argv) {
  long events = 10'000;
  long batch = 500;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string flag = argv[i];
    if (flag == "--events") events = std::atol(argv[i + 1]);
    if (flag == "--batch") batch = std::atol(argv[i + 1]);
  }
  if (events < 1 || batch < 1) die("--events and --batch must be at least 1");
  tally::api::testing::ApiStackOptions options;
  options.tokens = {{"admin", std::string(token), {"admin"}}};
  auto stack = ApiStack::start(options);
  if (!stack.is_ok()) die(stack.status().to_string());
  HttpClient client(stack.value()->port());
  const int64_t t0_ms = 1'763'856'000'000;
  expect_200(client.send("POST", "/api/v1/events?wait=1", token,
                         R"({"type":"rate_card_published","idempotency_key":"card","occurred_at_ms":)" +
                             std::to_string(t0_ms) +
                             R"(,"version":1,"markup_bp":10000,"models":[{"model":"m","input_per_mtok_micros":1000000}]})"),
             "rate card");
  const uint64_t before = tally::envelope_verifications();
  uint64_t records = 0;
  for (long sent = 0; sent < events; sent += batch) {
    std::string body = "[";
    for (long e = sent; e < std::min(events, sent + batch); ++e) {
      body += (e > sent ? "," : "") + usage("u-" + std::to_string(e), t0_ms + e);
      ++records;
    }
    expect_200(client.send("POST", "/api/v1/events?wait=1", token, body + "]"), "usage batch");
  }
  expect_200(client.send("PUT", "/api/v1/org/bench/credits/member-limits/bob?wait=1", token,
                         R"({"monthly_limit_micros":5})"),
             "command");
  ++records;
  const uint64_t passes = tally::envelope_verifications() - before;
  std::fprintf(stderr, "# %llu verifications for %llu records\n", static_cast<unsigned long long>(passes),
               static_cast<unsigned long long>(records));
  std::printf("bench fold_verify_passes_per_event %g passes/event\n",
              static_cast<double>(passes) / static_cast<double>(records));
  return 0;
}
