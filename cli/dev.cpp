// `tally dev` and `tally serve`: run a node (node/node.h) until SIGINT/SIGTERM.
//
// Connector options (both commands): --stripe-url/--stripe-key run the recharge connector,
// --webhook-url/--webhook-secret the enforcement connector, --litellm-secret and
// --stripe-webhook-secret add the ingest routes. Secrets may come from the environment instead
// (TALLY_STRIPE_KEY, TALLY_WEBHOOK_SECRET, TALLY_LITELLM_SECRET, TALLY_STRIPE_WEBHOOK_SECRET) so
// they stay out of `ps`.
#include <signal.h>

#include <cstdio>
#include <cstdlib>
#include <algorithm>
#include <random>
#include <set>
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

// The connector flags of `tally dev` and `tally serve`.
struct ConnectorFlags {
  std::string stripe_url;
  std::string stripe_key;
  int64_t credit_price_minor = connectors::credit_price_minor_default;
  std::string currency = "usd";
  int64_t platform_fee_minor = 0;
  int64_t bundle_credits = 0;
  std::string webhook_url;
  std::string webhook_secret;
  std::string litellm_secret;
  std::string litellm_default_org;
  bool litellm_team_as_org = false;
  std::string stripe_webhook_secret;
};

void add_connector_options(po::options_description& desc, ConnectorFlags& flags) {
  desc.add_options()
      ("stripe-url", po::value(&flags.stripe_url), "recharge: Stripe API base URL (runs the recharge connector)")
      ("stripe-key", po::value(&flags.stripe_key), "recharge: Stripe secret key (or $TALLY_STRIPE_KEY)")
      ("credit-price-minor", po::value(&flags.credit_price_minor)->default_value(flags.credit_price_minor),
       "recharge: price of one credit in minor units of --currency")
      ("currency", po::value(&flags.currency)->default_value("usd"), "recharge: ISO currency, lower case")
      ("platform-fee-minor", po::value(&flags.platform_fee_minor)->default_value(0),
       "recharge: fee added to each charge, recorded as the AutoRefill's fee")
      ("bundle-credits", po::value(&flags.bundle_credits)->default_value(0),
       "credits in one bundle (AutoRefill bundles; Stripe checkouts without credits_micros); 0: unset")
      ("webhook-url", po::value(&flags.webhook_url), "enforce: platform endpoint for pause/resume webhooks")
      ("webhook-secret", po::value(&flags.webhook_secret), "enforce: HMAC secret (or $TALLY_WEBHOOK_SECRET)")
      ("litellm-secret", po::value(&flags.litellm_secret),
       "POST /api/v1/internal/litellm/usage bearer secret (or $TALLY_LITELLM_SECRET)")
      ("litellm-default-org", po::value(&flags.litellm_default_org), "org for LiteLLM calls without a mapped team")
      ("litellm-team-as-org", po::bool_switch(&flags.litellm_team_as_org), "use the LiteLLM team id as the org id")
      ("stripe-webhook-secret", po::value(&flags.stripe_webhook_secret),
       "POST /api/v1/webhooks/stripe signing secret (or $TALLY_STRIPE_WEBHOOK_SECRET)");
}

void from_environment(std::string& value, const char* name) {
  if (!value.empty()) return;
  const char* env = std::getenv(name);
  if (env != nullptr) value = env;
}

// Fills options.recharge / enforce / ingest from the flags. `roles` (serve) says which connector
// roles may run; dev runs whatever is configured.
Status apply_connector_flags(ConnectorFlags flags, const std::set<std::string>* roles, NodeOptions& options) {
  from_environment(flags.stripe_key, "TALLY_STRIPE_KEY");
  from_environment(flags.webhook_secret, "TALLY_WEBHOOK_SECRET");
  from_environment(flags.litellm_secret, "TALLY_LITELLM_SECRET");
  from_environment(flags.stripe_webhook_secret, "TALLY_STRIPE_WEBHOOK_SECRET");
  if (flags.bundle_credits < 0) return Status::invalid("--bundle-credits", "must be >= 0");
  const int64_t bundle_micros = flags.bundle_credits * 1'000'000;
  const bool recharge = roles ? roles->count("recharge") != 0 : !flags.stripe_url.empty();
  if (recharge) {
    if (flags.stripe_url.empty()) return Status::invalid("--stripe-url", "the recharge role needs the Stripe API URL");
    if (flags.stripe_key.empty()) return Status::invalid("--stripe-key", "the recharge role needs a Stripe key");
    connectors::RechargeOptions recharge_options;
    recharge_options.stripe.base_url = flags.stripe_url;
    recharge_options.stripe.api_key = flags.stripe_key;
    recharge_options.credit_price_minor = flags.credit_price_minor;
    recharge_options.currency = flags.currency;
    recharge_options.platform_fee_minor = flags.platform_fee_minor;
    recharge_options.credits_per_bundle_micros = bundle_micros;
    if (Status s = connectors::validate(recharge_options); !s.is_ok() && s.field() != "progress_path") {
      std::string flag = s.field() == "stripe.base_url" ? "stripe-url" : s.field() == "stripe.api_key" ? "stripe-key" : s.field();
      std::replace(flag.begin(), flag.end(), '_', '-');
      return Status::invalid("--" + flag, s.message());
    }
    options.recharge = recharge_options;
  } else if (!flags.stripe_url.empty()) {
    return Status::invalid("--stripe-url", "given, but the recharge role is not in --roles");
  }
  const bool enforce = roles ? roles->count("enforce") != 0 : !flags.webhook_url.empty();
  if (enforce) {
    if (flags.webhook_url.empty()) return Status::invalid("--webhook-url", "the enforce role needs the platform endpoint");
    connectors::EnforcerOptions enforce_options;
    enforce_options.url = flags.webhook_url;
    enforce_options.secret = flags.webhook_secret;
    if (Status s = connectors::validate(enforce_options); !s.is_ok() && s.field() != "progress_path") {
      return Status::invalid("--webhook-" + s.field(), s.message());
    }
    options.enforce = enforce_options;
  } else if (!flags.webhook_url.empty()) {
    return Status::invalid("--webhook-url", "given, but the enforce role is not in --roles");
  }
  connectors::IngestOptions ingest;
  if (!flags.litellm_secret.empty()) {
    connectors::LitellmIngestOptions litellm;
    litellm.secret = flags.litellm_secret;
    litellm.mapping.default_org = flags.litellm_default_org;
    litellm.mapping.team_id_as_org = flags.litellm_team_as_org;
    ingest.litellm = litellm;
  } else if (!flags.litellm_default_org.empty() || flags.litellm_team_as_org) {
    return Status::invalid("--litellm-secret", "the LiteLLM route needs its bearer secret");
  }
  if (!flags.stripe_webhook_secret.empty()) {
    connectors::StripeIngestOptions stripe;
    stripe.webhook_secret = flags.stripe_webhook_secret;
    stripe.mapping.credits_per_bundle_micros = bundle_micros;
    ingest.stripe = stripe;
  }
  if (ingest.litellm || ingest.stripe) {
    if (Status s = connectors::validate(ingest); !s.is_ok()) {
      return Status::invalid(s.field() == "litellm.secret" ? "--litellm-secret" : "--stripe-webhook-secret", s.message());
    }
    options.ingest = ingest;
  }
  return Status::ok();
}

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

int run_dev(const Args& args) {
  NodeOptions options;
  ConnectorFlags flags;
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
  add_connector_options(desc, flags);
  po::variables_map vm;
  if (auto code = parse_options("dev",
                                "[--data DIR] [--listen HOST:PORT] [--token TOKEN] [--stripe-url URL --stripe-key KEY] "
                                "[--webhook-url URL --webhook-secret S] [--litellm-secret S] [--stripe-webhook-secret S]",
                                args, desc, vm)) {
    return *code;
  }
  if (Status s = parse_listen(listen, options); !s.is_ok()) return fail("dev", s);
  if (Status s = apply_connector_flags(flags, nullptr, options); !s.is_ok()) return fail("dev", s);
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
  print_connectors("dev", options);
  std::fflush(stdout);
  return serve_until_signal("dev", *node.value(), signals);
}

int run_serve(const Args& args) {
  NodeOptions options;
  ConnectorFlags flags;
  std::string listen = "127.0.0.1:8080";
  std::string roles = "api,projector";
  std::vector<std::string> tokens;
  po::options_description desc("options");
  desc.add_options()
      ("kafka", po::value(&options.kafka_brokers)->required(), "Kafka bootstrap brokers")
      ("topic-prefix", po::value(&options.topic_prefix)->default_value("tally"), "topics <prefix>.events/.signals")
      ("data", po::value(&options.data_dir)->required(), "data directory of the views")
      ("roles", po::value(&roles)->default_value("api,projector"),
       "comma list of api, projector (includes the outbox emitter), recharge, enforce")
      ("listen", po::value(&listen)->default_value("127.0.0.1:8080"), "HTTP address HOST:PORT")
      ("token", po::value(&tokens)->composing(), "NAME:SECRET:SCOPE[,SCOPE] (admin, ingest, org:<id>); repeatable")
      ("tick-interval-ms", po::value(&options.tick_interval_ms)->default_value(tick_interval_ms_default),
       "projector role: append a Tick to every partition this often (0: never)");
  add_connector_options(desc, flags);
  po::variables_map vm;
  if (auto code = parse_options("serve", "--kafka BROKERS --data DIR --roles api,projector [--listen HOST:PORT]", args,
                                desc, vm)) {
    return *code;
  }
  if (Status s = parse_listen(listen, options); !s.is_ok()) return fail("serve", s);
  std::set<std::string> role_set;
  for (std::size_t start = 0; start <= roles.size();) {
    const std::size_t comma = std::min(roles.find(',', start), roles.size());
    const std::string role = roles.substr(start, comma - start);
    if (role != "api" && role != "projector" && role != "recharge" && role != "enforce") {
      return fail("serve", Status::invalid("--roles", "unknown role '" + role + "' (api, projector, recharge, enforce)"));
    }
    role_set.insert(role);
    start = comma + 1;
  }
  options.role_api = role_set.count("api") != 0;
  options.role_projector = role_set.count("projector") != 0;
  if (Status s = apply_connector_flags(flags, &role_set, options); !s.is_ok()) return fail("serve", s);
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
  print_connectors("serve", options);
  std::fflush(stdout);
  return serve_until_signal("serve", *node.value(), signals);
}

const CommandRegistrar dev_registrar{
    {"dev", "run everything in one process on the embedded journal (no external service)", run_dev}};
const CommandRegistrar serve_registrar{{"serve", "run roles (api, projector, recharge, enforce) on Kafka", run_serve}};

}  // namespace
}  // namespace tally::cli
