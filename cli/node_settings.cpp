#include "cli/node_settings.h"

#include <charconv>
#include <cstdio>
#include <cstdlib>

#include "engine/limits.h"
#include "node/node.h"

namespace tally::cli {

namespace po = boost::program_options;

// The defaults above live in the header without pulling node.h into every includer; keep them
// equal to the node's and connectors' own.
static_assert(partitions_setting_default == node_partitions_default);
static_assert(tick_interval_ms_setting_default == tick_interval_ms_default);
static_assert(credit_price_minor_setting_default == connectors::credit_price_minor_default);
static_assert(group_session_timeout_ms_setting_default == node_group_session_timeout_ms_default);

namespace {

using S = NodeSettings;

// The node's own keys: the log, the data, the roles, the API, the group.
std::vector<SettingKey> node_keys() {
  return {
      {.key = "data", .flag = "data", .member = &S::data,
       .help = "data directory: views, connector progress, and the journal unless --journal/--kafka (default tally-data)"},
      {.key = "journal", .flag = "journal", .member = &S::journal,
       .help = "embedded journal directory (default DATA/journal); not with --kafka"},
      {.key = "kafka", .flag = "kafka", .member = &S::kafka, .serve_only = true,
       .help = "Kafka bootstrap brokers host:port[,host:port] (without it: the embedded journal, see --journal)"},
      {.key = "topic_prefix", .flag = "topic-prefix", .member = &S::topic_prefix, .serve_only = true,
       .help = "with --kafka: topics <prefix>.events and <prefix>.signals (default tally)"},
      {.key = "partitions", .flag = "partitions", .member = &S::partitions, .min = 1, .max = limits::partitions_max,
       .help = "events partitions of a journal created here (default 4); not with --kafka"},
      {.key = "roles", .flag = "roles", .member = &S::roles, .serve_only = true, .comma_list = true,
       .help = "comma list of api, projector (with the outbox emitter), recharge, enforce (default api,projector)"},
      {.key = "listen", .flag = "listen", .member = &S::listen,
       .help = "HTTP address HOST:PORT, port 0: any free one (default 127.0.0.1:8080)"},
      {.key = "token", .flag = "token", .member = &S::tokens, .secret = true,
       .help = "NAME:SECRET:SCOPE[,SCOPE] (admin, ingest, org:<id>, org:<id>:read); repeatable. "
               "dev: a bare SECRET is an admin token, and one is generated when none is given"},
      {.key = "tick_interval_ms", .flag = "tick-interval-ms", .member = &S::tick_interval_ms, .min = 0,
       .max = tick_interval_ms_max, .range_note = "0: no ticks",
       .help = "projector: append a Tick to every partition this often (default 60000; 0: never)"},
      {.key = "billing_link_secret", .flag = "billing-link-secret", .member = &S::billing_link_secret, .secret = true,
       .fallback_env = "TALLY_BILLING_LINK_SECRET",
       .help = "api: HMAC secret of the billing page links, 16+ bytes (or $TALLY_BILLING_LINK_SECRET; dev: random "
               "when unset; serve: no links without it)"},
      {.key = "group.name", .flag = "group", .member = &S::group, .serve_only = true,
       .help = "with --kafka: the consumer group the nodes of one deployment join; each projects, emits and serves "
               "the partitions the group gives it (SPEC §13)"},
      {.key = "group.node_id", .flag = "node-id", .member = &S::node_id, .serve_only = true,
       .help = "with --group: this node's id, unique in the group"},
      {.key = "group.advertise_url", .flag = "advertise-url", .member = &S::advertise_url, .serve_only = true,
       .help = "with --group: the API base URL the other nodes forward reads to (default http://LISTEN)"},
      {.key = "group.session_timeout_ms", .flag = "group-session-timeout-ms", .member = &S::group_session_timeout_ms,
       .serve_only = true, .min = group_session_timeout_ms_min, .max = group_session_timeout_ms_max,
       .help = "with --group: a node silent this long loses its partitions to the others (default 10000)"},
  };
}

// The connectors' keys: Stripe, the enforcement webhook, LiteLLM.
std::vector<SettingKey> connector_keys() {
  return {
      {.key = "stripe.url", .flag = "stripe-url", .member = &S::stripe_url,
       .help = "recharge: Stripe API base URL (runs the recharge connector in dev)"},
      {.key = "stripe.key", .flag = "stripe-key", .member = &S::stripe_key, .secret = true,
       .fallback_env = "TALLY_STRIPE_KEY", .help = "recharge: Stripe secret key (or $TALLY_STRIPE_KEY)"},
      {.key = "stripe.credit_price_minor", .flag = "credit-price-minor", .member = &S::credit_price_minor, .min = 1,
       .max = credit_price_minor_max, .help = "recharge: price of one credit in minor units of --currency (default 100)"},
      {.key = "stripe.currency", .flag = "currency", .member = &S::currency,
       .help = "recharge: ISO currency, 3 lower-case letters (default usd)"},
      {.key = "stripe.platform_fee_minor", .flag = "platform-fee-minor", .member = &S::platform_fee_minor, .min = 0,
       .max = platform_fee_minor_max, .help = "recharge: fee added to each charge, recorded as the AutoRefill's fee"},
      {.key = "stripe.platform_fee_bp", .flag = "platform-fee-bp", .member = &S::platform_fee_bp, .min = 0,
       .max = platform_fee_bp_setting_max, .range_note = "basis points: 290 = 2.9%",
       .help = "platform fee in percent of the credits bought (basis points), added on top with platform_fee_minor"},
      {.key = "stripe.bundle_credits", .flag = "bundle-credits", .member = &S::bundle_credits, .min = 0,
       .max = bundle_credits_max, .range_note = "0: unset",
       .help = "credits in one bundle (checkout, auto-refill in bundles; Stripe checkouts without credits_micros)"},
      {.key = "stripe.bundle_amount_minor", .flag = "bundle-amount-minor", .member = &S::bundle_amount_minor, .min = 0,
       .max = bundle_amount_minor_max, .range_note = "0: bundle_credits x credit_price_minor",
       .help = "price of one bundle in minor units of --currency"},
      {.key = "stripe.price_id", .flag = "stripe-price", .member = &S::stripe_price_id,
       .help = "api: the Stripe price of one bundle (checkout; turns on price, checkout, payment-method)"},
      {.key = "stripe.product_id", .flag = "stripe-product", .member = &S::stripe_product_id,
       .help = "api: or a Stripe product: a one-time price of it for the bundle is found or made at start"},
      {.key = "stripe.webhook_secret", .flag = "stripe-webhook-secret", .member = &S::stripe_webhook_secret,
       .secret = true, .fallback_env = "TALLY_STRIPE_WEBHOOK_SECRET",
       .help = "POST /api/v1/webhooks/stripe signing secret (or $TALLY_STRIPE_WEBHOOK_SECRET)"},
      {.key = "webhook.url", .flag = "webhook-url", .member = &S::webhook_url,
       .help = "enforce: platform endpoint for pause/resume webhooks"},
      {.key = "webhook.secret", .flag = "webhook-secret", .member = &S::webhook_secret, .secret = true,
       .fallback_env = "TALLY_WEBHOOK_SECRET", .help = "enforce: HMAC secret (or $TALLY_WEBHOOK_SECRET)"},
      {.key = "litellm.secret", .flag = "litellm-secret", .member = &S::litellm_secret, .secret = true,
       .fallback_env = "TALLY_LITELLM_SECRET",
       .help = "POST /api/v1/internal/litellm/usage bearer secret (or $TALLY_LITELLM_SECRET)"},
      {.key = "litellm.default_org", .flag = "litellm-default-org", .member = &S::litellm_default_org,
       .help = "org for LiteLLM calls without a mapped team"},
      {.key = "litellm.team_as_org", .flag = "litellm-team-as-org", .member = &S::litellm_team_as_org,
       .help = "use the LiteLLM team id as the org id (=false to turn off what the file turned on)"},
  };
}

}  // namespace

const std::vector<SettingKey>& setting_keys() {
  static const std::vector<SettingKey> keys = [] {
    std::vector<SettingKey> all = node_keys();
    for (SettingKey& key : connector_keys()) all.push_back(std::move(key));
    return all;
  }();
  return keys;
}

const SettingKey* find_setting_key(std::string_view key) {
  for (const SettingKey& candidate : setting_keys()) {
    if (candidate.key == key) return &candidate;
  }
  return nullptr;
}

std::string NodeSettings::origin(std::string_view key) const {
  if (auto found = origins.find(key); found != origins.end()) return found->second;
  const std::string_view base = key.substr(0, key.find('['));
  const SettingKey* setting = find_setting_key(base);
  if (setting == nullptr) return std::string(key);
  return "--" + std::string(setting->flag) + " (config: " + std::string(setting->key) + ")";
}

Status NodeSettings::invalid(std::string_view key, std::string message) const {
  return Status::invalid(origin(key), std::move(message));
}

Environment process_environment() {
  return [](std::string_view name) -> std::optional<std::string> {
    const char* value = std::getenv(std::string(name).c_str());
    if (value == nullptr) return std::nullopt;
    return std::string(value);
  };
}

std::string quote_input(std::string_view text) {
  static constexpr std::size_t echoed_bytes_max = 128;
  std::string out = "'";
  for (std::size_t i = 0; i < text.size() && i < echoed_bytes_max; ++i) {
    const auto byte = static_cast<unsigned char>(text[i]);
    if (byte < 0x20 || byte == 0x7f) {
      char escaped[8];
      std::snprintf(escaped, sizeof escaped, "\\x%02x", byte);
      out += escaped;
    } else {
      out += text[i];
    }
  }
  if (text.size() > echoed_bytes_max) out += "...";
  return out + "'";
}

std::string_view setting_type_name(const SettingKey& key) {
  static constexpr std::string_view names[] = {"a string", "an integer", "a boolean", "an array of strings"};
  return names[key.member.index()];
}

namespace {

std::string range_text(const SettingKey& key) {
  std::string text = std::to_string(key.min) + ".." + std::to_string(key.max);
  if (!key.range_note.empty()) text += " (" + std::string(key.range_note) + ")";
  return text;
}

Status check_value(const SettingKey& key, const SettingValue& value, const std::string& origin) {
  if (const auto* text = std::get_if<std::string>(&value); text != nullptr && text->empty()) {
    return Status::invalid(origin, "is empty; want " + std::string(key.help));
  }
  if (const auto* list = std::get_if<std::vector<std::string>>(&value)) {
    for (const std::string& element : *list) {
      if (element.empty()) return Status::invalid(origin, "has an empty element");
    }
  }
  if (const auto* number = std::get_if<int64_t>(&value); number != nullptr && (*number < key.min || *number > key.max)) {
    return Status::invalid(origin, "must be " + range_text(key) + ", got " + std::to_string(*number));
  }
  return Status::ok();
}

}  // namespace

Status set_setting(const SettingKey& key, SettingValue value, std::string origin, NodeSettings& settings) {
  if (Status s = check_value(key, value, origin); !s.is_ok()) return s;
  std::visit(
      [&](auto member) {
        using Field = std::remove_reference_t<decltype(settings.*member)>;
        settings.*member = std::move(std::get<Field>(value));
      },
      key.member);
  settings.origins[std::string(key.key)] = std::move(origin);
  return Status::ok();
}

void add_node_flags(NodeCommand command, po::options_description& options) {
  options.add_options()("config", po::value<std::string>(), "TOML config file; flags given here override its keys");
  for (const SettingKey& key : setting_keys()) {
    if (key.serve_only && command != NodeCommand::serve) continue;
    const std::string flag(key.flag);
    const std::string help = std::string(key.help) + " [config: " + std::string(key.key) + "]";
    po::value_semantic* semantic = nullptr;
    if (std::holds_alternative<bool NodeSettings::*>(key.member)) {
      semantic = po::value<bool>()->implicit_value(true);
    } else if (std::holds_alternative<std::vector<std::string> NodeSettings::*>(key.member)) {
      semantic = po::value<std::vector<std::string>>();
    } else {
      semantic = po::value<std::string>();
    }
    options.add_options()(flag.c_str(), semantic, help.c_str());
  }
}

namespace {

// A flag's text as the key's type: integers are parsed here so that errors say the range.
Result<SettingValue> flag_value(const SettingKey& key, const po::variable_value& given, const std::string& origin) {
  if (std::holds_alternative<bool NodeSettings::*>(key.member)) return SettingValue(given.as<bool>());
  if (std::holds_alternative<std::vector<std::string> NodeSettings::*>(key.member)) {
    if (!key.comma_list) return SettingValue(given.as<std::vector<std::string>>());
    std::vector<std::string> elements;
    for (const std::string& text : given.as<std::vector<std::string>>()) {
      for (std::size_t start = 0; start <= text.size();) {
        const std::size_t comma = std::min(text.find(',', start), text.size());
        elements.push_back(text.substr(start, comma - start));
        start = comma + 1;
      }
    }
    return SettingValue(std::move(elements));
  }
  const std::string& text = given.as<std::string>();
  if (std::holds_alternative<std::string NodeSettings::*>(key.member)) return SettingValue(text);
  int64_t number = 0;
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), number);
  if (error != std::errc() || end != text.data() + text.size()) {
    return Status::invalid(origin, "must be an integer " + range_text(key) + ", got " + quote_input(text));
  }
  return SettingValue(number);
}

}  // namespace

Status apply_flags(const po::variables_map& vm, NodeCommand command, NodeSettings& settings) {
  for (const SettingKey& key : setting_keys()) {
    const std::string flag(key.flag);
    if (key.serve_only && command != NodeCommand::serve) continue;
    if (vm.count(flag) == 0 || vm[flag].defaulted()) continue;
    const std::string origin = "--" + flag;
    Result<SettingValue> value = flag_value(key, vm[flag], origin);
    if (!value.is_ok()) return value.status();
    if (Status s = set_setting(key, std::move(value.value()), origin, settings); !s.is_ok()) return s;
    if (key.key == "token") {
      for (std::size_t i = 0; i < settings.tokens.size(); ++i) {
        settings.origins["token[" + std::to_string(i) + "]"] = origin + "[" + std::to_string(i) + "]";
      }
    }
  }
  return Status::ok();
}

Result<NodeSettings> resolve_node_settings(NodeCommand command, const po::variables_map& vm,
                                           const Environment& environment) {
  NodeSettings settings;
  if (vm.count("config") != 0) {
    if (Status s = load_config_file(vm["config"].as<std::string>(), command, environment, settings); !s.is_ok()) {
      return s;
    }
  }
  // Flags override the file: drop the file's per-token origins when --token replaces its list.
  if (vm.count("token") != 0) std::erase_if(settings.origins, [](const auto& entry) { return entry.first.starts_with("token["); });
  if (Status s = apply_flags(vm, command, settings); !s.is_ok()) return s;
  for (const SettingKey& key : setting_keys()) {
    if (key.fallback_env.empty() || settings.is_set(key.key)) continue;
    std::optional<std::string> value = environment(key.fallback_env);
    if (!value.has_value() || value->empty()) continue;  // the shell's `export VAR=` means unset
    const std::string origin = "$" + std::string(key.fallback_env);
    if (Status s = set_setting(key, std::move(*value), origin, settings); !s.is_ok()) return s;
  }
  return settings;
}

}  // namespace tally::cli
