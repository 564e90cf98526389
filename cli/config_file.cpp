// The config file reader (toml++). The only file of Tally that includes toml++.
#include <sys/stat.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <set>
#include <sstream>
#include <toml++/toml.h>

#include "cli/node_settings.h"

namespace tally::cli {
namespace {

// The keys of one [[token]] table.
constexpr std::string_view token_keys = "name, secret, secret_env, scopes";

std::string_view toml_type_name(const toml::node& node) {
  switch (node.type()) {
    case toml::node_type::table: return "a table";
    case toml::node_type::array: return "an array";
    case toml::node_type::string: return "a string";
    case toml::node_type::integer: return "an integer";
    case toml::node_type::floating_point: return "a float";
    case toml::node_type::boolean: return "a boolean";
    case toml::node_type::date: return "a date";
    case toml::node_type::time: return "a time";
    case toml::node_type::date_time: return "a date-time";
    case toml::node_type::none: break;
  }
  return "nothing";
}

bool is_string_array(const toml::node& node) {
  const toml::array* array = node.as_array();
  return array != nullptr && array->is_homogeneous(toml::node_type::string);
}

// Walks the parsed document once, storing every key into the settings.
class ConfigReader {
 public:
  ConfigReader(std::string_view name, NodeCommand command, const Environment& environment, NodeSettings& settings)
      : name_(name), command_(command), environment_(environment), settings_(settings) {}

  Status read(const toml::table& root) { return read_table(root, ""); }
  // Paths of secrets written into the file itself (not *_env).
  const std::vector<std::string>& literal_secrets() const { return literal_secrets_; }

 private:
  std::string at(const toml::source_region& where, std::string_view path) const {
    return name_ + ":" + std::to_string(where.begin.line) + ": " + std::string(path);
  }

  Status read_table(const toml::table& table, const std::string& prefix) {
    for (const auto& [key, node] : table) {
      const std::string path = prefix.empty() ? std::string(key.str()) : prefix + "." + std::string(key.str());
      Status status = prefix.empty() && key.str() == "token" ? read_tokens(node, at(key.source(), path))
                      : node.is_table() && prefix.empty()   ? read_section(*node.as_table(), key, path)
                                                            : read_key(node, at(key.source(), path), path);
      if (!status.is_ok()) return status;
    }
    return Status::ok();
  }

  Status read_section(const toml::table& table, const toml::key& key, const std::string& path) {
    for (const SettingKey& setting : setting_keys()) {
      if (setting.key.starts_with(path + ".")) return read_table(table, path);
    }
    return Status::invalid(at(key.source(), path), "unknown table [" + path + "] (tables: [stripe], [webhook], [litellm], [[token]])");
  }

  // Finds the setting of `path`, or of `path` without its "_env" suffix when that is a secret.
  Result<const SettingKey*> setting_of(const std::string& path, const std::string& origin, bool& from_env) const {
    const SettingKey* setting = find_setting_key(path);
    from_env = false;
    if (setting == nullptr && path.ends_with("_env")) {
      setting = find_setting_key(std::string_view(path).substr(0, path.size() - 4));
      from_env = setting != nullptr && setting->secret;
      if (!from_env) setting = nullptr;
    }
    if (setting == nullptr || setting->key == "token") return Status::invalid(origin, "unknown key");
    if (setting->serve_only && command_ != NodeCommand::serve) {
      return Status::invalid(origin, "is a key of tally serve only; tally dev does not take it");
    }
    return setting;
  }

  Status read_key(const toml::node& node, const std::string& origin, const std::string& path) {
    bool from_env = false;
    Result<const SettingKey*> found = setting_of(path, origin, from_env);
    if (!found.is_ok()) return found.status();
    const SettingKey& setting = *found.value();
    if (!read_keys_.insert(std::string(setting.key)).second) {
      return Status::invalid(origin, "give " + std::string(setting.key) + " or " + std::string(setting.key) +
                                         "_env, not both");
    }
    if (from_env) {
      Result<std::string> value = env_value(node, origin);
      if (!value.is_ok()) return value.status();
      return set_setting(setting, std::move(value.value()), origin, settings_);
    }
    Result<SettingValue> value = typed_value(setting, node, origin);
    if (!value.is_ok()) return value.status();
    if (setting.secret) literal_secrets_.push_back(path);
    return set_setting(setting, std::move(value.value()), origin, settings_);
  }

  static Result<SettingValue> typed_value(const SettingKey& setting, const toml::node& node, const std::string& origin) {
    const auto wrong = [&] {
      return Status::invalid(origin, "must be " + std::string(setting_type_name(setting)) + ", got " +
                                         std::string(toml_type_name(node)));
    };
    switch (setting.member.index()) {
      case 0: if (node.is_string()) return SettingValue(*node.value<std::string>()); break;
      case 1: if (node.is_integer()) return SettingValue(*node.value<int64_t>()); break;
      case 2: if (node.is_boolean()) return SettingValue(*node.value<bool>()); break;
      default: {
        if (!is_string_array(node)) break;
        std::vector<std::string> elements;
        for (const toml::node& element : *node.as_array()) elements.push_back(*element.value<std::string>());
        return SettingValue(std::move(elements));
      }
    }
    return wrong();
  }

  // `k_env = "VAR"`: the value of environment variable VAR, which must be set and not empty.
  Result<std::string> env_value(const toml::node& node, const std::string& origin) const {
    if (!node.is_string()) return Status::invalid(origin, "must be a string naming an environment variable, got " + std::string(toml_type_name(node)));
    const std::string variable = *node.value<std::string>();
    if (variable.empty()) return Status::invalid(origin, "is empty");
    std::optional<std::string> value = environment_(variable);
    if (!value.has_value()) return Status::invalid(origin, "environment variable " + quote_input(variable) + " is not set");
    if (value->empty()) return Status::invalid(origin, "environment variable " + quote_input(variable) + " is empty");
    return std::move(*value);
  }

  Status read_tokens(const toml::node& node, const std::string& origin) {
    const toml::array* array = node.as_array();
    if (array == nullptr || !array->is_homogeneous(toml::node_type::table)) {
      return Status::invalid(origin, "must be an array of tables ([[token]] with " + std::string(token_keys) + "), got " +
                                         std::string(toml_type_name(node)));
    }
    std::vector<std::string> specs;
    std::map<std::string, std::string, std::less<>> origins;
    for (std::size_t i = 0; i < array->size(); ++i) {
      const std::string path = "token[" + std::to_string(i) + "]";
      Result<std::string> spec = read_token(*array->get(i)->as_table(), path);
      if (!spec.is_ok()) return spec.status();
      specs.push_back(std::move(spec.value()));
      origins[path] = at(array->get(i)->source(), path);
    }
    if (Status s = set_setting(*find_setting_key("token"), std::move(specs), origin, settings_); !s.is_ok()) return s;
    for (auto& [path, where] : origins) settings_.origins.insert_or_assign(path, std::move(where));
    return Status::ok();
  }

  // One [[token]] table as the flag's NAME:SECRET:SCOPE[,SCOPE]; the API checks the parts.
  Result<std::string> read_token(const toml::table& table, const std::string& path) {
    std::string name, secret, scopes;
    bool has_secret = false;
    for (const auto& [key, node] : table) {
      const std::string origin = at(key.source(), path + "." + std::string(key.str()));
      const std::string_view field = key.str();
      if (field == "scopes") {
        if (!is_string_array(node) || node.as_array()->empty()) {
          return Status::invalid(origin, "must be a non-empty array of strings, e.g. [\"admin\"] or [\"org:acme\"]");
        }
        for (const toml::node& scope : *node.as_array()) {
          const std::string text = *scope.value<std::string>();
          if (text.empty() || text.find(',') != std::string::npos) return Status::invalid(origin, "a scope is empty or holds ','");
          scopes += (scopes.empty() ? "" : ",") + text;
        }
        continue;
      }
      if (field != "name" && field != "secret" && field != "secret_env") {
        return Status::invalid(origin, "unknown key (a [[token]] takes " + std::string(token_keys) + ")");
      }
      if (!node.is_string()) return Status::invalid(origin, "must be a string, got " + std::string(toml_type_name(node)));
      if (field == "name") {
        name = *node.value<std::string>();
        if (name.empty() || name.find(':') != std::string::npos) return Status::invalid(origin, "must be non-empty, without ':'");
        continue;
      }
      if (has_secret) return Status::invalid(origin, "give secret or secret_env, not both");
      has_secret = true;
      Result<std::string> value = field == "secret" ? Result<std::string>(*node.value<std::string>()) : env_value(node, origin);
      if (!value.is_ok()) return value.status();
      if (value->find(':') != std::string::npos) return Status::invalid(origin, "a token secret may not hold ':'");
      if (field == "secret") literal_secrets_.push_back(path + ".secret");
      secret = std::move(value.value());
    }
    const std::string origin = at(table.source(), path);
    if (name.empty()) return Status::invalid(origin, "needs a name");
    if (!has_secret) return Status::invalid(origin, "needs a secret or a secret_env");
    if (scopes.empty()) return Status::invalid(origin, "needs scopes, e.g. [\"admin\"]");
    return name + ":" + secret + ":" + scopes;
  }

  std::string name_;
  NodeCommand command_;
  const Environment& environment_;
  NodeSettings& settings_;
  std::set<std::string> read_keys_;
  std::vector<std::string> literal_secrets_;
};

Status read_config_text(std::string_view text, std::string_view name, NodeCommand command,
                        const Environment& environment, NodeSettings& settings, std::vector<std::string>& literal_secrets) {
  toml::table root;
  try {
    root = toml::parse(text, name);
  } catch (const toml::parse_error& error) {
    return Status::invalid(std::string(name) + ":" + std::to_string(error.source().begin.line),
                           "not TOML: " + std::string(error.description()));
  }
  ConfigReader reader(name, command, environment, settings);
  if (Status s = reader.read(root); !s.is_ok()) return s;
  literal_secrets = reader.literal_secrets();
  return Status::ok();
}

}  // namespace

Status read_config(std::string_view text, std::string_view name, NodeCommand command, const Environment& environment,
                   NodeSettings& settings) {
  std::vector<std::string> literal_secrets;
  return read_config_text(text, name, command, environment, settings, literal_secrets);
}

Status load_config_file(const std::string& path, NodeCommand command, const Environment& environment,
                        NodeSettings& settings) {
  struct stat info {};
  if (::stat(path.c_str(), &info) != 0) {
    return Status::invalid("--config", "cannot read " + quote_input(path) + ": " + std::strerror(errno));
  }
  if (!S_ISREG(info.st_mode)) return Status::invalid("--config", quote_input(path) + " is not a regular file");
  if (static_cast<std::size_t>(info.st_size) > config_file_bytes_max) {
    return Status::invalid("--config", quote_input(path) + " is larger than " + std::to_string(config_file_bytes_max) + " bytes");
  }
  std::ifstream file(path, std::ios::binary);
  std::ostringstream text;
  text << file.rdbuf();
  if (!file) return Status::invalid("--config", "cannot read " + quote_input(path));
  std::vector<std::string> literal_secrets;
  if (Status s = read_config_text(text.str(), path, command, environment, settings, literal_secrets); !s.is_ok()) return s;
  if (!literal_secrets.empty() && (info.st_mode & (S_IRGRP | S_IROTH)) != 0) {
    std::string which;
    for (const std::string& secret : literal_secrets) which += (which.empty() ? "" : ", ") + secret;
    char mode[8];
    std::snprintf(mode, sizeof mode, "%04o", static_cast<unsigned>(info.st_mode & 07777));
    settings.warnings.push_back(path + " holds secrets (" + which + ") and group or others may read it (mode " + mode +
                                "): chmod 600 it, or name environment variables with *_env keys");
  }
  return Status::ok();
}

}  // namespace tally::cli
