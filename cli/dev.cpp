// `tally dev` and `tally serve`: run a node (node/node.h) until SIGINT/SIGTERM.
#include <signal.h>

#include <cstdio>
#include <algorithm>
#include <random>
#include <thread>
#include <unistd.h>

#include "cli/cli_util.h"
#include "node/node.h"

namespace tally::cli {
namespace {

// Splits "HOST:PORT" (IPv6 as [::1]:PORT). Errors name --listen.
Status parse_listen(const std::string& listen, NodeOptions& options) {
  const auto colon = listen.rfind(':');
  if (colon == std::string::npos || colon + 1 == listen.size()) {
    return Status::invalid("--listen", "must be HOST:PORT, e.g. 127.0.0.1:8080");
  }
  std::string host = listen.substr(0, colon);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
  int port = -1;
  try {
    std::size_t used = 0;
    port = std::stoi(listen.substr(colon + 1), &used);
    if (used != listen.size() - colon - 1) port = -1;
  } catch (const std::exception&) {
    port = -1;
  }
  if (port < 0 || port > 65535) return Status::invalid("--listen", "port must be 0..65535");
  options.listen_host = host.empty() ? "127.0.0.1" : host;
  options.listen_port = static_cast<uint16_t>(port);
  return Status::ok();
}

std::string random_token() {
  std::random_device device;
  static constexpr char hex[] = "0123456789abcdef";
  std::string token;
  for (int i = 0; i < 32; ++i) token.push_back(hex[device() % 16]);
  return token;
}

// Blocks SIGINT/SIGTERM in every thread (call before starting any), then waits for one of them
// or for the node to fail.
int serve_until_signal(const char* command, Node& node, const sigset_t& signals) {
  std::atomic<bool> done{false};
  std::thread watcher([&] {
    node.wait();  // returns on a role error or on stop()
    if (!done) kill(getpid(), SIGTERM);
  });
  int received = 0;
  sigwait(&signals, &received);
  done = true;
  std::printf("%s: stopping (signal %d): finishing the batch in flight\n", command, received);
  std::fflush(stdout);
  node.stop();
  watcher.join();
  const std::string error = node.error();
  if (!error.empty()) {
    std::fprintf(stderr, "tally %s: %s\n", command, error.c_str());
    return exit_failure;
  }
  std::printf("%s: stopped cleanly\n", command);
  return exit_ok;
}

sigset_t block_stop_signals() {
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  return signals;
}

int run_dev(const Args& args) {
  NodeOptions options;
  std::string listen = "127.0.0.1:8080";
  std::string token;
  po::options_description desc("options");
  desc.add_options()
      ("data", po::value(&options.data_dir)->default_value("tally-data"), "data directory (journal + views)")
      ("listen", po::value(&listen)->default_value("127.0.0.1:8080"), "HTTP address HOST:PORT (port 0: any free)")
      ("token", po::value(&token), "admin bearer token (at least 16 characters); generated if absent")
      ("partitions", po::value(&options.partitions)->default_value(node_partitions_default),
       "events partitions of a new journal")
      ("tick-interval-ms", po::value(&options.tick_interval_ms)->default_value(tick_interval_ms_default),
       "append a Tick to every partition this often (0: never)");
  po::variables_map vm;
  if (auto code = parse_options("dev", "[--data DIR] [--listen HOST:PORT] [--token TOKEN]", args, desc, vm)) {
    return *code;
  }
  if (Status s = parse_listen(listen, options); !s.is_ok()) return fail("dev", s);
  const bool generated = token.empty();
  if (generated) token = random_token();
  auto parsed = api::parse_api_token("dev:" + token + ":admin");
  if (!parsed.is_ok()) return fail("dev", Status::invalid("--token", parsed.status().message()));
  options.tokens.push_back(parsed.value());

  const sigset_t signals = block_stop_signals();
  auto node = Node::start(options);
  if (!node.is_ok()) return fail("dev", node.status());
  std::printf("tally dev: embedded journal and views in %s\n", options.data_dir.c_str());
  if (generated) std::printf("admin token: %s\n", token.c_str());
  std::printf("listening on http://%s:%u\n", options.listen_host.c_str(), node.value()->port());
  std::fflush(stdout);
  return serve_until_signal("dev", *node.value(), signals);
}

int run_serve(const Args& args) {
  NodeOptions options;
  std::string listen = "127.0.0.1:8080";
  std::string roles = "api,projector";
  std::vector<std::string> tokens;
  po::options_description desc("options");
  desc.add_options()
      ("kafka", po::value(&options.kafka_brokers)->required(), "Kafka bootstrap brokers")
      ("topic-prefix", po::value(&options.topic_prefix)->default_value("tally"), "topics <prefix>.events/.signals")
      ("data", po::value(&options.data_dir)->required(), "data directory of the views")
      ("roles", po::value(&roles)->default_value("api,projector"), "comma list of api, projector")
      ("listen", po::value(&listen)->default_value("127.0.0.1:8080"), "HTTP address HOST:PORT")
      ("token", po::value(&tokens)->composing(), "NAME:SECRET:SCOPE[,SCOPE] (admin, ingest, org:<id>); repeatable")
      ("tick-interval-ms", po::value(&options.tick_interval_ms)->default_value(tick_interval_ms_default),
       "projector role: append a Tick to every partition this often (0: never)");
  po::variables_map vm;
  if (auto code = parse_options("serve", "--kafka BROKERS --data DIR --roles api,projector [--listen HOST:PORT]", args,
                                desc, vm)) {
    return *code;
  }
  if (Status s = parse_listen(listen, options); !s.is_ok()) return fail("serve", s);
  options.role_api = roles.find("api") != std::string::npos;
  options.role_projector = roles.find("projector") != std::string::npos;
  for (std::size_t start = 0; start <= roles.size();) {
    const std::size_t comma = std::min(roles.find(',', start), roles.size());
    const std::string role = roles.substr(start, comma - start);
    if (role != "api" && role != "projector") {
      return fail("serve", Status::invalid("--roles", "unknown role '" + role + "' (api, projector)"));
    }
    start = comma + 1;
  }
  if (!options.role_api && !options.role_projector) {
    return fail("serve", Status::invalid("--roles", "name at least one of api, projector"));
  }
  for (std::size_t i = 0; i < tokens.size(); ++i) {
    auto parsed = api::parse_api_token(tokens[i]);
    if (!parsed.is_ok()) return fail("serve", Status::invalid("--token[" + std::to_string(i) + "]", parsed.status().message()));
    options.tokens.push_back(parsed.value());
  }
  const sigset_t signals = block_stop_signals();
  auto node = Node::start(options);
  if (!node.is_ok()) return fail("serve", node.status());
  if (options.role_api) std::printf("listening on http://%s:%u\n", options.listen_host.c_str(), node.value()->port());
  std::printf("tally serve: roles %s on %s\n", roles.c_str(), options.kafka_brokers.c_str());
  std::fflush(stdout);
  return serve_until_signal("serve", *node.value(), signals);
}

const CommandRegistrar dev_registrar{
    {"dev", "run everything in one process on the embedded journal (no external service)", run_dev}};
const CommandRegistrar serve_registrar{{"serve", "run roles (api, projector) on Kafka", run_serve}};

}  // namespace
}  // namespace tally::cli
