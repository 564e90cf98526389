// The settings of `tally dev` and `tally serve`, from three sources: command-line flags, a TOML
// config file (--config FILE) and, for secrets only, the environment.
//
// CAVEATS
// - Precedence, per key: flag > config file > environment fallback (TALLY_STRIPE_KEY, …) > default.
//   A flag replaces the file's value; --token flags replace the file's whole [[token]] list.
// - Secrets (API token secrets, Stripe key, webhook and ingest secrets) need never be on the
//   command line (`ps` shows it): the file holds them, or a `*_env` key names the environment
//   variable that does. A file holding a literal secret that group or others can read is
//   accepted with a warning (NodeSettings::warnings).
// - Nothing is ignored: an unknown key, a key of the other command, a wrong type, an empty text, an
//   integer out of range are errors naming the flag (`--tick-interval-ms`) or the file, line and
//   key path (`tally.toml:7: stripe.currency`).
//
// Every key is described once, in setting_keys(): its TOML path, its flag, its type and range. The
// flags, the config file reader and the errors are driven by that table.
//
// Config file layout (README "Configuration file" and tally.example.toml show all of it):
//   top level   data, journal, kafka, topic_prefix, partitions, roles, listen, tick_interval_ms,
//               billing_link_secret
//   [group]     name, node_id, advertise_url, session_timeout_ms (serve: several nodes)
//   [stripe]    url, key, credit_price_minor, currency, platform_fee_minor, platform_fee_bp,
//               bundle_credits, bundle_amount_minor, price_id, product_id, webhook_secret
//   [webhook]   url, secret
//   [litellm]   secret, default_org, team_as_org
//   [[token]]   name, secret, scopes (one table per token)
// A secret key `k` may instead be given as `k_env = "VAR"`: the value of environment variable VAR.
#pragma once

#include <boost/program_options.hpp>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "engine/status.h"

namespace tally {
struct NodeOptions;
}

namespace tally::cli {

enum class NodeCommand { dev, serve };

// Limits of the numeric settings. They are there so that a typo fails loudly instead of running.
inline constexpr int64_t tick_interval_ms_max = 86'400'000;         // one day; 0 means no ticks
inline constexpr int64_t credit_price_minor_max = 1'000'000'000;     // minor units per credit
inline constexpr int64_t platform_fee_minor_max = 1'000'000'000;     // minor units per charge
inline constexpr int64_t bundle_credits_max = 1'000'000'000;         // credits (x 1e6 fits int64)
inline constexpr int64_t bundle_amount_minor_max = 1'000'000'000;    // minor units per bundle
inline constexpr int64_t platform_fee_bp_setting_max = 10'000;       // 100%
inline constexpr std::size_t config_file_bytes_max = 1 << 20;        // 1 MiB
// Defaults that are also the node's and the recharge connector's (node_settings.cpp checks it).
inline constexpr int64_t partitions_setting_default = 4;
inline constexpr int64_t tick_interval_ms_setting_default = 60'000;
inline constexpr int64_t credit_price_minor_setting_default = 100;
inline constexpr int64_t group_session_timeout_ms_setting_default = 10'000;
inline constexpr int64_t group_session_timeout_ms_min = 1'000;     // librdkafka's own floor
inline constexpr int64_t group_session_timeout_ms_max = 300'000;

struct NodeSettings {
  std::string data = "tally-data";
  std::string journal;  // empty: DATA/journal, unless kafka
  std::string kafka;
  std::string topic_prefix = "tally";
  int64_t partitions = partitions_setting_default;
  std::vector<std::string> roles = {"api", "projector"};
  std::string listen = "127.0.0.1:8080";
  std::vector<std::string> tokens;  // NAME:SECRET:SCOPE[,SCOPE]; dev also takes a bare admin SECRET
  int64_t tick_interval_ms = tick_interval_ms_setting_default;
  std::string stripe_url;
  std::string stripe_key;
  int64_t credit_price_minor = credit_price_minor_setting_default;
  std::string currency = "usd";
  int64_t platform_fee_minor = 0;
  int64_t bundle_credits = 0;
  int64_t bundle_amount_minor = 0;  // 0: bundle_credits × credit_price_minor
  int64_t platform_fee_bp = 0;
  std::string stripe_price_id;
  std::string stripe_product_id;
  std::string stripe_webhook_secret;
  std::string webhook_url;
  std::string webhook_secret;
  std::string litellm_secret;
  std::string litellm_default_org;
  bool litellm_team_as_org = false;
  std::string billing_link_secret;  // dev: generated at random when unset
  std::string group;          // serve, with kafka: the consumer group of the nodes (SPEC §13)
  std::string node_id;        // with group: this node's id
  std::string advertise_url;  // with group: the API base URL the other nodes forward reads to
  int64_t group_session_timeout_ms = group_session_timeout_ms_setting_default;

  // Where each value that is not a default came from, by key path: "--stripe-url",
  // "tally.toml:7: stripe.url" or "$TALLY_STRIPE_KEY".
  std::map<std::string, std::string, std::less<>> origins;
  // Non-fatal findings (a world-readable file holding secrets), for the command to print.
  std::vector<std::string> warnings;

  bool is_set(std::string_view key) const { return origins.find(key) != origins.end(); }
  // The name to put in an error about `key`: its origin, or "--flag (config: key)" when unset.
  std::string origin(std::string_view key) const;
  Status invalid(std::string_view key, std::string message) const;
};

// One setting: a config key and its flag.
struct SettingKey {
  using Member = std::variant<std::string NodeSettings::*, int64_t NodeSettings::*, bool NodeSettings::*,
                              std::vector<std::string> NodeSettings::*>;
  std::string_view key{};       // TOML path: "tick_interval_ms", "stripe.url"
  std::string_view flag{};      // without dashes: "tick-interval-ms"
  Member member{};
  bool serve_only = false;      // kafka, topic_prefix, roles
  bool secret = false;          // may be `<key>_env`; a literal one in a readable file warns
  std::string_view fallback_env{};  // secrets: environment variable read when nothing else set it
  int64_t min = 0;              // integers: the valid range, inclusive
  int64_t max = 0;
  std::string_view range_note{};  // integers: what a special value means, e.g. "0: no ticks"
  bool comma_list = false;      // lists: a flag value is split on ',' (roles; not tokens)
  std::string_view help{};
};

// One value of a setting, as a source gives it (the alternative matches the key's member).
using SettingValue = std::variant<std::string, int64_t, bool, std::vector<std::string>>;

// Stores `value` for `key`, remembering `origin`, after the checks every source shares: a text
// or list element is not empty, an integer is within [min, max].
// REQUIRES: `value` holds the alternative of key.member.
Status set_setting(const SettingKey& key, SettingValue value, std::string origin, NodeSettings& settings);
// "a string", "an integer", "a boolean", "an array of strings": the type a key wants.
std::string_view setting_type_name(const SettingKey& key);
// Input echoed in an error: at most 128 bytes, control characters escaped.
std::string quote_input(std::string_view text);

// Every setting, in the order of the README table.
const std::vector<SettingKey>& setting_keys();
// The key at TOML path `key`, nullptr if there is none.
const SettingKey* find_setting_key(std::string_view key);

// Reads an environment variable; nullopt when unset. Tests pass a map instead of the process's.
using Environment = std::function<std::optional<std::string>(std::string_view name)>;
Environment process_environment();

// Registers --config and the flag of every key `command` takes.
void add_node_flags(NodeCommand command, boost::program_options::options_description& options);

// Reads config text into `settings`. `name` names the file in errors ("tally.toml:7: …").
// Errors: invalid_argument for a TOML syntax error, an unknown key or table, a key of the other
// command, a wrong type, an empty text, an integer out of range, an unset *_env variable.
Status read_config(std::string_view text, std::string_view name, NodeCommand command, const Environment& environment,
                   NodeSettings& settings);

// Reads the file at `path` (at most config_file_bytes_max) with read_config, and warns in
// settings.warnings when it holds a literal secret and group or others may read it.
Status load_config_file(const std::string& path, NodeCommand command, const Environment& environment,
                        NodeSettings& settings);

// Overwrites `settings` with the flags given in `vm` (flags not given leave the value alone).
Status apply_flags(const boost::program_options::variables_map& vm, NodeCommand command, NodeSettings& settings);

// All sources in order: defaults, --config file, flags, environment fallbacks of unset secrets.
Result<NodeSettings> resolve_node_settings(NodeCommand command, const boost::program_options::variables_map& vm,
                                           const Environment& environment);

// The node to run. Checks what needs several keys at once: one log (kafka or journal), roles and
// the connectors they need, tokens, the listen address. Errors name the origin of the key at fault.
// dev: a token without ':' is an admin secret (token name "dev"). Settings of a connector that
// does not run here are an error when given as flags, and a line in `notes` when they come from
// the file (one file may describe several processes with different roles).
Status to_node_options(const NodeSettings& settings, NodeCommand command, NodeOptions& options,
                       std::vector<std::string>& notes);

}  // namespace tally::cli
