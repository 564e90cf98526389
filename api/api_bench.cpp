// Benchmark: GET /api/v1/org/{org}/credits under concurrent loopback load (wrk) while the
// projector ingests usage. Prints, for scripts/bench:
//   bench api_credits_req_per_s <int> req/s
//   bench api_credits_p50_ms <float> ms
//   bench api_credits_p99_ms <float> ms
//
// Usage: api_bench [--duration-s N] [--connections N] [--wrk-threads N] [--io-threads N]
//                  [--orgs N] [--ingest-per-s N] [--wrk PATH]
// The whole stack (journal, projector, views, server) runs in this process; wrk runs as a child.
#include <signal.h>
#include <stdio.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <regex>
#include <string>
#include <thread>
#include <vector>

#include "api/testing/api_stack.h"
#include "engine/event_factory.h"

using namespace tally;
using namespace tally::api;

namespace {

constexpr std::string_view bench_token = "bench-admin-token-0000000001";
constexpr int64_t t0_ms = 1'763'856'000'000;

struct BenchOptions {
  int duration_s = 10;
  int connections = 8;  // closed loop: latency ~ connections / throughput; 8 keep 2 cores busy
  int wrk_threads = 1;
  int io_threads = 2;
  int orgs = 1000;
  int ingest_per_s = 2000;
  std::string wrk = "wrk";
};

bool parse_args(int argc, char** argv, BenchOptions& o) {
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (i + 1 >= argc) return false;
    const std::string value = argv[++i];
    if (arg == "--duration-s") o.duration_s = std::stoi(value);
    else if (arg == "--connections") o.connections = std::stoi(value);
    else if (arg == "--wrk-threads") o.wrk_threads = std::stoi(value);
    else if (arg == "--io-threads") o.io_threads = std::stoi(value);
    else if (arg == "--orgs") o.orgs = std::stoi(value);
    else if (arg == "--ingest-per-s") o.ingest_per_s = std::stoi(value);
    else if (arg == "--wrk") o.wrk = value;
    else return false;
  }
  return o.duration_s > 0 && o.connections > 0 && o.wrk_threads > 0 && o.orgs > 0 && o.ingest_per_s >= 0;
}

std::string org_name(int i) { return "org-" + std::to_string(i); }

// Rate card + a signup for every org, appended and applied before the load starts.
bool seed(api::testing::ApiStack& stack, int orgs) {
  std::vector<AppendRequest> records;
  RateCardFields card;
  card.models.push_back({"m1", ModelPrice{1'000'000, 2'000'000, 0, 0}});
  records.push_back({"", make_rate_card({"rc-1", "", t0_ms}, card), true});
  for (int i = 0; i < orgs; ++i) {
    const std::string org = org_name(i);
    const std::string key = "signup-" + org;
    records.push_back({org, make_signup_allocation({key, org, t0_ms}, 25'000'000'000), false});
  }
  Result<std::vector<LogPosition>> positions = stack.writer().append(records);
  if (!positions.is_ok()) {
    std::cerr << "seed append failed: " << positions.status().to_string() << "\n";
    return false;
  }
  for (const LogPosition& p : positions.value()) {
    if (!stack.projector().wait_until_applied(p, 60'000)) return false;
  }
  return true;
}

// wrk's latency figures: "50%  512.00us" -> ms.
double to_ms(double value, const std::string& unit) {
  if (unit == "us") return value / 1000.0;
  if (unit == "ms") return value;
  if (unit == "s") return value * 1000.0;
  if (unit == "m") return value * 60'000.0;
  return value;
}

}  // namespace

int main(int argc, char** argv) {
  BenchOptions options;
  bool parsed = false;
  try {
    parsed = parse_args(argc, argv, options);
  } catch (const std::exception&) {  // std::stoi on a non-number
  }
  if (!parsed) {
    std::cerr << "usage: api_bench [--duration-s N] [--connections N] [--wrk-threads N] [--io-threads N] "
                 "[--orgs N] [--ingest-per-s N] [--wrk PATH]\n";
    return 2;
  }
  signal(SIGPIPE, SIG_IGN);
  api::testing::ApiStackOptions stack_options;
  stack_options.tokens = {{"bench", std::string(bench_token), {"admin"}}};
  stack_options.io_threads = options.io_threads;
  stack_options.blocking_threads = 2;
  Result<std::unique_ptr<api::testing::ApiStack>> started = api::testing::ApiStack::start(stack_options);
  if (!started.is_ok()) {
    std::cerr << "cannot start the stack: " << started.status().to_string() << "\n";
    return 1;
  }
  api::testing::ApiStack& stack = *started.value();
  if (!seed(stack, options.orgs)) return 1;

  // The projector ingests usage for the whole run: batches every 10 ms at the asked rate.
  std::atomic<bool> stop{false};
  std::atomic<int64_t> ingested{0};
  std::thread ingest([&] {
    const int per_batch = std::max(1, options.ingest_per_s / 100);
    uint64_t n = 0;
    auto next = std::chrono::steady_clock::now();
    while (!stop && options.ingest_per_s > 0) {
      std::vector<AppendRequest> batch;
      for (int i = 0; i < per_batch; ++i, ++n) {
        const std::string org = org_name(static_cast<int>(n % static_cast<uint64_t>(options.orgs)));
        const std::string key = "usage-" + std::to_string(n);
        UsageFields usage;
        usage.member_id = "m";
        usage.model = "m1";
        usage.input_tokens = 100;
        batch.push_back({org, make_usage({key, org, t0_ms + static_cast<int64_t>(n)}, usage), false});
      }
      if (stack.writer().append(batch).is_ok()) ingested += per_batch;
      next += std::chrono::milliseconds(10);
      std::this_thread::sleep_until(next);  // pacing, not synchronisation
    }
  });

  // wrk rotates over 64 orgs so reads hit different LMDB pages.
  const std::string script_path = stack.dir() + "/credits.lua";
  {
    std::ofstream script(script_path);
    script << "local paths = {}\n"
           << "for i = 0, 63 do paths[#paths + 1] = '/api/v1/org/org-' .. (i % " << options.orgs << ") .. '/credits' end\n"
           << "local n = 0\n"
           << "request = function()\n"
           << "  n = n + 1\n"
           << "  return wrk.format('GET', paths[(n % #paths) + 1], {['Authorization'] = 'Bearer " << bench_token << "'})\n"
           << "end\n";
  }
  const std::string command = options.wrk + " -t" + std::to_string(options.wrk_threads) + " -c" +
                              std::to_string(options.connections) + " -d" + std::to_string(options.duration_s) +
                              "s --latency -s " + script_path + " http://127.0.0.1:" + std::to_string(stack.port()) + "/ 2>&1";
  const int64_t ingested_before = ingested.load();
  FILE* pipe = popen(command.c_str(), "r");
  if (pipe == nullptr) {
    std::cerr << "cannot run wrk\n";
    return 1;
  }
  std::string output;
  char buffer[4096];
  while (fgets(buffer, sizeof buffer, pipe) != nullptr) output += buffer;
  const int wrk_status = pclose(pipe);
  const int64_t ingested_during = ingested.load() - ingested_before;
  stop = true;
  ingest.join();
  std::cerr << output;
  if (wrk_status != 0) {
    std::cerr << "wrk failed (is it installed? apt-get install wrk)\n";
    return 1;
  }

  std::smatch match;
  double req_per_s = -1, p50 = -1, p99 = -1;
  if (std::regex_search(output, match, std::regex(R"(Requests/sec:\s+([0-9.]+))"))) req_per_s = std::stod(match[1]);
  if (std::regex_search(output, match, std::regex(R"(\n\s+50%\s+([0-9.]+)(us|ms|s|m)\b)"))) p50 = to_ms(std::stod(match[1]), match[2]);
  if (std::regex_search(output, match, std::regex(R"(\n\s+99%\s+([0-9.]+)(us|ms|s|m)\b)"))) p99 = to_ms(std::stod(match[1]), match[2]);
  const bool errors = output.find("Non-2xx or 3xx responses") != std::string::npos;
  if (req_per_s < 0 || p50 < 0 || p99 < 0) {
    std::cerr << "could not read wrk's output\n";
    return 1;
  }
  // Server-side time (request read -> answer handed to the socket) from /metrics, to tell our own
  // latency from scheduling delay on a busy machine.
  {
    api::testing::HttpClient client(stack.port());
    const api::testing::HttpReply metrics = client.send("GET", "/metrics");
    const std::regex bucket(R"re(tally_http_request_duration_seconds_bucket\{route="GET /api/v1/org/\{org\}/credits",le="([^"]+)"\} ([0-9]+))re");
    std::vector<std::pair<std::string, double>> buckets;
    for (auto it = std::sregex_iterator(metrics.body.begin(), metrics.body.end(), bucket); it != std::sregex_iterator(); ++it) {
      buckets.emplace_back((*it)[1], std::stod((*it)[2]));
    }
    if (!buckets.empty() && buckets.back().second > 0) {
      const double total = buckets.back().second;
      std::string p50_le, p99_le;
      for (const auto& [le, count] : buckets) {
        if (p50_le.empty() && count >= 0.50 * total) p50_le = le;
        if (p99_le.empty() && count >= 0.99 * total) p99_le = le;
      }
      std::cerr << "server-side handling of GET /credits: p50 <= " << p50_le << " s, p99 <= " << p99_le << " s ("
                << static_cast<long long>(total) << " requests)\n";
    }
  }
  std::cerr << "ingested during the run: " << ingested_during << " events ("
            << (ingested_during / std::max(options.duration_s, 1)) << "/s)" << (errors ? "; SOME RESPONSES WERE NOT 2xx" : "")
            << "\n";
  std::printf("bench api_credits_req_per_s %lld req/s\n", static_cast<long long>(req_per_s));
  std::printf("bench api_credits_p50_ms %.3f ms\n", p50);
  std::printf("bench api_credits_p99_ms %.3f ms\n", p99);
  return errors ? 1 : 0;
}
