// The process the relay crash tests kill: a Node (embedded journal in DIR/journal, projector,
// outbox emitter, and the recharge and/or enforcement connectors) that runs until SIGTERM, or
// SIGKILLs itself at a crash point.
//
//   relay_node_child --data DIR [--stripe-url URL --stripe-key KEY]
//                    [--webhook-url URL --webhook-secret SECRET] [--crash-at POINT]
//   POINT: emitter.after_append, recharge.after_charge, recharge.after_append
//
// SIGKILL at the point is the harshest crash there is: no destructor, no flush, no unlock other
// than the kernel's. Exit status 0 after SIGTERM, 2 on bad arguments, 1 if the node fails.
#include <signal.h>

#include <cstdio>
#include <cstring>
#include <map>
#include <string>
#include <string_view>

#include "node/node.h"

namespace {

void crash_at(const std::string& wanted, std::string_view point) {
  if (wanted.empty() || point != wanted) return;
  std::fprintf(stderr, "relay_node_child: SIGKILL at %s\n", wanted.c_str());
  std::fflush(stderr);
  ::raise(SIGKILL);
}

}  // namespace

int main(int argc, char** argv) {
  std::map<std::string, std::string> args;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (std::strncmp(argv[i], "--", 2) != 0) {
      std::fprintf(stderr, "relay_node_child: unexpected %s\n", argv[i]);
      return 2;
    }
    args[argv[i] + 2] = argv[i + 1];
  }
  if (args.count("data") == 0) {
    std::fprintf(stderr, "relay_node_child: --data DIR is required\n");
    return 2;
  }
  const std::string crash_point = args.count("crash-at") != 0 ? args["crash-at"] : std::string();

  tally::NodeOptions options;
  options.data_dir = args["data"];
  options.role_api = false;
  options.tick_interval_ms = 0;
  options.emitter_fault_hook = [crash_point](std::string_view point) { crash_at(crash_point, point); };
  options.on_role_error = [](std::string_view role, const tally::Status& status) {
    std::fprintf(stderr, "relay_node_child %.*s: %s\n", static_cast<int>(role.size()), role.data(),
                 status.to_string().c_str());
  };
  if (args.count("stripe-url") != 0) {
    tally::connectors::RechargeOptions recharge;
    recharge.stripe.base_url = args["stripe-url"];
    recharge.stripe.api_key = args["stripe-key"];
    recharge.stripe.request_timeout_ms = 5'000;
    recharge.stripe.retry.backoff_ms_initial = 20;
    recharge.stripe.retry.backoff_ms_max = 100;
    recharge.fault_hook = [crash_point](std::string_view point) { crash_at(crash_point, point); };
    options.recharge = recharge;
  }
  if (args.count("webhook-url") != 0) {
    tally::connectors::EnforcerOptions enforce;
    enforce.url = args["webhook-url"];
    enforce.secret = args["webhook-secret"];
    enforce.retry.backoff_ms_initial = 20;
    enforce.retry.backoff_ms_max = 200;
    options.enforce = enforce;
  }

  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);  // before any thread starts
  auto node = tally::Node::start(options);
  if (!node.is_ok()) {
    std::fprintf(stderr, "relay_node_child: %s\n", node.status().to_string().c_str());
    return 1;
  }
  int received = 0;
  sigwait(&signals, &received);
  node.value()->stop();
  const std::string error = node.value()->error();
  if (!error.empty()) {
    std::fprintf(stderr, "relay_node_child: %s\n", error.c_str());
    return 1;
  }
  return 0;
}
