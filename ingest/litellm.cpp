#include "ingest/litellm.h"

#include <optional>

#include "engine/limits.h"
#include "ingest/exact_decimal.h"
#include "ingest/json_fields.h"

namespace tally::connectors {
namespace json = boost::json;
namespace {

using RawNumbers = std::map<std::string, std::string>;

constexpr int32_t micros_digits = 6;  // USD (= credits here) -> µcr
constexpr int32_t millis_digits = 3;  // seconds -> ms

// A number member as exact decimal text: the raw JSON text for numbers, the string for strings.
// nullopt when missing/null; error for other types.
Result<std::optional<std::string>> decimal_text(const FieldReader& reader, const RawNumbers& raw, std::string_view key) {
  if (!reader.has(key)) return std::optional<std::string>();
  const json::value& value = reader.object().at(key);
  if (value.is_number()) {
    const auto it = raw.find(std::string(key));
    // raw_numbers() saw the same document, so every direct numeric member is there.
    if (it == raw.end()) return Status::invalid(reader.field(key), "number text unavailable");
    return std::optional<std::string>(it->second);
  }
  if (value.is_string()) return std::optional<std::string>(std::string(value.get_string()));
  return Status::invalid(reader.field(key), "must be a number");
}

Result<int64_t> read_time_ms(const FieldReader& payload, const RawNumbers& raw) {
  const std::string_view key = payload.has("endTime") ? "endTime" : "startTime";
  Result<std::optional<std::string>> text = decimal_text(payload, raw, key);
  if (!text.is_ok()) return text.status();
  if (!text->has_value()) return Status::invalid(payload.field("endTime"), "missing (and no startTime)");
  const std::string& value = *text.value();
  Result<int64_t> seconds = decimal_to_scaled(value, millis_digits, Rounding::floor, payload.field(key));
  if (seconds.is_ok()) {
    if (seconds.value() < 0) return Status::invalid(payload.field(key), "must not be before 1970");
    return seconds;
  }
  // Not a number: LiteLLM integrations that json.dumps datetimes with default=str send ISO text.
  return iso8601_to_unix_ms(value, payload.field(key));
}

Result<int64_t> read_token_count(const FieldReader& reader, std::string_view key) {
  Result<int64_t> n = reader.required_int64(key);
  if (!n.is_ok()) return n.status();
  if (n.value() < 0) return Status::invalid(reader.field(key), "must not be negative");
  return n;
}

Result<int64_t> optional_token_count(const FieldReader& reader, std::string_view key) {
  Result<std::optional<int64_t>> n = reader.optional_int64(key);
  if (!n.is_ok()) return n.status();
  if (n->value_or(0) < 0) return Status::invalid(reader.field(key), "must not be negative");
  return n->value_or(0);
}

struct CacheTokens {
  int64_t read = 0;
  int64_t write = 0;
};

// Cache tokens from the first usage object found (see the header for the order).
Result<CacheTokens> read_cache_tokens(const FieldReader& payload) {
  std::optional<FieldReader> usage;
  const auto nested = [&](std::string_view outer, std::string_view inner) -> Result<std::optional<FieldReader>> {
    Result<std::optional<FieldReader>> parent = payload.optional_object(outer);
    if (!parent.is_ok() || !parent->has_value()) return parent;
    // Only an object counts; LiteLLM may put a string in `response` (text completions).
    const json::value* value = (*parent.value()).object().if_contains(inner);
    if (value == nullptr || !value->is_object()) return std::optional<FieldReader>();
    return std::optional<FieldReader>(FieldReader(value->get_object(), (*parent.value()).field(inner)));
  };
  for (const auto& [outer, inner] : {std::pair<std::string_view, std::string_view>{"metadata", "usage_object"},
                                     {"hidden_params", "usage_object"},
                                     {"response", "usage"}}) {
    Result<std::optional<FieldReader>> found = nested(outer, inner);
    if (!found.is_ok()) return found.status();
    if (found->has_value()) {
      usage = *found.value();
      break;
    }
  }
  const FieldReader& source = usage ? *usage : payload;
  CacheTokens tokens;
  if (source.has("cache_read_input_tokens")) {
    Result<int64_t> read = optional_token_count(source, "cache_read_input_tokens");
    if (!read.is_ok()) return read.status();
    tokens.read = read.value();
  } else {
    Result<std::optional<FieldReader>> details = source.optional_object("prompt_tokens_details");
    if (!details.is_ok()) return details.status();
    if (details->has_value()) {
      Result<int64_t> read = optional_token_count(*details.value(), "cached_tokens");
      if (!read.is_ok()) return read.status();
      tokens.read = read.value();
    }
  }
  Result<int64_t> write = optional_token_count(source, "cache_creation_input_tokens");
  if (!write.is_ok()) return write.status();
  tokens.write = write.value();
  return tokens;
}

Result<std::optional<int64_t>> read_reported_cost(const FieldReader& payload, const RawNumbers& raw) {
  // LiteLLM writes 0.0 when it could not compute a cost and explains why in this field.
  if (payload.has("response_cost_failure_debug_info")) return std::optional<int64_t>();
  Result<std::optional<std::string>> text = decimal_text(payload, raw, "response_cost");
  if (!text.is_ok()) return text.status();
  if (!text->has_value()) return std::optional<int64_t>();
  Result<int64_t> micros = decimal_to_scaled(*text.value(), micros_digits, Rounding::half_up, payload.field("response_cost"));
  if (!micros.is_ok()) return micros.status();
  if (micros.value() < 0 || (*text.value())[0] == '-') {
    return Status::invalid(payload.field("response_cost"), "must not be negative");
  }
  return std::optional<int64_t>(micros.value());
}

Result<std::string> valid_id(std::string id, const std::string& field) {
  if (!is_valid_ledger_id(id)) {
    return Status::invalid(field, "'" + id.substr(0, 64) + "' is not a valid id (1..128 of [A-Za-z0-9._@+-])");
  }
  return id;
}

Result<std::string> resolve_org(const std::optional<FieldReader>& metadata, const std::string& metadata_path,
                                const LitellmMapping& mapping) {
  const std::string team_field = metadata_path + ".user_api_key_team_id";
  std::optional<std::string> team;
  if (metadata) {
    Result<std::optional<std::string>> value = metadata->optional_string("user_api_key_team_id");
    if (!value.is_ok()) return value.status();
    if (value->has_value() && !value.value()->empty()) team = *value.value();
  }
  if (team) {
    const auto it = mapping.team_to_org.find(*team);
    if (it != mapping.team_to_org.end()) return valid_id(it->second, team_field);
    if (mapping.team_id_as_org) return valid_id(*team, team_field);
  }
  if (!mapping.default_org.empty()) return valid_id(mapping.default_org, team_field);
  return Status::invalid(team_field, team ? "team '" + team->substr(0, 64) + "' has no org and there is no default org"
                                          : "missing, and there is no default org");
}

Result<std::optional<std::string>> resolve_member(const FieldReader& payload, const std::optional<FieldReader>& metadata,
                                                  const LitellmMapping& mapping) {
  std::optional<std::string> user;
  std::string field;
  const auto take = [&](const FieldReader& reader, std::string_view key) -> Status {
    if (user) return Status::ok();
    Result<std::optional<std::string>> value = reader.optional_string(key);
    if (!value.is_ok()) return value.status();
    if (value->has_value() && !value.value()->empty()) {
      user = *value.value();
      field = reader.field(key);
    }
    return Status::ok();
  };
  if (mapping.end_user_as_member) {
    if (Status s = take(payload, "end_user"); !s.is_ok()) return s;
    if (metadata) {
      if (Status s = take(*metadata, "user_api_key_end_user_id"); !s.is_ok()) return s;
    }
  } else if (metadata) {
    if (Status s = take(*metadata, "user_api_key_user_id"); !s.is_ok()) return s;
  }
  if (!user) return std::optional<std::string>();
  const auto it = mapping.user_to_member.find(*user);
  Result<std::string> member = valid_id(it != mapping.user_to_member.end() ? it->second : *user, field);
  if (!member.is_ok()) return member.status();
  return std::optional<std::string>(std::move(member.value()));
}

Result<MappedEvent> map_one(const json::value& value, const RawNumbers& raw, const LitellmMapping& mapping) {
  if (!value.is_object()) return Status::invalid("", "must be a JSON object (a StandardLoggingPayload)");
  const FieldReader payload(value.get_object(), "");

  Result<std::optional<std::string>> status = payload.optional_string("status");
  if (!status.is_ok()) return status.status();
  if (status->has_value() && *status.value() == "failure") return MappedEvent::ignore("failed LLM call: nothing to bill");

  Result<std::string> key = payload.has("litellm_call_id") ? payload.required_string("litellm_call_id")
                                                            : payload.required_string("id");
  if (!key.is_ok()) return key.status();
  if (key->size() > limits::idempotency_key_bytes_max) {
    return Status::invalid(payload.has("litellm_call_id") ? "litellm_call_id" : "id", "longer than 255 bytes");
  }
  Result<int64_t> occurred_at_ms = read_time_ms(payload, raw);
  if (!occurred_at_ms.is_ok()) return occurred_at_ms.status();
  Result<std::string> model = payload.required_string("model");
  if (!model.is_ok()) return model.status();
  Result<std::optional<std::string>> provider = payload.optional_string("custom_llm_provider");
  if (!provider.is_ok()) return provider.status();
  Result<std::optional<std::string>> trace_id = payload.optional_string("trace_id");
  if (!trace_id.is_ok()) return trace_id.status();

  Result<int64_t> prompt_tokens = read_token_count(payload, "prompt_tokens");
  if (!prompt_tokens.is_ok()) return prompt_tokens.status();
  Result<int64_t> completion_tokens = read_token_count(payload, "completion_tokens");
  if (!completion_tokens.is_ok()) return completion_tokens.status();
  Result<CacheTokens> cache = read_cache_tokens(payload);
  if (!cache.is_ok()) return cache.status();
  int64_t input_tokens = prompt_tokens.value();
  if (mapping.prompt_tokens_include_cache) {
    input_tokens -= cache->read;
    input_tokens -= cache->write;  // tokens are bounded far below int64 by the int64 reads above
    if (input_tokens < 0) input_tokens = 0;
  }
  Result<std::optional<int64_t>> cost = read_reported_cost(payload, raw);
  if (!cost.is_ok()) return cost.status();

  Result<std::optional<FieldReader>> metadata = payload.optional_object("metadata");
  if (!metadata.is_ok()) return metadata.status();
  Result<std::string> org = resolve_org(metadata.value(), "metadata", mapping);
  if (!org.is_ok()) return org.status();
  Result<std::optional<std::string>> member = resolve_member(payload, metadata.value(), mapping);
  if (!member.is_ok()) return member.status();

  json::object event = make_event("usage", EventEnvelope{key.value(), org.value(), occurred_at_ms.value(),
                                                         std::string(litellm_event_source), trace_id->value_or("")});
  if (member->has_value()) event["member_id"] = *member.value();
  if (metadata.value()) {
    Result<std::optional<FieldReader>> tags = metadata.value()->optional_object("spend_logs_metadata");
    if (!tags.is_ok()) return tags.status();
    if (tags->has_value()) {
      for (std::string_view name : {"workspace", "project", "agent_id", "session_id"}) {
        Result<std::optional<std::string>> text = (*tags.value()).optional_string(name);
        if (!text.is_ok()) return text.status();
        if (text->has_value()) event[name] = *text.value();
      }
    }
  }
  event["meter"] = "llm_tokens";
  event["model"] = model.value();
  if (provider->has_value()) event["provider"] = *provider.value();
  if (!mapping.billing_path.empty()) event["billing_path"] = mapping.billing_path;
  event["input_tokens"] = input_tokens;
  event["output_tokens"] = completion_tokens.value();
  event["cache_read_tokens"] = cache->read;
  event["cache_write_tokens"] = cache->write;
  if (cost->has_value()) event["reported_cost_micros"] = *cost.value();
  return MappedEvent::of(std::move(event));
}

// "[i].field" for errors inside a batch.
Status in_batch(const Status& status, std::size_t index) {
  const std::string prefix = "[" + std::to_string(index) + "]";
  return Status::invalid(status.field().empty() ? prefix : prefix + "." + status.field(), status.message());
}

std::string_view trim(std::string_view text) {
  while (!text.empty() && (text.front() == ' ' || text.front() == '\t' || text.front() == '\r' || text.front() == '\n')) {
    text.remove_prefix(1);
  }
  while (!text.empty() && (text.back() == ' ' || text.back() == '\t' || text.back() == '\r' || text.back() == '\n')) {
    text.remove_suffix(1);
  }
  return text;
}

Result<MappedEvent> map_document(std::string_view text, const LitellmMapping& mapping) {
  Result<json::value> value = parse_json(text, "body");
  if (!value.is_ok()) return value.status();
  Result<std::vector<RawNumbers>> raw = raw_numbers(text);
  if (!raw.is_ok()) return raw.status();
  if (raw->empty()) return Status::invalid("body", "must be a JSON object (a StandardLoggingPayload)");
  return map_one(value.value(), raw->front(), mapping);
}

}  // namespace

Result<MappedEvent> map_litellm_payload(std::string_view json_text, const LitellmMapping& mapping) {
  return map_document(trim(json_text), mapping);
}

Result<std::vector<Result<MappedEvent>>> map_litellm_body(std::string_view body, const LitellmMapping& mapping) {
  const std::string_view text = trim(body);
  if (text.empty()) return Status::invalid("body", "empty");
  std::vector<Result<MappedEvent>> out;

  if (text.front() == '[') {
    Result<json::value> value = parse_json(text, "body");
    if (!value.is_ok()) return value.status();
    Result<std::vector<RawNumbers>> raw = raw_numbers(text);
    if (!raw.is_ok()) return raw.status();
    const json::array& items = value->get_array();
    if (items.size() > litellm_batch_payloads_max) return Status::invalid("body", "more than 10000 payloads");
    for (std::size_t i = 0; i < items.size(); ++i) {
      Result<MappedEvent> mapped = map_one(items[i], raw.value()[i], mapping);
      out.push_back(mapped.is_ok() ? std::move(mapped) : Result<MappedEvent>(in_batch(mapped.status(), i)));
    }
    return out;
  }

  // One object, or NDJSON (one object per line). A pretty-printed single object spans lines too,
  // so try the whole body as one document first.
  Result<json::value> whole = parse_json(text, "body");
  if (whole.is_ok()) {
    out.push_back(map_document(text, mapping));
    return out;
  }
  std::string_view rest = text;
  std::size_t index = 0;
  bool any_line_parsed = false;
  while (!rest.empty()) {
    const std::size_t newline = rest.find('\n');
    const std::string_view line = trim(rest.substr(0, newline));
    rest = newline == std::string_view::npos ? std::string_view() : rest.substr(newline + 1);
    if (line.empty()) continue;
    if (index == litellm_batch_payloads_max) return Status::invalid("body", "more than 10000 payloads");
    if (parse_json(line, "body").is_ok()) any_line_parsed = true;
    Result<MappedEvent> mapped = map_document(line, mapping);
    out.push_back(mapped.is_ok() ? std::move(mapped) : Result<MappedEvent>(in_batch(mapped.status(), index)));
    ++index;
  }
  // A body that is neither one document nor lines of documents: report the whole-body error.
  if (!any_line_parsed) return whole.status();
  return out;
}

}  // namespace tally::connectors
