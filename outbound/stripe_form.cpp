#include "outbound/stripe_form.h"

#include "outbound/http_client.h"

namespace tally::connectors::stripe_detail {

namespace json = boost::json;

void append_form(std::string& form, std::string_view key, std::string_view value) {
  if (!form.empty()) form += '&';
  form += url_encode(key);
  form += '=';
  form += url_encode(value);
}

void append_metadata(std::string& form, std::string_view prefix,
                     const std::vector<std::pair<std::string, std::string>>& metadata) {
  for (const auto& [key, value] : metadata) append_form(form, std::string(prefix) + "[" + key + "]", value);
}

std::string string_member(const json::object& object, std::string_view key) {
  const json::value* value = object.if_contains(key);
  return value != nullptr && value->is_string() ? std::string(value->get_string()) : std::string();
}

int64_t int_member(const json::object& object, std::string_view key) {
  const json::value* value = object.if_contains(key);
  return value != nullptr && value->is_int64() ? value->get_int64() : 0;
}

bool bool_member(const json::object& object, std::string_view key) {
  const json::value* value = object.if_contains(key);
  return value != nullptr && value->is_bool() && value->get_bool();
}

const json::object* object_member(const json::object& object, std::string_view key) {
  const json::value* value = object.if_contains(key);
  return value != nullptr && value->is_object() ? &value->get_object() : nullptr;
}

Status stripe_status(const StripeError& error) {
  std::string text = error.code.empty() ? error.type : error.code;
  if (!error.decline_code.empty()) text += " (" + error.decline_code + ")";
  if (!text.empty()) text += ": ";
  text += error.message;
  if (error.http_status != 0) text += " [HTTP " + std::to_string(error.http_status) + "]";
  return Status::invalid("stripe", text);
}

bool is_currency(std::string_view currency) {
  if (currency.size() != 3) return false;
  for (char c : currency) {
    if (c < 'a' || c > 'z') return false;
  }
  return true;
}

Status check_metadata(const std::vector<std::pair<std::string, std::string>>& metadata) {
  if (metadata.size() > stripe_metadata_keys_max) return Status::invalid("metadata", "more than 50 keys");
  for (const auto& [key, value] : metadata) {
    if (key.empty() || key.size() > stripe_metadata_key_bytes_max || key.find_first_of("[]") != std::string::npos) {
      return Status::invalid("metadata", "key '" + key + "' must be 1..40 bytes without brackets");
    }
    if (value.size() > stripe_metadata_value_bytes_max) {
      return Status::invalid("metadata." + key, "longer than 500 bytes");
    }
  }
  return Status::ok();
}

}  // namespace tally::connectors::stripe_detail
