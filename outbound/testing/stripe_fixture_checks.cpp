#include "outbound/testing/stripe_fixture_checks.h"

#include <algorithm>
#include <map>

namespace tally::connectors::testing {
namespace {

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

Result<std::string> decode_part(std::string_view text) {
  std::string out;
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '+') {
      out.push_back(' ');
    } else if (text[i] == '%') {
      const bool complete = i + 2 < text.size();
      const int high = complete ? hex_value(text[i + 1]) : -1;
      const int low = complete ? hex_value(text[i + 2]) : -1;
      if (high < 0 || low < 0) return Status::invalid("body", "bad percent escape in " + std::string(text));
      out.push_back(static_cast<char>(high * 16 + low));
      i += 2;
    } else {
      out.push_back(text[i]);
    }
  }
  return out;
}

bool is_digits(std::string_view text) {
  return !text.empty() && std::all_of(text.begin(), text.end(), [](char c) { return c >= '0' && c <= '9'; });
}

// Parameters Stripe's API reference documents for the calls Tally makes (the subset a billing
// integration uses; anything else is "unknown" here, so an unintended parameter is noticed).
const std::map<std::string, std::vector<ParamSpec>, std::less<>>& specs() {
  using K = ParamKind;
  static const std::map<std::string, std::vector<ParamSpec>, std::less<>> table = {
      {"POST /v1/customers",
       {{"description"}, {"email"}, {"name"}, {"metadata[*]"}}},
      {"GET /v1/customers/{id}", {{"expand[#]"}}},
      {"POST /v1/checkout/sessions",
       {{"mode", K::choice, {"payment", "setup", "subscription"}, true},
        {"customer"},
        {"customer_email"},
        {"client_reference_id"},
        {"success_url", K::text, {}, true},
        {"cancel_url"},
        {"line_items[#][price]"},
        {"line_items[#][quantity]", K::positive_integer},
        {"line_items[#][price_data][currency]"},
        {"line_items[#][price_data][unit_amount]", K::integer},
        {"line_items[#][price_data][product_data][name]"},
        {"payment_intent_data[setup_future_usage]", K::choice, {"on_session", "off_session"}},
        {"payment_intent_data[description]"},
        {"payment_intent_data[metadata][*]"},
        {"metadata[*]"},
        {"expand[#]"}}},
      {"GET /v1/payment_methods",
       {{"customer", K::text, {}, true}, {"type", K::choice, {"card"}}, {"limit", K::positive_integer}}},
      {"GET /v1/payment_methods/{id}", {{"expand[#]"}}},
      {"POST /v1/prices",
       {{"currency", K::text, {}, true},
        {"unit_amount", K::integer},
        {"product"},
        {"nickname"},
        {"lookup_key"},
        {"metadata[*]"}}},
      {"GET /v1/prices",
       {{"product"},
        {"currency"},
        {"type", K::choice, {"one_time", "recurring"}},
        {"active", K::boolean},
        {"limit", K::positive_integer},
        {"starting_after"}}},
      {"GET /v1/prices/{id}", {{"expand[#]"}}},
      {"POST /v1/payment_intents",
       {{"amount", K::positive_integer, {}, true},
        {"currency", K::text, {}, true},
        {"customer"},
        {"payment_method"},
        {"off_session", K::choice, {"true", "false", "one_off", "recurring"}},
        {"confirm", K::boolean},
        {"description"},
        {"metadata[*]"}}},
  };
  return table;
}

Status check_value(const ParamSpec& spec, const std::string& name, const std::string& value) {
  const auto bad = [&](std::string why) { return Status::invalid(name, "Invalid " + std::string(spec.name) + ": " + why); };
  switch (spec.kind) {
    case ParamKind::text: return Status::ok();
    case ParamKind::integer:
      if (!is_digits(value)) return bad("must be an integer, got '" + value + "'");
      return Status::ok();
    case ParamKind::positive_integer:
      if (!is_digits(value) || std::stoll(value) < 1) return bad("must be a positive integer, got '" + value + "'");
      return Status::ok();
    case ParamKind::boolean:
      if (value != "true" && value != "false") return bad("must be a boolean, got '" + value + "'");
      return Status::ok();
    case ParamKind::choice:
      if (std::find(spec.choices.begin(), spec.choices.end(), value) == spec.choices.end()) {
        return bad("must be one of the documented values, got '" + value + "'");
      }
      return Status::ok();
  }
  return Status::ok();
}

}  // namespace

Result<FormParams> decode_form(std::string_view body) {
  FormParams out;
  while (!body.empty()) {
    const std::size_t amp = std::min(body.find('&'), body.size());
    const std::string_view pair = body.substr(0, amp);
    body.remove_prefix(std::min(amp + 1, body.size()));
    if (pair.empty()) continue;
    const std::size_t eq = pair.find('=');
    Result<std::string> name = decode_part(pair.substr(0, eq));
    Result<std::string> value = decode_part(eq == std::string_view::npos ? std::string_view() : pair.substr(eq + 1));
    if (!name.is_ok()) return name.status();
    if (!value.is_ok()) return value.status();
    out.emplace_back(std::move(name.value()), std::move(value.value()));
  }
  return out;
}

std::string spec_name(std::string_view name) {
  std::string out;
  std::size_t i = 0;
  while (i < name.size()) {
    if (name[i] != '[') {
      out.push_back(name[i++]);
      continue;
    }
    const std::size_t close = name.find(']', i);
    if (close == std::string_view::npos) {
      out.append(name.substr(i));
      break;
    }
    const std::string_view inside = name.substr(i + 1, close - i - 1);
    const bool metadata_key = out.ends_with("metadata");
    out += is_digits(inside) ? "[#]" : metadata_key ? "[*]" : "[" + std::string(inside) + "]";
    i = close + 1;
  }
  return out;
}

const std::vector<ParamSpec>* documented_params(std::string_view method, std::string_view route) {
  const auto it = specs().find(std::string(method) + " " + std::string(route));
  return it == specs().end() ? nullptr : &it->second;
}

Status check_params(const FormParams& params, const std::vector<ParamSpec>& spec) {
  for (const auto& [name, value] : params) {
    const std::string normal = spec_name(name);
    const auto found = std::find_if(spec.begin(), spec.end(), [&](const ParamSpec& p) { return p.name == normal; });
    if (found == spec.end()) return Status::invalid(name, "Received unknown parameter: " + name);
    if (Status s = check_value(*found, name, value); !s.is_ok()) return s;
  }
  for (const ParamSpec& p : spec) {
    if (!p.required) continue;
    const bool given = std::any_of(params.begin(), params.end(), [&](const auto& kv) { return kv.first == p.name; });
    if (!given) return Status::invalid(std::string(p.name), "Missing required param: " + std::string(p.name) + ".");
  }
  return Status::ok();
}

}  // namespace tally::connectors::testing
