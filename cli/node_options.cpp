// NodeSettings → NodeOptions: the checks that need several keys at once.
#include <algorithm>
#include <set>

#include "cli/node_settings.h"
#include "node/node.h"

namespace tally::cli {
namespace {

// Splits "HOST:PORT" (IPv6 as [::1]:PORT).
Status parse_listen(const NodeSettings& settings, NodeOptions& options) {
  const std::string& listen = settings.listen;
  const auto colon = listen.rfind(':');
  if (colon == std::string::npos || colon + 1 == listen.size()) {
    return settings.invalid("listen", "must be HOST:PORT, e.g. 127.0.0.1:8080, got " + quote_input(listen));
  }
  std::string host = listen.substr(0, colon);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
  const std::string port_text = listen.substr(colon + 1);
  const bool digits = port_text.size() <= 5 && std::all_of(port_text.begin(), port_text.end(), [](char c) { return c >= '0' && c <= '9'; });
  const int port = digits ? std::stoi(port_text) : -1;
  if (port < 0 || port > 65535) return settings.invalid("listen", "port must be 0..65535, got " + quote_input(port_text));
  options.listen_host = host.empty() ? "127.0.0.1" : host;
  options.listen_port = static_cast<uint16_t>(port);
  return Status::ok();
}

// The log: Kafka, or an embedded journal (DATA/journal unless `journal` says where).
Status choose_log(const NodeSettings& settings, NodeOptions& options) {
  options.data_dir = settings.data;
  options.partitions = static_cast<int32_t>(settings.partitions);
  if (settings.is_set("kafka")) {
    if (settings.is_set("journal")) {
      return settings.invalid("journal", "give either a journal or Kafka brokers, not both (kafka from " +
                                             settings.origin("kafka") + ")");
    }
    if (settings.is_set("partitions")) {
      return settings.invalid("partitions", "only for an embedded journal: Kafka topics keep their own partition count");
    }
    for (std::size_t start = 0; start <= settings.kafka.size();) {
      const std::size_t comma = std::min(settings.kafka.find(',', start), settings.kafka.size());
      const std::string broker = settings.kafka.substr(start, comma - start);
      if (broker.empty() || broker.find_first_of(" \t\r\n") != std::string::npos) {
        return settings.invalid("kafka", "must be host:port[,host:port], got " + quote_input(settings.kafka));
      }
      start = comma + 1;
    }
    options.kafka_brokers = settings.kafka;
    options.topic_prefix = settings.topic_prefix;
    return Status::ok();
  }
  if (settings.is_set("topic_prefix")) return settings.invalid("topic_prefix", "only with Kafka brokers (kafka)");
  options.journal_dir = settings.journal;
  return Status::ok();
}

// Several nodes (SPEC §13): a group needs Kafka, the projector role and a node id.
Status choose_group(const NodeSettings& settings, const std::set<std::string>& roles, NodeOptions& options) {
  if (!settings.is_set("group.name")) {
    for (std::string_view key : {"group.node_id", "group.advertise_url", "group.session_timeout_ms"}) {
      if (settings.is_set(key)) return settings.invalid(key, "only with a consumer group (group.name, --group)");
    }
    return Status::ok();
  }
  if (!settings.is_set("kafka")) return settings.invalid("group.name", "a consumer group needs Kafka brokers (--kafka)");
  if (roles.count("projector") == 0) return settings.invalid("group.name", "only a node with the projector role joins the group");
  if (settings.node_id.empty()) return settings.invalid("group.node_id", "a node of a group needs an id (--node-id)");
  options.group = settings.group;
  options.node_id = settings.node_id;
  options.advertise_url = settings.advertise_url;
  if (!options.advertise_url.empty() && options.advertise_url.rfind("http://", 0) != 0 &&
      options.advertise_url.rfind("https://", 0) != 0) {
    return settings.invalid("group.advertise_url", "must be an http:// or https:// URL, got " + quote_input(options.advertise_url));
  }
  options.group_session_timeout_ms = static_cast<int>(settings.group_session_timeout_ms);
  options.group_heartbeat_interval_ms = std::max(100, options.group_session_timeout_ms / 10);
  options.group_max_poll_interval_ms = std::max(options.group_session_timeout_ms, node_group_max_poll_interval_ms_default);
  options.members_stale_ms = std::max(options.members_announce_interval_ms * 3, options.group_session_timeout_ms / 2);
  return Status::ok();
}

Status read_roles(const NodeSettings& settings, NodeCommand command, std::set<std::string>& roles) {
  if (command == NodeCommand::dev) {
    roles = {"api", "projector"};
    if (!settings.stripe_url.empty()) roles.insert("recharge");
    if (!settings.webhook_url.empty()) roles.insert("enforce");
    return Status::ok();
  }
  if (settings.roles.empty()) return settings.invalid("roles", "needs at least one of api, projector, recharge, enforce");
  for (const std::string& role : settings.roles) {
    if (role != "api" && role != "projector" && role != "recharge" && role != "enforce") {
      return settings.invalid("roles", "unknown role " + quote_input(role) + " (api, projector, recharge, enforce)");
    }
    roles.insert(role);
  }
  return Status::ok();
}

Status read_tokens(const NodeSettings& settings, NodeCommand command, NodeOptions& options) {
  for (std::size_t i = 0; i < settings.tokens.size(); ++i) {
    const std::string& spec = settings.tokens[i];
    const bool bare_secret = command == NodeCommand::dev && spec.find(':') == std::string::npos;
    auto parsed = api::parse_api_token(bare_secret ? "dev:" + spec + ":admin" : spec);
    // The message never echoes the spec: it holds a secret.
    if (!parsed.is_ok()) return settings.invalid("token[" + std::to_string(i) + "]", parsed.status().to_string());
    options.tokens.push_back(std::move(parsed.value()));
  }
  return Status::ok();
}

// A connector's keys are set but it does not run here: a flag is an error (it was meant for this
// process); a config file's key is noted (one file may describe processes with different roles).
Status check_unused(const NodeSettings& settings, std::initializer_list<std::string_view> keys, const std::string& why,
                    std::vector<std::string>& notes) {
  std::string from_file;
  for (std::string_view key : keys) {
    if (!settings.is_set(key)) continue;
    const std::string origin = settings.origin(key);
    if (origin.starts_with("--")) return Status::invalid(origin, "given, but " + why);
    if (!origin.starts_with("$")) from_file += (from_file.empty() ? "" : ", ") + std::string(key);
  }
  if (!from_file.empty()) notes.push_back("not used (" + why + "): " + from_file);
  return Status::ok();
}

// Maps a connector's validation error back to the key the value came from.
Status connector_error(const NodeSettings& settings, const Status& status,
                       std::initializer_list<std::pair<std::string_view, std::string_view>> fields) {
  for (const auto& [field, key] : fields) {
    if (status.field() == field) return settings.invalid(key, status.message());
  }
  return status;
}

Status add_recharge(const NodeSettings& settings, NodeOptions& options) {
  if (settings.stripe_url.empty()) return settings.invalid("stripe.url", "the recharge role needs the Stripe API URL");
  if (settings.stripe_key.empty()) return settings.invalid("stripe.key", "the recharge role needs a Stripe key");
  connectors::RechargeOptions recharge;
  recharge.stripe.base_url = settings.stripe_url;
  recharge.stripe.api_key = settings.stripe_key;
  recharge.credit_price_minor = settings.credit_price_minor;
  recharge.currency = settings.currency;
  recharge.platform_fee_minor = settings.platform_fee_minor;
  recharge.platform_fee_bp = static_cast<int32_t>(settings.platform_fee_bp);  // ≤ platform_fee_bp_setting_max
  recharge.bundle_amount_minor = settings.bundle_amount_minor;
  recharge.credits_per_bundle_micros = settings.bundle_credits * 1'000'000;  // bundle_credits_max keeps it in range
  recharge.progress_path = "DATA/recharge.progress";  // validate() wants it; the node sets the real one
  if (Status s = connectors::validate(recharge); !s.is_ok()) {
    return connector_error(settings, s, {{"stripe.base_url", "stripe.url"}, {"stripe.api_key", "stripe.key"},
                                         {"credit_price_minor", "stripe.credit_price_minor"}, {"currency", "stripe.currency"},
                                         {"platform_fee_minor", "stripe.platform_fee_minor"}});
  }
  recharge.progress_path.clear();
  options.recharge = recharge;
  return Status::ok();
}

Status add_enforce(const NodeSettings& settings, NodeOptions& options) {
  if (settings.webhook_url.empty()) return settings.invalid("webhook.url", "the enforce role needs the platform endpoint");
  connectors::EnforcerOptions enforce;
  enforce.url = settings.webhook_url;
  enforce.secret = settings.webhook_secret;
  enforce.progress_path = "DATA/enforce.progress";  // validate() wants it; the node sets the real one
  if (Status s = connectors::validate(enforce); !s.is_ok()) {
    return connector_error(settings, s, {{"url", "webhook.url"}, {"secret", "webhook.secret"}});
  }
  enforce.progress_path.clear();
  options.enforce = enforce;
  return Status::ok();
}

Status add_ingest(const NodeSettings& settings, bool api, std::vector<std::string>& notes, NodeOptions& options) {
  connectors::IngestOptions ingest;
  const std::string no_api = "the api role is not in --roles / roles";
  if (!api || settings.litellm_secret.empty()) {
    const std::string why = !api ? no_api : "the LiteLLM route runs only with --litellm-secret / litellm.secret";
    if (Status s = check_unused(settings, {"litellm.secret", "litellm.default_org", "litellm.team_as_org"}, why, notes); !s.is_ok()) return s;
  } else {
    connectors::LitellmIngestOptions litellm;
    litellm.secret = settings.litellm_secret;
    litellm.mapping.default_org = settings.litellm_default_org;
    litellm.mapping.team_id_as_org = settings.litellm_team_as_org;
    ingest.litellm = litellm;
  }
  if (!api) {
    if (Status s = check_unused(settings, {"stripe.webhook_secret"}, no_api, notes); !s.is_ok()) return s;
  } else if (!settings.stripe_webhook_secret.empty()) {
    connectors::StripeIngestOptions stripe;
    stripe.webhook_secret = settings.stripe_webhook_secret;
    stripe.mapping.credits_per_bundle_micros = settings.bundle_credits * 1'000'000;
    ingest.stripe = stripe;
  }
  if (!ingest.litellm && !ingest.stripe) return Status::ok();
  if (Status s = connectors::validate(ingest); !s.is_ok()) {
    return connector_error(settings, s, {{"litellm.secret", "litellm.secret"}, {"stripe.webhook_secret", "stripe.webhook_secret"}});
  }
  options.ingest = ingest;
  return Status::ok();
}

// Buying credits (SPEC §14) on the api role: with a Stripe price (or product) of one bundle.
Status add_commerce(const NodeSettings& settings, bool api, std::vector<std::string>& notes, NodeOptions& options) {
  const bool wanted = !settings.stripe_price_id.empty() || !settings.stripe_product_id.empty();
  if (!api || !wanted) {
    return check_unused(settings, {"stripe.price_id", "stripe.product_id"}, "the api role is not in --roles / roles", notes);
  }
  if (!settings.stripe_price_id.empty() && !settings.stripe_product_id.empty()) {
    return settings.invalid("stripe.product_id", "give stripe.price_id or stripe.product_id, not both (price from " +
                                                     settings.origin("stripe.price_id") + ")");
  }
  const std::string_view given = settings.stripe_price_id.empty() ? "stripe.product_id" : "stripe.price_id";
  if (settings.stripe_url.empty()) return settings.invalid("stripe.url", "checkout (" + std::string(given) + ") needs the Stripe API URL");
  if (settings.stripe_key.empty()) return settings.invalid("stripe.key", "checkout (" + std::string(given) + ") needs a Stripe key");
  if (settings.bundle_credits == 0) {
    return settings.invalid("stripe.bundle_credits", "checkout (" + std::string(given) + ") needs the credits in one bundle");
  }
  CommerceSettings commerce;
  commerce.stripe.base_url = settings.stripe_url;
  commerce.stripe.api_key = settings.stripe_key;
  commerce.stripe.request_timeout_ms = commerce_stripe_timeout_ms;
  commerce.stripe.retry.attempts_max = commerce_stripe_attempts_max;
  // Both ≤ 1e9 (their ranges): the product fits in 64 bits.
  const int64_t amount = settings.bundle_amount_minor > 0 ? settings.bundle_amount_minor
                                                          : settings.bundle_credits * settings.credit_price_minor;
  commerce.offer = BundleOffer{Micros{settings.bundle_credits * 1'000'000}, amount, settings.currency,
                               static_cast<int32_t>(settings.platform_fee_bp), settings.platform_fee_minor};
  if (Status s = validate(commerce.offer); !s.is_ok()) {
    return settings.invalid(s.field() == "currency" ? "stripe.currency" : "stripe.bundle_amount_minor", s.message());
  }
  commerce.price_id = settings.stripe_price_id;
  commerce.product_id = settings.stripe_product_id;
  options.commerce = commerce;
  return Status::ok();
}

Status add_connectors(const NodeSettings& settings, NodeCommand command, const std::set<std::string>& roles,
                      std::vector<std::string>& notes, NodeOptions& options) {
  const bool serve = command == NodeCommand::serve;
  if (Status s = add_commerce(settings, roles.count("api") != 0, notes, options); !s.is_ok()) return s;
  if (roles.count("recharge") != 0) {
    if (Status s = add_recharge(settings, options); !s.is_ok()) return s;
  } else if (!options.commerce) {
    const std::string why = serve ? "the recharge role is not in --roles / roles" : "the recharge connector runs only with --stripe-url / stripe.url";
    if (Status s = check_unused(settings, {"stripe.url", "stripe.key", "stripe.credit_price_minor", "stripe.currency",
                                           "stripe.platform_fee_minor", "stripe.platform_fee_bp",
                                           "stripe.bundle_amount_minor"}, why, notes); !s.is_ok()) {
      return s;
    }
  }
  if (roles.count("enforce") != 0) {
    if (Status s = add_enforce(settings, options); !s.is_ok()) return s;
  } else {
    const std::string why = serve ? "the enforce role is not in --roles / roles" : "the enforcement connector runs only with --webhook-url / webhook.url";
    if (Status s = check_unused(settings, {"webhook.url", "webhook.secret"}, why, notes); !s.is_ok()) return s;
  }
  if (Status s = add_ingest(settings, roles.count("api") != 0, notes, options); !s.is_ok()) return s;
  if (!options.recharge && !options.commerce && !(options.ingest && options.ingest->stripe)) {
    return check_unused(settings, {"stripe.bundle_credits"}, "neither recharge nor the Stripe webhook route runs", notes);
  }
  return Status::ok();
}

}  // namespace

Status to_node_options(const NodeSettings& settings, NodeCommand command, NodeOptions& options,
                       std::vector<std::string>& notes) {
  if (Status s = choose_log(settings, options); !s.is_ok()) return s;
  std::set<std::string> roles;
  if (Status s = read_roles(settings, command, roles); !s.is_ok()) return s;
  options.role_api = roles.count("api") != 0;
  options.role_projector = roles.count("projector") != 0;
  if (Status s = parse_listen(settings, options); !s.is_ok()) return s;
  if (Status s = read_tokens(settings, command, options); !s.is_ok()) return s;
  if (!options.role_api) {
    if (Status s = check_unused(settings, {"listen", "token", "billing_link_secret"}, "the api role is not in --roles / roles",
                                notes);
        !s.is_ok()) {
      return s;
    }
  } else if (!settings.billing_link_secret.empty()) {
    if (settings.billing_link_secret.size() < 16) return settings.invalid("billing_link_secret", "must be 16 bytes or more");
    options.billing_link_secret = settings.billing_link_secret;
  }
  options.tick_interval_ms = static_cast<int>(settings.tick_interval_ms);
  if (!options.role_projector) {
    if (Status s = check_unused(settings, {"tick_interval_ms"}, "the projector role is not in --roles / roles", notes); !s.is_ok()) return s;
  }
  if (Status s = choose_group(settings, roles, options); !s.is_ok()) return s;
  return add_connectors(settings, command, roles, notes, options);
}

}  // namespace tally::cli
