// `tally dev` and `tally serve`: run a node (node/node.h) until SIGINT/SIGTERM.
//
// Both take the same settings as flags or as keys of a TOML file (--config FILE; flags override
// it): cli/node_settings.h lists every key, its flag, and where secrets may come from so that they
// stay out of `ps` (the file, a `*_env` key naming an environment variable, or TALLY_STRIPE_KEY,
// TALLY_WEBHOOK_SECRET, TALLY_LITELLM_SECRET, TALLY_STRIPE_WEBHOOK_SECRET).
// dev: everything in one process on an embedded journal. serve: the roles given, on Kafka or on an
// embedded journal. Exit codes: 2 bad flags or config, 1 the node failed to start or stopped on error.
#include <signal.h>

#include <atomic>
#include <cstdio>
#include <random>
#include <thread>
#include <unistd.h>

#include "cli/cli_util.h"
#include "cli/node_settings.h"
#include "node/node.h"

namespace tally::cli {
namespace {

void print_connectors(const char* command, const NodeOptions& options) {
  if (options.recharge) {
    std::printf("%s: recharge connector charging via %s (%lld minor units of %s per credit)\n", command,
                options.recharge->stripe.base_url.c_str(), static_cast<long long>(options.recharge->credit_price_minor),
                options.recharge->currency.c_str());
  }
  if (options.enforce) std::printf("%s: enforcement webhooks to %s\n", command, options.enforce->url.c_str());
  if (options.ingest && options.ingest->litellm) std::printf("%s: LiteLLM callback on /api/v1/internal/litellm/usage\n", command);
  if (options.ingest && options.ingest->stripe) std::printf("%s: Stripe webhooks on /api/v1/webhooks/stripe\n", command);
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

// Flags and config file → options. nullopt: go on; else the exit code (help printed, or an error).
std::optional<int> node_options_from(const char* command, NodeCommand which, const char* synopsis, const Args& args,
                                     NodeOptions& options, bool& generated_token) {
  po::options_description desc("options (each also a key of the --config file, named in [config: ...])");
  add_node_flags(which, desc);
  po::variables_map vm;
  if (auto code = parse_options(command, synopsis, args, desc, vm)) return *code;
  auto settings = resolve_node_settings(which, vm, process_environment());
  std::vector<std::string> notes;
  Status status = settings.is_ok() ? Status::ok() : settings.status();
  if (status.is_ok()) {
    for (const std::string& warning : settings->warnings) std::fprintf(stderr, "tally %s: warning: %s\n", command, warning.c_str());
    if (which == NodeCommand::serve && !settings->is_set("data")) {
      status = settings->invalid("data", "is required: the data directory of the views");
    }
    generated_token = which == NodeCommand::dev && settings->tokens.empty();
    if (generated_token) settings->tokens.push_back(random_token());
    // dev signs billing page links with a fresh secret: links live as long as this process.
    if (which == NodeCommand::dev && settings->billing_link_secret.empty()) settings->billing_link_secret = random_token();
  }
  if (status.is_ok()) status = to_node_options(settings.value(), which, options, notes);
  if (!status.is_ok()) {
    std::fprintf(stderr, "tally %s: %s (see tally %s --help)\n", command, status.to_string().c_str(), command);
    return exit_usage;
  }
  for (const std::string& note : notes) std::printf("%s: note: %s\n", command, note.c_str());
  return std::nullopt;
}

std::string log_description(const NodeOptions& options) {
  if (!options.kafka_brokers.empty()) return "Kafka " + options.kafka_brokers + " (topics " + options.topic_prefix + ".*)";
  return "embedded journal " + (options.journal_dir.empty() ? options.data_dir + "/journal" : options.journal_dir);
}

int run_dev(const Args& args) {
  NodeOptions options;
  bool generated_token = false;
  if (auto code = node_options_from("dev", NodeCommand::dev,
                                    "[--config FILE] [--data DIR] [--listen HOST:PORT] [--token NAME:SECRET:SCOPE]... "
                                    "[--stripe-url URL] [--webhook-url URL] [--litellm-secret S] [--stripe-webhook-secret S]",
                                    args, options, generated_token)) {
    return *code;
  }
  const sigset_t signals = block_stop_signals();
  auto node = Node::start(options);
  if (!node.is_ok()) return fail("dev", node.status());
  std::printf("tally dev: %s, views in %s\n", log_description(options).c_str(), options.data_dir.c_str());
  if (generated_token) std::printf("admin token: %s\n", options.tokens.front().secret.c_str());
  std::printf("dev: billing page links: POST /api/v1/org/<org>/billing-links (admin or org token)\n");
  std::printf("listening on http://%s:%u\n", options.listen_host.c_str(), node.value()->port());
  print_connectors("dev", options);
  std::fflush(stdout);
  return serve_until_signal("dev", *node.value(), signals);
}

int run_serve(const Args& args) {
  NodeOptions options;
  bool generated_token = false;
  if (auto code = node_options_from("serve", NodeCommand::serve,
                                    "[--config FILE] --data DIR [--kafka BROKERS | --journal DIR] [--roles api,projector] "
                                    "[--listen HOST:PORT] [--token NAME:SECRET:SCOPE]...",
                                    args, options, generated_token)) {
    return *code;
  }
  const sigset_t signals = block_stop_signals();
  auto node = Node::start(options);
  if (!node.is_ok()) return fail("serve", node.status());
  if (options.role_api) std::printf("listening on http://%s:%u\n", options.listen_host.c_str(), node.value()->port());
  std::string roles;
  for (const auto& [on, name] : {std::pair{options.role_api, "api"}, {options.role_projector, "projector"},
                                 {options.recharge.has_value(), "recharge"}, {options.enforce.has_value(), "enforce"}}) {
    if (on) roles += (roles.empty() ? "" : ",") + std::string(name);
  }
  std::printf("tally serve: roles %s on %s\n", roles.c_str(), log_description(options).c_str());
  if (!options.group.empty()) {
    std::printf("tally serve: node %s of group %s (the group assigns its partitions)\n", options.node_id.c_str(),
                options.group.c_str());
  }
  print_connectors("serve", options);
  std::fflush(stdout);
  return serve_until_signal("serve", *node.value(), signals);
}

const CommandRegistrar dev_registrar{
    {"dev", "run everything in one process on the embedded journal (no external service)", run_dev}};
const CommandRegistrar serve_registrar{
    {"serve", "run roles (api, projector, recharge, enforce) on Kafka or an embedded journal", run_serve}};

}  // namespace
}  // namespace tally::cli
