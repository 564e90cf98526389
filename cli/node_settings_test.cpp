// The settings of `tally dev`/`tally serve`: every config key reaches the node's options, flags
// override the file, secrets come from the file or the environment, bad input is refused with
// the flag or the file:line and key path.
#include <sys/stat.h>
#include <unistd.h>

#include <boost/test/unit_test.hpp>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <set>

#include "cli/node_settings.h"
#include "node/node.h"
#include "tests/support/temp_dir.h"

namespace po = boost::program_options;
using namespace tally;
using namespace tally::cli;

namespace {

const std::string admin_secret = "admin-secret-0123456789";
const std::string acme_secret = "acme-secret-0123456789";

Environment environment_of(std::map<std::string, std::string> variables) {
  return [variables = std::move(variables)](std::string_view name) -> std::optional<std::string> {
    auto found = variables.find(std::string(name));
    if (found == variables.end()) return std::nullopt;
    return found->second;
  };
}

// A scratch directory for config files.
struct ConfigDir {
  test_support::TempDir dir;
  // Writes `text` to NAME with `mode`; returns its path.
  std::string write(const std::string& name, const std::string& text, mode_t mode = 0600) const {
    const std::string file = dir.sub(name);
    std::ofstream(file) << text;
    BOOST_REQUIRE(::chmod(file.c_str(), mode) == 0);
    return file;
  }
};

po::variables_map flags(NodeCommand command, const std::vector<std::string>& args) {
  po::options_description options;
  add_node_flags(command, options);
  po::variables_map vm;
  po::store(po::command_line_parser(args).options(options).run(), vm);
  po::notify(vm);
  return vm;
}

// Flags (with --config) → settings → options; the Status of the first step that failed.
struct Resolved {
  Status status;
  NodeSettings settings;
  NodeOptions options;
  std::vector<std::string> notes;
};
Resolved run(NodeCommand command, const std::vector<std::string>& args, const Environment& environment = environment_of({})) {
  Resolved out;
  auto settings = resolve_node_settings(command, flags(command, args), environment);
  if (!settings.is_ok()) {
    out.status = settings.status();
    return out;
  }
  out.settings = settings.value();
  out.status = to_node_options(out.settings, command, out.options, out.notes);
  return out;
}

// Config text alone → settings (no flags, no file).
Status read(const std::string& text, NodeSettings& settings, NodeCommand command = NodeCommand::serve,
            const Environment& environment = environment_of({})) {
  return read_config(text, "tally.toml", command, environment, settings);
}

// One row per key: its line in a config file and what it must do to the node's options.
// `scenario`: the file it goes in ("kafka", "journal" or both), since kafka and journal exclude
// each other, as do kafka and partitions.
struct KeyRow {
  std::string key;
  std::string scenario;  // "kafka", "journal", "" (both)
  std::string toml;      // the key's line(s), in its table
  std::function<bool(const NodeOptions&)> check;
};

std::vector<KeyRow> key_rows() {
  return {
      {"data", "", "data = \"/srv/tally\"", [](const NodeOptions& o) { return o.data_dir == "/srv/tally"; }},
      {"journal", "journal", "journal = \"/srv/log\"", [](const NodeOptions& o) { return o.journal_dir == "/srv/log" && o.kafka_brokers.empty(); }},
      {"kafka", "kafka", "kafka = \"k1:9092,k2:9092\"", [](const NodeOptions& o) { return o.kafka_brokers == "k1:9092,k2:9092"; }},
      {"topic_prefix", "kafka", "topic_prefix = \"ledger\"", [](const NodeOptions& o) { return o.topic_prefix == "ledger"; }},
      {"partitions", "journal", "partitions = 8", [](const NodeOptions& o) { return o.partitions == 8; }},
      {"roles", "", "roles = [\"api\", \"projector\", \"recharge\", \"enforce\"]",
       [](const NodeOptions& o) { return o.role_api && o.role_projector && o.recharge && o.enforce; }},
      {"listen", "", "listen = \"[::1]:9090\"", [](const NodeOptions& o) { return o.listen_host == "::1" && o.listen_port == 9090; }},
      {"token", "", "[[token]]\nname = \"ops\"\nsecret = \"" + admin_secret + "\"\nscopes = [\"admin\"]\n"
                    "[[token]]\nname = \"acme\"\nsecret = \"" + acme_secret + "\"\nscopes = [\"org:acme\", \"ingest\"]",
       [](const NodeOptions& o) {
         return o.tokens.size() == 2 && o.tokens[0].name == "ops" && o.tokens[0].secret == admin_secret &&
                o.tokens[0].scopes == std::vector<std::string>{"admin"} && o.tokens[1].name == "acme" &&
                o.tokens[1].scopes == std::vector<std::string>{"org:acme", "ingest"};
       }},
      {"billing_link_secret", "", "billing_link_secret = \"billing-link-secret-0123\"",
       [](const NodeOptions& o) { return o.billing_link_secret == "billing-link-secret-0123"; }},
      {"tick_interval_ms", "", "tick_interval_ms = 5000", [](const NodeOptions& o) { return o.tick_interval_ms == 5000; }},
      {"group.name", "kafka", "[group]\nname = \"ledger-nodes\"", [](const NodeOptions& o) { return o.group == "ledger-nodes"; }},
      {"group.node_id", "kafka", "[group]\nnode_id = \"node-a\"", [](const NodeOptions& o) { return o.node_id == "node-a"; }},
      {"group.advertise_url", "kafka", "[group]\nadvertise_url = \"http://10.0.0.2:8080\"",
       [](const NodeOptions& o) { return o.advertise_url == "http://10.0.0.2:8080"; }},
      {"group.session_timeout_ms", "kafka", "[group]\nsession_timeout_ms = 15000",
       [](const NodeOptions& o) { return o.group_session_timeout_ms == 15000 && o.group_heartbeat_interval_ms == 1500; }},
      {"stripe.url", "", "[stripe]\nurl = \"http://127.0.0.1:12111\"", [](const NodeOptions& o) { return o.recharge->stripe.base_url == "http://127.0.0.1:12111"; }},
      {"stripe.key", "", "[stripe]\nkey = \"sk_test_file\"", [](const NodeOptions& o) { return o.recharge->stripe.api_key == "sk_test_file"; }},
      {"stripe.credit_price_minor", "", "[stripe]\ncredit_price_minor = 90", [](const NodeOptions& o) { return o.recharge->credit_price_minor == 90; }},
      {"stripe.currency", "", "[stripe]\ncurrency = \"eur\"", [](const NodeOptions& o) { return o.recharge->currency == "eur"; }},
      {"stripe.platform_fee_minor", "", "[stripe]\nplatform_fee_minor = 30", [](const NodeOptions& o) { return o.recharge->platform_fee_minor == 30; }},
      {"stripe.bundle_credits", "", "[stripe]\nbundle_credits = 100",
       [](const NodeOptions& o) {
         return o.recharge->credits_per_bundle_micros == 100'000'000 && o.ingest->stripe->mapping.credits_per_bundle_micros == 100'000'000;
       }},
      {"stripe.platform_fee_bp", "", "[stripe]\nplatform_fee_bp = 290",
       [](const NodeOptions& o) { return o.recharge->platform_fee_bp == 290 && o.commerce->offer.fee_bp == 290; }},
      {"stripe.bundle_amount_minor", "", "[stripe]\nbundle_amount_minor = 9000",
       [](const NodeOptions& o) { return o.recharge->bundle_amount_minor == 9000 && o.commerce->offer.unit_amount_minor == 9000; }},
      // One of price and product: a price in one scenario, a product in the other.
      {"stripe.price_id", "journal", "[stripe]\nprice_id = \"price_bundle\"",
       [](const NodeOptions& o) { return o.commerce->price_id == "price_bundle" && o.commerce->product_id.empty(); }},
      {"stripe.product_id", "kafka", "[stripe]\nproduct_id = \"prod_credits\"",
       [](const NodeOptions& o) { return o.commerce->product_id == "prod_credits" && o.commerce->price_id.empty(); }},
      {"stripe.webhook_secret", "", "[stripe]\nwebhook_secret = \"whsec_file\"", [](const NodeOptions& o) { return o.ingest->stripe->webhook_secret == "whsec_file"; }},
      {"webhook.url", "", "[webhook]\nurl = \"https://platform.example/tally\"", [](const NodeOptions& o) { return o.enforce->url == "https://platform.example/tally"; }},
      {"webhook.secret", "", "[webhook]\nsecret = \"webhook-secret-0123456789abcdef\"", [](const NodeOptions& o) { return o.enforce->secret == "webhook-secret-0123456789abcdef"; }},
      {"litellm.secret", "", "[litellm]\nsecret = \"litellm-secret-0123456789\"", [](const NodeOptions& o) { return o.ingest->litellm->secret == "litellm-secret-0123456789"; }},
      {"litellm.default_org", "", "[litellm]\ndefault_org = \"acme\"", [](const NodeOptions& o) { return o.ingest->litellm->mapping.default_org == "acme"; }},
      {"litellm.team_as_org", "", "[litellm]\nteam_as_org = true", [](const NodeOptions& o) { return o.ingest->litellm->mapping.team_id_as_org; }},
  };
}

// The rows of one scenario as a file: top-level keys first, then each table's keys under one header.
std::string file_of(const std::vector<KeyRow>& rows, const std::string& scenario) {
  std::string top;
  std::map<std::string, std::string> tables;
  for (const KeyRow& row : rows) {
    if (!row.scenario.empty() && row.scenario != scenario) continue;
    if (row.toml.starts_with("[[")) {
      tables["~tokens"] += row.toml + "\n";  // arrays of tables last
    } else if (row.toml.starts_with("[")) {
      const std::size_t end = row.toml.find('\n');
      tables[row.toml.substr(0, end)] += row.toml.substr(end + 1) + "\n";
    } else {
      top += row.toml + "\n";
    }
  }
  std::string text = top;
  for (const auto& [header, body] : tables) text += (header == "~tokens" ? "" : header + "\n") + body;
  return text;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(config_file)

BOOST_AUTO_TEST_CASE(every_key_reaches_the_node_options) {
  const std::vector<KeyRow> rows = key_rows();
  std::set<std::string> covered;
  for (const KeyRow& row : rows) covered.insert(row.key);
  std::set<std::string> keys;
  for (const SettingKey& key : setting_keys()) keys.insert(std::string(key.key));
  BOOST_TEST(covered == keys, "a key of setting_keys() has no row here, or a row names no key");

  ConfigDir dir;
  for (const std::string scenario : {"kafka", "journal"}) {
    BOOST_TEST_CONTEXT("scenario " << scenario) {
      const std::string text = file_of(rows, scenario);
      BOOST_TEST_MESSAGE(text);
      Resolved out = run(NodeCommand::serve, {"--config", dir.write(scenario + ".toml", text)});
      BOOST_REQUIRE_MESSAGE(out.status.is_ok(), out.status.to_string());
      BOOST_TEST(out.notes.empty());
      for (const KeyRow& row : rows) {
        if (!row.scenario.empty() && row.scenario != scenario) continue;
        BOOST_TEST_CONTEXT("key " << row.key) {
          BOOST_TEST(row.check(out.options));
          BOOST_TEST(out.settings.origin(row.key).find(scenario + ".toml:") != std::string::npos);
        }
      }
    }
  }
}

BOOST_AUTO_TEST_CASE(the_example_file_parses_and_builds_a_node) {
  const char* source = std::getenv("TALLY_SOURCE_DIR");
  BOOST_REQUIRE_MESSAGE(source != nullptr, "set TALLY_SOURCE_DIR to the source tree");
  const std::string path = std::string(source) + "/tally.example.toml";
  // The example names its secrets' environment variables (*_env) rather than holding them.
  const Environment environment = environment_of({{"TALLY_OPS_TOKEN", admin_secret},
                                                  {"TALLY_ACME_TOKEN", acme_secret},
                                                  {"STRIPE_SECRET_KEY", "sk_test_example"},
                                                  {"STRIPE_WEBHOOK_SECRET", "whsec_example"},
                                                  {"PLATFORM_WEBHOOK_SECRET", "webhook-secret-0123456789abcdef"},
                                                  {"LITELLM_CALLBACK_SECRET", "litellm-secret-0123456789"},
                                                  {"TALLY_BILLING_LINK_SECRET", "billing-link-secret-0123456789"}});
  Resolved out = run(NodeCommand::serve, {"--config", path}, environment);
  BOOST_REQUIRE_MESSAGE(out.status.is_ok(), out.status.to_string());
  BOOST_TEST(out.settings.warnings.empty());
  BOOST_TEST(out.options.tokens.size() == 2u);
  BOOST_TEST(out.options.ingest.has_value());
}

BOOST_AUTO_TEST_CASE(flags_override_the_file) {
  ConfigDir dir;
  const std::string config = dir.write("tally.toml",
                                       "listen = \"127.0.0.1:7000\"\n"
                                       "tick_interval_ms = 1000\n"
                                       "[[token]]\nname = \"ops\"\nsecret = \"" + admin_secret + "\"\nscopes = [\"admin\"]\n"
                                       "[litellm]\nsecret = \"litellm-secret-0123456789\"\nteam_as_org = true\n");
  Resolved out = run(NodeCommand::dev, {"--config", config, "--tick-interval-ms", "0", "--token",
                                       "acme:" + acme_secret + ":org:acme", "--litellm-team-as-org=false"});
  BOOST_REQUIRE_MESSAGE(out.status.is_ok(), out.status.to_string());
  BOOST_TEST(out.options.tick_interval_ms == 0);                       // the flag
  BOOST_TEST(out.options.listen_port == 7000);                         // the file, no flag
  BOOST_TEST(!out.options.ingest->litellm->mapping.team_id_as_org);    // a flag turns a file's true off
  BOOST_REQUIRE(out.options.tokens.size() == 1u);                      // --token replaces the file's list
  BOOST_TEST(out.options.tokens[0].name == "acme");
  BOOST_TEST(out.settings.origin("tick_interval_ms") == "--tick-interval-ms");
  BOOST_TEST(out.settings.origin("listen") == config + ":1: listen");
}

BOOST_AUTO_TEST_CASE(unknown_keys_are_errors_naming_the_key_path_and_line) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"listen = \"127.0.0.1:1\"\ntick_interval = 5\n", "tally.toml:2: tick_interval"},
      {"[stripe]\nurl = \"http://x\"\ncurency = \"usd\"\n", "tally.toml:3: stripe.curency"},
      {"[stripes]\nurl = \"http://x\"\n", "tally.toml:1: stripes"},
      {"[stripe.retry]\nattempts = 3\n", "tally.toml:1: stripe.retry"},
      {"data_env = \"HOME\"\n", "tally.toml:1: data_env"},  // only secrets have *_env
      {"[[token]]\nname = \"a\"\nsecret = \"" + admin_secret + "\"\nscope = [\"admin\"]\n", "tally.toml:4: token[0].scope"},
      {"config = \"other.toml\"\n", "tally.toml:1: config"},
  };
  for (const auto& [text, field] : cases) {
    BOOST_TEST_CONTEXT(text) {
      NodeSettings settings;
      const Status status = read(text, settings);
      BOOST_TEST(status.field() == field);
      BOOST_TEST(status.message().find("unknown") != std::string::npos, status.to_string());
    }
  }
}

BOOST_AUTO_TEST_CASE(a_key_of_serve_only_is_refused_by_dev) {
  NodeSettings settings;
  const Status status = read("kafka = \"k:9092\"\n", settings, NodeCommand::dev);
  BOOST_TEST(status.field() == "tally.toml:1: kafka");
  BOOST_TEST(status.message().find("tally serve only") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(a_wrong_type_names_the_key_the_expected_type_and_the_line) {
  const std::vector<std::tuple<std::string, std::string, std::string>> cases = {
      {"\n\ntick_interval_ms = \"60000\"\n", "tally.toml:3: tick_interval_ms", "must be an integer, got a string"},
      {"partitions = 4.0\n", "tally.toml:1: partitions", "must be an integer, got a float"},
      {"roles = \"api,projector\"\n", "tally.toml:1: roles", "must be an array of strings, got a string"},
      {"roles = [\"api\", 1]\n", "tally.toml:1: roles", "must be an array of strings, got an array"},
      {"[litellm]\nteam_as_org = 1\n", "tally.toml:2: litellm.team_as_org", "must be a boolean, got an integer"},
      {"listen = 1979-05-27\n", "tally.toml:1: listen", "must be a string, got a date"},
      {"[stripe]\nkey_env = 12\n", "tally.toml:2: stripe.key_env", "must be a string naming an environment variable, got an integer"},
      {"[token]\nname = \"a\"\n", "tally.toml:1: token", "must be an array of tables"},
      {"[[token]]\nname = \"a\"\nsecret = \"" + admin_secret + "\"\nscopes = \"admin\"\n", "tally.toml:4: token[0].scopes",
       "must be a non-empty array of strings"},
  };
  for (const auto& [text, field, message] : cases) {
    BOOST_TEST_CONTEXT(text) {
      NodeSettings settings;
      const Status status = read(text, settings);
      BOOST_TEST(status.field() == field);
      BOOST_TEST(status.message().starts_with(message), status.to_string());
    }
  }
}

BOOST_AUTO_TEST_CASE(not_toml_names_the_line) {
  NodeSettings settings;
  const Status status = read("listen = \"127.0.0.1:1\"\nlisten = \"127.0.0.1:2\"\n", settings);  // a key twice
  BOOST_TEST(status.field() == "tally.toml:2");
  BOOST_TEST(status.message().starts_with("not TOML"));
}

BOOST_AUTO_TEST_CASE(secrets_come_from_the_file_or_the_environment) {
  const std::string tokens = "[[token]]\nname = \"ops\"\nsecret_env = \"OPS_TOKEN\"\nscopes = [\"admin\"]\n";
  const Environment environment = environment_of({{"MY_STRIPE_KEY", "sk_from_env"},
                                                  {"OPS_TOKEN", admin_secret},
                                                  {"TALLY_STRIPE_KEY", "sk_fallback"},
                                                  {"TALLY_WEBHOOK_SECRET", "webhook-secret-from-fallback-0123"}});
  {
    NodeSettings settings;
    BOOST_REQUIRE(read("[stripe]\nkey_env = \"MY_STRIPE_KEY\"\n" + tokens, settings, NodeCommand::serve, environment).is_ok());
    BOOST_TEST(settings.stripe_key == "sk_from_env");
    BOOST_TEST(settings.tokens == std::vector<std::string>{"ops:" + admin_secret + ":admin"});
    BOOST_TEST(settings.origin("stripe.key") == "tally.toml:2: stripe.key_env");
  }
  ConfigDir dir;
  {  // Nothing sets the key but TALLY_STRIPE_KEY: the fallback; a file's key beats it; a flag beats both.
    Resolved fallback = run(NodeCommand::serve, {"--data", "d"}, environment);
    BOOST_TEST(fallback.settings.stripe_key == "sk_fallback");
    BOOST_TEST(fallback.settings.origin("stripe.key") == "$TALLY_STRIPE_KEY");
    BOOST_TEST(fallback.settings.webhook_secret == "webhook-secret-from-fallback-0123");
    BOOST_TEST(fallback.notes.empty(), "an environment fallback for a connector that does not run is no finding");
    const std::string config = dir.write("s.toml", "[stripe]\nkey = \"sk_file\"\n");
    BOOST_TEST(run(NodeCommand::serve, {"--config", config}, environment).settings.stripe_key == "sk_file");
    BOOST_TEST(run(NodeCommand::serve, {"--config", config, "--stripe-key", "sk_flag"}, environment).settings.stripe_key == "sk_flag");
  }
  {  // An unset or empty variable, and a key given twice, are errors naming the key.
    NodeSettings settings;
    Status unset = read("[webhook]\nsecret_env = \"NOPE\"\n", settings, NodeCommand::serve, environment);
    BOOST_TEST(unset.field() == "tally.toml:2: webhook.secret_env");
    BOOST_TEST(unset.message() == "environment variable 'NOPE' is not set");
    Status empty = read("[litellm]\nsecret_env = \"EMPTY\"\n", settings, NodeCommand::serve, environment_of({{"EMPTY", ""}}));
    BOOST_TEST(empty.message() == "environment variable 'EMPTY' is empty");
    Status both = read("[stripe]\nkey = \"sk\"\nkey_env = \"MY_STRIPE_KEY\"\n", settings, NodeCommand::serve, environment);
    BOOST_TEST(both.field().find("stripe.key") != std::string::npos);
    BOOST_TEST(both.message().find("not both") != std::string::npos);
  }
}

BOOST_AUTO_TEST_CASE(a_readable_file_holding_secrets_warns) {
  ConfigDir dir;
  const std::string secret = "[stripe]\nkey = \"sk_live_x\"\n";
  const auto warnings = [&](const std::string& name, const std::string& text, mode_t mode) {
    NodeSettings settings;
    const Environment environment = environment_of({{"K", "sk_env"}});
    BOOST_REQUIRE(load_config_file(dir.write(name, text, mode), NodeCommand::serve, environment, settings).is_ok());
    return settings.warnings;
  };
  const std::vector<std::string> world = warnings("world.toml", secret, 0644);
  BOOST_REQUIRE(world.size() == 1u);
  BOOST_TEST(world[0].find("stripe.key") != std::string::npos);
  BOOST_TEST(world[0].find("0644") != std::string::npos);
  BOOST_TEST(world[0].find("sk_live_x") == std::string::npos, "a warning never shows the secret");
  BOOST_TEST(warnings("group.toml", secret, 0640).size() == 1u);
  BOOST_TEST(warnings("owner.toml", secret, 0600).empty());
  BOOST_TEST(warnings("env.toml", "[stripe]\nkey_env = \"K\"\n", 0644).empty());
}

BOOST_AUTO_TEST_CASE(a_missing_config_file_is_an_error_naming_it) {
  Resolved out = run(NodeCommand::serve, {"--config", "/nonexistent/tally.toml"});
  BOOST_TEST(out.status.field() == "--config");
  BOOST_TEST(out.status.message().find("/nonexistent/tally.toml") != std::string::npos);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(flags)

// Finding 7 (issue 14): --tick-interval-ms -5 ran with no ticks, without a word.
BOOST_AUTO_TEST_CASE(tick_interval_ms_out_of_range_is_refused_naming_the_range) {
  for (const std::string value : {"-5", "86400001", "1e3"}) {
    Resolved out = run(NodeCommand::dev, {"--tick-interval-ms", value});
    BOOST_TEST(out.status.field() == "--tick-interval-ms");
    BOOST_TEST(out.status.message().find("0..86400000 (0: no ticks)") != std::string::npos, out.status.to_string());
  }
  BOOST_TEST(run(NodeCommand::dev, {"--tick-interval-ms", "0"}).options.tick_interval_ms == 0);
  NodeSettings settings;
  const Status status = read("tick_interval_ms = -5\n", settings);
  BOOST_TEST(status.to_string() == "tally.toml:1: tick_interval_ms: must be 0..86400000 (0: no ticks), got -5");
}

// Finding 7 (issue 14): --kafka "" fell back to the embedded journal.
BOOST_AUTO_TEST_CASE(an_empty_kafka_is_refused) {
  Resolved out = run(NodeCommand::serve, {"--data", "d", "--kafka", ""});
  BOOST_TEST(out.status.field() == "--kafka");
  BOOST_TEST(out.status.message().starts_with("is empty"));
  NodeSettings settings;
  BOOST_TEST(read("kafka = \"\"\n", settings).field() == "tally.toml:1: kafka");
  BOOST_TEST(run(NodeCommand::serve, {"--data", "d", "--kafka", "a:1,,b:2"}).status.field() == "--kafka");
}

BOOST_AUTO_TEST_CASE(serve_runs_on_exactly_one_log) {
  Resolved journal = run(NodeCommand::serve, {"--data", "d", "--journal", "/srv/log"});
  BOOST_REQUIRE(journal.status.is_ok());
  BOOST_TEST(journal.options.journal_dir == "/srv/log");
  BOOST_TEST(journal.options.kafka_brokers.empty());
  Resolved default_journal = run(NodeCommand::serve, {"--data", "d"});
  BOOST_REQUIRE(default_journal.status.is_ok());
  BOOST_TEST(default_journal.options.journal_dir.empty());  // the node's DATA/journal
  BOOST_TEST(default_journal.options.kafka_brokers.empty());
  Resolved kafka = run(NodeCommand::serve, {"--data", "d", "--kafka", "k:9092"});
  BOOST_REQUIRE(kafka.status.is_ok());
  BOOST_TEST(kafka.options.kafka_brokers == "k:9092");

  BOOST_TEST(run(NodeCommand::serve, {"--data", "d", "--journal", "j", "--kafka", "k:9092"}).status.field() == "--journal");
  BOOST_TEST(run(NodeCommand::serve, {"--data", "d", "--journal", ""}).status.field() == "--journal");
  BOOST_TEST(run(NodeCommand::serve, {"--data", "d", "--kafka", "k:9092", "--partitions", "8"}).status.field() == "--partitions");
  BOOST_TEST(run(NodeCommand::serve, {"--data", "d", "--topic-prefix", "t"}).status.field() == "--topic-prefix");
}

BOOST_AUTO_TEST_CASE(numeric_flags_are_range_checked) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"--partitions", "0"}, {"--partitions", "1025"}, {"--partitions", "four"},
      {"--credit-price-minor", "0"}, {"--credit-price-minor", "1000000001"},
      {"--platform-fee-minor", "-1"}, {"--bundle-credits", "-1"}, {"--bundle-credits", "9223372036854"},
      {"--bundle-credits", "99999999999999999999"},
  };
  for (const auto& [flag, value] : cases) {
    BOOST_TEST_CONTEXT(flag << " " << value) {
      Resolved out = run(NodeCommand::dev, {flag, value});
      BOOST_TEST(out.status.field() == flag);
      BOOST_TEST(out.status.message().find("must be") != std::string::npos, out.status.to_string());
    }
  }
  BOOST_TEST(run(NodeCommand::dev, {"--listen", "127.0.0.1:65536"}).status.field() == "--listen");
  BOOST_TEST(run(NodeCommand::dev, {"--listen", "127.0.0.1:-1"}).status.field() == "--listen");
  BOOST_TEST(run(NodeCommand::dev, {"--listen", "127.0.0.1:0"}).status.is_ok());
}

// Finding 7 (issue 14): dev took one bare admin secret; now the scoped tokens of serve as well.
BOOST_AUTO_TEST_CASE(dev_takes_scoped_tokens_like_serve) {
  Resolved out = run(NodeCommand::dev, {"--token", "ops:" + admin_secret + ":admin", "--token",
                                       "acme:" + acme_secret + ":org:acme", "--token", "legacy-bare-admin-secret"});
  BOOST_REQUIRE_MESSAGE(out.status.is_ok(), out.status.to_string());
  BOOST_REQUIRE(out.options.tokens.size() == 3u);
  BOOST_TEST(out.options.tokens[1].name == "acme");
  BOOST_TEST(out.options.tokens[1].scopes == std::vector<std::string>{"org:acme"});
  BOOST_TEST(out.options.tokens[2].name == "dev");  // a bare secret is the dev admin token, as before
  BOOST_TEST(out.options.tokens[2].scopes == std::vector<std::string>{"admin"});
  Resolved bad = run(NodeCommand::dev, {"--token", "ops:" + admin_secret + ":admin", "--token", "acme:short:org:acme"});
  BOOST_TEST(bad.status.field() == "--token[1]");
  BOOST_TEST(bad.status.message().find("short") == std::string::npos, "an error never echoes a token");
  BOOST_TEST(run(NodeCommand::serve, {"--data", "d", "--token", admin_secret}).status.field() == "--token[0]",
             "serve wants NAME:SECRET:SCOPE");
}

BOOST_AUTO_TEST_CASE(settings_of_a_connector_that_does_not_run) {
  // A flag meant for this process is an error; a shared file's key is a note.
  Resolved flag = run(NodeCommand::serve, {"--data", "d", "--webhook-url", "https://p.example/t"});
  BOOST_TEST(flag.status.field() == "--webhook-url");
  BOOST_TEST(flag.status.message().find("enforce role") != std::string::npos);
  ConfigDir dir;
  const std::string config = dir.write("shared.toml", "[webhook]\nurl = \"https://p.example/t\"\nsecret = \"webhook-secret-0123456789abcdef\"\n");
  Resolved file = run(NodeCommand::serve, {"--data", "d", "--config", config});
  BOOST_REQUIRE_MESSAGE(file.status.is_ok(), file.status.to_string());
  BOOST_TEST(!file.options.enforce.has_value());
  BOOST_REQUIRE(file.notes.size() == 1u);
  BOOST_TEST(file.notes[0].find("webhook.url, webhook.secret") != std::string::npos);
  Resolved with_role = run(NodeCommand::serve, {"--data", "d", "--config", config, "--roles", "enforce"});
  BOOST_REQUIRE_MESSAGE(with_role.status.is_ok(), with_role.status.to_string());
  BOOST_TEST(with_role.options.enforce.has_value());
  BOOST_TEST(!with_role.options.role_api);
  BOOST_TEST(run(NodeCommand::serve, {"--data", "d", "--roles", "api", "--tick-interval-ms", "5"}).status.field() ==
             "--tick-interval-ms");
  BOOST_TEST(run(NodeCommand::serve, {"--data", "d", "--roles", "projector", "--token", "ops:" + admin_secret + ":admin"})
                 .status.field() == "--token");
}

// SPEC §14: checkout runs on the api role with a Stripe price (or product) of one bundle.
BOOST_AUTO_TEST_CASE(checkout_needs_stripe_and_a_bundle) {
  const std::vector<std::string> stripe = {"--stripe-url", "http://127.0.0.1:12111", "--stripe-key", "sk_test_x"};
  const auto with = [&](std::vector<std::string> extra) {
    std::vector<std::string> args = stripe;
    args.insert(args.end(), extra.begin(), extra.end());
    return run(NodeCommand::dev, args);
  };
  Resolved ok = with({"--stripe-price", "price_1", "--bundle-credits", "100", "--platform-fee-bp", "290",
                      "--platform-fee-minor", "30"});
  BOOST_REQUIRE_MESSAGE(ok.status.is_ok(), ok.status.to_string());
  BOOST_REQUIRE(ok.options.commerce.has_value());
  BOOST_TEST(ok.options.commerce->offer.credits_per_bundle.value() == 100'000'000);
  BOOST_TEST(ok.options.commerce->offer.unit_amount_minor == 10'000);  // 100 credits × 100 minor units
  BOOST_TEST(ok.options.commerce->offer.fee_bp == 290);
  BOOST_TEST(ok.options.commerce->offer.fee_fixed_minor == 30);
  BOOST_TEST(ok.options.recharge->platform_fee_bp == 290);
  BOOST_TEST(with({"--stripe-price", "price_1"}).status.field() == "--bundle-credits (config: stripe.bundle_credits)");
  BOOST_TEST(with({"--stripe-price", "price_1", "--stripe-product", "prod_1", "--bundle-credits", "100"}).status.field() ==
             "--stripe-product");
  BOOST_TEST(run(NodeCommand::dev, {"--stripe-price", "price_1", "--bundle-credits", "100"}).status.field() ==
             "--stripe-url (config: stripe.url)");
  BOOST_TEST(with({"--platform-fee-bp", "10001"}).status.field() == "--platform-fee-bp");
  // Without a price or product: no checkout; with them but no api role: a flag is an error.
  BOOST_TEST(!with({"--bundle-credits", "100"}).options.commerce.has_value());
  Resolved no_api = run(NodeCommand::serve, {"--data", "d", "--roles", "projector", "--stripe-price", "price_1"});
  BOOST_TEST(no_api.status.field() == "--stripe-price");
}

BOOST_AUTO_TEST_SUITE_END()
