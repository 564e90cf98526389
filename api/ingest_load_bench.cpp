// http_ingest_load: a load client for POST /api/v1/events?wait=1 against a running Tally (any
// version that has that route: run it against an older `tally dev` for a before/after). Not a ctest
// test. It needs an admin token.
//
//   http_ingest_load --url http://127.0.0.1:8080 --token SECRET [--connections 8] [--batch 1000]
//                    [--requests 20] [--runs 3] [--orgs 64]
//   http_ingest_load --url ... --token ... --roundtrip wait|healthz|hold [--connections 32]
//                    [--seconds 3] [--runs 3] [--label 32]
//
// Setup (once): a rate card and a signup allocation for each of --orgs orgs (load-<run id>-<i>), so
// that the usage applies. Then each run: --connections threads, one keep-alive connection each,
// each sending --requests POSTs of --batch usage events (spread over the orgs, fresh idempotency
// keys) with ?wait=1, and waiting for each answer (200 with every outcome, or the run fails).
// Prints each run's rate on stderr and, on stdout,
//   bench http_ingest_events_per_s <median of the runs> events/s
//
// --roundtrip: latency of single requests instead. Each connection sends one request at a time for
// --seconds per run: `wait` a plain usage event (one JSON object, fresh key) POSTed with ?wait=1,
// `healthz` a GET /healthz (the HTTP round trip alone: the ceiling of any route). Prints, per run
// on stderr and as medians of the runs on stdout (NAME: wait_roundtrip or healthz_roundtrip,
// suffixed _<label> when --label is given):
//   bench NAME_p50_ms <ms> ms / bench NAME_p99_ms <ms> ms / bench NAME_req_per_s <n> req/s
// `hold` is a place + capture pair per iteration, both durable: POST /api/v1/org/{org}/credits/holds
// (fresh idempotency key, 201 or the run fails), then a usage event naming the hold with
// "hold_final":true POSTed with ?wait=1 (closes it: the org's active holds stay one per connection).
// Its figures (suffix _<label> when --label is given) time the place; the pair's are beside them:
//   bench hold_place_p50_ms[_L] / hold_place_p99_ms[_L] <ms> ms, bench hold_place_per_s[_L] <n> holds/s
//   bench hold_pair_p50_ms[_L] / hold_pair_p99_ms[_L] <ms> ms
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/program_options.hpp>

namespace {

namespace beast = boost::beast;
namespace http = beast::http;
using tcp = boost::asio::ip::tcp;

struct Args {
  std::string url = "http://127.0.0.1:8080";
  std::string token;
  int connections = 8;
  int batch = 1000;
  int requests = 20;  // per connection and run
  int runs = 3;
  int orgs = 64;
  std::string roundtrip;  // empty, "wait", "healthz" or "hold"
  double seconds = 3;
  std::string label;
};

[[noreturn]] void die(const std::string& message) {
  std::fprintf(stderr, "http_ingest_load: %s\n", message.c_str());
  std::exit(1);
}

// One keep-alive HTTP/1.1 connection.
class Connection {
 public:
  Connection(const std::string& host, const std::string& port) : stream_(ioc_) {
    tcp::resolver resolver(ioc_);
    stream_.connect(resolver.resolve(host, port));
    host_ = host + ":" + port;
  }
  // POSTs `body` to `target`; returns the status and the answer's body.
  std::pair<unsigned, std::string> post(const std::string& target, const std::string& token, const std::string& body) {
    return send(http::verb::post, target, token, body);
  }
  std::pair<unsigned, std::string> send(http::verb verb, const std::string& target, const std::string& token,
                                        const std::string& body) {
    http::request<http::string_body> request{verb, target, 11};
    request.set(http::field::host, host_);
    if (!token.empty()) request.set(http::field::authorization, "Bearer " + token);
    if (verb == http::verb::post) request.set(http::field::content_type, "application/json");
    request.keep_alive(true);
    request.body() = body;
    request.prepare_payload();
    http::write(stream_, request);
    http::response<http::string_body> response;
    http::read(stream_, buffer_, response);
    return {response.result_int(), std::move(response.body())};
  }

 private:
  boost::asio::io_context ioc_;
  beast::tcp_stream stream_;
  beast::flat_buffer buffer_;
  std::string host_;
};

int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::string usage_event(const std::string& key, const std::string& org, int64_t at_ms) {
  return R"({"type":"usage","idempotency_key":")" + key + R"(","org_id":")" + org + R"(","occurred_at_ms":)" +
         std::to_string(at_ms) +
         R"(,"member_id":"m1","workspace":"w1","meter":"llm_tokens","model":"bench-model","input_tokens":100,"output_tokens":10})";
}

void check(const std::pair<unsigned, std::string>& answer, const char* what) {
  if (answer.first != 200 || answer.second.find("\"applied\":true") == std::string::npos) {
    die(std::string(what) + ": HTTP " + std::to_string(answer.first) + " " + answer.second.substr(0, 300));
  }
}

// A rate card (a version above any earlier one: this run's time) and each org's credits.
void set_up(Connection& connection, const Args& args, const std::string& run_id) {
  const int64_t at = now_ms();
  check(connection.post("/api/v1/events?wait=1", args.token,
                        R"({"type":"rate_card_published","idempotency_key":"load-card-)" + run_id +
                            R"(","occurred_at_ms":)" + std::to_string(at) + R"(,"version":)" + std::to_string(at) +
                            R"(,"markup_bp":10000,"models":[{"model":"bench-model","input_per_mtok_micros":1000000,"output_per_mtok_micros":2000000}]})"),
        "rate card");
  std::string grants = "[";
  for (int i = 0; i < args.orgs; ++i) {
    const std::string org = "load-" + run_id + "-" + std::to_string(i);
    grants += (i ? "," : "") + std::string(R"({"type":"signup_allocation","idempotency_key":"grant-)") + org +
              R"(","org_id":")" + org + R"(","occurred_at_ms":)" + std::to_string(at) +
              R"(,"credits_micros":1000000000000000})";
  }
  check(connection.post("/api/v1/events?wait=1", args.token, grants + "]"), "signup allocations");
}

// One run: every connection sends its requests; returns events per second.
double run_once(const Args& args, const std::string& host, const std::string& port, const std::string& run_id,
                int run) {
  std::vector<std::thread> threads;
  const auto started = std::chrono::steady_clock::now();
  for (int c = 0; c < args.connections; ++c) {
    threads.emplace_back([&, c] {
      Connection connection(host, port);
      for (int r = 0; r < args.requests; ++r) {
        std::string body = "[";
        const int64_t at = now_ms();
        for (int e = 0; e < args.batch; ++e) {
          const std::string key = "u-" + run_id + "-" + std::to_string(run) + "-" + std::to_string(c) + "-" +
                                  std::to_string(r) + "-" + std::to_string(e);
          const std::string org = "load-" + run_id + "-" + std::to_string((c * 7919 + r * 31 + e) % args.orgs);
          body += (e ? "," : "") + usage_event(key, org, at);
        }
        check(connection.post("/api/v1/events?wait=1", args.token, body + "]"), "usage batch");
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  return static_cast<double>(args.connections) * args.requests * args.batch / seconds;
}

struct RoundTrips {
  double p50_ms = 0, p99_ms = 0, per_s = 0;
  double pair_p50_ms = 0, pair_p99_ms = 0;  // --roundtrip hold: place + capture
};

double ms_since(std::chrono::steady_clock::time_point since) {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - since).count();
}

// One iteration of a --roundtrip run on connection `c`; returns the latency of its timed request
// (the place for `hold`) and adds the whole iteration's to `pair_ms` for `hold`.
double roundtrip_request(Connection& connection, const Args& args, const std::string& run_id, int run, int c, int r,
                         std::vector<double>& pair_ms) {
  const auto sent = std::chrono::steady_clock::now();
  if (args.roundtrip == "healthz") {
    auto answer = connection.send(http::verb::get, "/healthz", "", "");
    if (answer.first != 200) die("healthz: HTTP " + std::to_string(answer.first));
    return ms_since(sent);
  }
  const std::string key = "rt-" + run_id + "-" + std::to_string(run) + "-" + std::to_string(c) + "-" + std::to_string(r);
  const std::string org = "load-" + run_id + "-" + std::to_string((c * 7919 + r * 31) % args.orgs);
  if (args.roundtrip == "wait") {
    check(connection.post("/api/v1/events?wait=1", args.token, usage_event(key, org, now_ms())), "usage");
    return ms_since(sent);
  }
  const auto placed = connection.post("/api/v1/org/" + org + "/credits/holds", args.token,
                                      R"({"idempotency_key":")" + key +
                                          R"(","member_id":"m1","amount_micros":1000000,"ttl_ms":60000})");
  const double place_ms = ms_since(sent);
  if (placed.first != 201) die("hold: HTTP " + std::to_string(placed.first) + " " + placed.second.substr(0, 300));
  std::string capture = usage_event("c" + key, org, now_ms());
  capture.insert(capture.size() - 1, R"(,"hold_id":")" + key + R"(","hold_final":true)");
  check(connection.post("/api/v1/events?wait=1", args.token, capture), "capture");
  pair_ms.push_back(ms_since(sent));
  return place_ms;
}

double quantile(std::vector<double>& sorted, double q) {
  return sorted[std::min(sorted.size() - 1, static_cast<std::size_t>(q * static_cast<double>(sorted.size())))];
}

// One --roundtrip run: every connection sends one request at a time until --seconds are over.
RoundTrips roundtrip_once(const Args& args, const std::string& host, const std::string& port,
                          const std::string& run_id, int run) {
  std::vector<std::vector<double>> latencies(static_cast<std::size_t>(args.connections));
  std::vector<std::vector<double>> pairs(static_cast<std::size_t>(args.connections));
  std::vector<std::thread> threads;
  const auto started = std::chrono::steady_clock::now();
  const auto until = started + std::chrono::duration<double>(args.seconds);
  for (int c = 0; c < args.connections; ++c) {
    threads.emplace_back([&, c] {
      Connection connection(host, port);
      const auto slot = static_cast<std::size_t>(c);
      for (int r = 0; std::chrono::steady_clock::now() < until; ++r) {
        latencies[slot].push_back(roundtrip_request(connection, args, run_id, run, c, r, pairs[slot]));
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  std::vector<double> all, all_pairs;
  for (const auto& mine : latencies) all.insert(all.end(), mine.begin(), mine.end());
  for (const auto& mine : pairs) all_pairs.insert(all_pairs.end(), mine.begin(), mine.end());
  if (all.empty()) die("no request finished within --seconds");
  std::sort(all.begin(), all.end());
  std::sort(all_pairs.begin(), all_pairs.end());
  RoundTrips out{quantile(all, 0.50), quantile(all, 0.99), static_cast<double>(all.size()) / seconds};
  if (!all_pairs.empty()) out.pair_p50_ms = quantile(all_pairs, 0.50), out.pair_p99_ms = quantile(all_pairs, 0.99);
  return out;
}

void roundtrip(const Args& args, const std::string& host, const std::string& port, const std::string& run_id) {
  std::vector<double> p50, p99, per_s, pair_p50, pair_p99;
  for (int run = 0; run < args.runs; ++run) {
    const RoundTrips r = roundtrip_once(args, host, port, run_id, run);
    std::fprintf(stderr, "# %s run %d, %d connections: p50 %.3f ms, p99 %.3f ms, %.0f req/s\n", args.roundtrip.c_str(),
                 run + 1, args.connections, r.p50_ms, r.p99_ms, r.per_s);
    p50.push_back(r.p50_ms);
    p99.push_back(r.p99_ms);
    per_s.push_back(r.per_s);
    pair_p50.push_back(r.pair_p50_ms);
    pair_p99.push_back(r.pair_p99_ms);
  }
  const auto median = [](std::vector<double> v) {
    std::sort(v.begin(), v.end());
    return v[v.size() / 2];
  };
  const std::string suffix = args.label.empty() ? "" : "_" + args.label;
  if (args.roundtrip == "hold") {
    std::printf("bench hold_place_p50_ms%s %.3f ms\n", suffix.c_str(), median(p50));
    std::printf("bench hold_place_p99_ms%s %.3f ms\n", suffix.c_str(), median(p99));
    std::printf("bench hold_place_per_s%s %.0f holds/s\n", suffix.c_str(), median(per_s));
    std::printf("bench hold_pair_p50_ms%s %.3f ms\n", suffix.c_str(), median(pair_p50));
    std::printf("bench hold_pair_p99_ms%s %.3f ms\n", suffix.c_str(), median(pair_p99));
    return;
  }
  const std::string name = (args.roundtrip == "healthz" ? "healthz_roundtrip" : "wait_roundtrip") +
                           (args.label.empty() ? "" : "_" + args.label);
  std::printf("bench %s_p50_ms %.3f ms\n", name.c_str(), median(p50));
  std::printf("bench %s_p99_ms %.3f ms\n", name.c_str(), median(p99));
  std::printf("bench %s_req_per_s %.0f req/s\n", name.c_str(), median(per_s));
}

}  // namespace

int main(int argc, char** argv) {
  Args args;
  namespace po = boost::program_options;
  po::options_description options("options");
  options.add_options()("help,h", "show this help")
      ("url", po::value(&args.url)->default_value(args.url), "base URL of a running tally (http only)")
      ("token", po::value(&args.token)->required(), "an admin token")
      ("connections", po::value(&args.connections)->default_value(args.connections), "concurrent connections")
      ("batch", po::value(&args.batch)->default_value(args.batch), "usage events per POST")
      ("requests", po::value(&args.requests)->default_value(args.requests), "POSTs per connection and run")
      ("runs", po::value(&args.runs)->default_value(args.runs), "runs (the median is printed)")
      ("orgs", po::value(&args.orgs)->default_value(args.orgs), "orgs the usage is spread over")
      ("roundtrip", po::value(&args.roundtrip), "wait | healthz | hold: single-request latency instead of batches")
      ("seconds", po::value(&args.seconds)->default_value(args.seconds), "--roundtrip: seconds per run")
      ("label", po::value(&args.label), "--roundtrip: suffix of the printed figure names");
  po::variables_map vm;
  try {
    po::store(po::parse_command_line(argc, argv, options), vm);
    if (vm.count("help")) {
      std::printf("usage: http_ingest_load --url URL --token SECRET [options]\n");
      return 0;
    }
    po::notify(vm);
  } catch (const po::error& e) {
    die(e.what());
  }
  if (args.url.rfind("http://", 0) != 0) die("--url must start with http://");
  const std::string authority = args.url.substr(7, args.url.find('/', 7) - 7);
  const std::size_t colon = authority.rfind(':');
  const std::string host = colon == std::string::npos ? authority : authority.substr(0, colon);
  const std::string port = colon == std::string::npos ? "80" : authority.substr(colon + 1);
  if (!args.roundtrip.empty() && args.roundtrip != "wait" && args.roundtrip != "healthz" && args.roundtrip != "hold") {
    die("--roundtrip must be wait, healthz or hold");
  }
  if (args.connections < 1 || args.batch < 1 || args.requests < 1 || args.runs < 1 || args.orgs < 1) {
    die("--connections, --batch, --requests, --runs and --orgs must be at least 1");
  }
  const std::string run_id = std::to_string(now_ms()) + "-" + std::to_string(std::random_device{}() % 100000);
  try {
    if (args.roundtrip == "healthz") {
      roundtrip(args, host, port, run_id);
      return 0;
    }
    Connection setup(host, port);
    set_up(setup, args, run_id);
    if (!args.roundtrip.empty()) {
      roundtrip(args, host, port, run_id);
      return 0;
    }
    std::vector<double> rates;
    for (int run = 0; run < args.runs; ++run) {
      rates.push_back(run_once(args, host, port, run_id, run));
      std::fprintf(stderr, "# run %d: %.0f events/s\n", run + 1, rates.back());
    }
    std::sort(rates.begin(), rates.end());
    std::printf("bench http_ingest_events_per_s %.0f events/s\n", rates[rates.size() / 2]);
  } catch (const std::exception& e) {
    die(e.what());
  }
  return 0;
}
