// The request checks of StripeFixtureServer (stripe_fixtures.h): the form decoding and, per call,
// the parameters Stripe's API reference documents for it. Test support; pure functions.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "engine/status.h"

namespace tally::connectors::testing {

using FormParams = std::vector<std::pair<std::string, std::string>>;

// Decodes "a=1&b=x%20y" (application/x-www-form-urlencoded, '+' is a space). Errors:
// invalid_argument on a bad percent escape.
Result<FormParams> decode_form(std::string_view body);

// How a documented parameter's value must look.
enum class ParamKind { text, integer, positive_integer, boolean, choice };

struct ParamSpec {
  std::string_view name;  // "line_items[#][quantity]": [#] any index, [*] any metadata key
  ParamKind kind = ParamKind::text;
  std::vector<std::string_view> choices = {};  // ParamKind::choice (boolean-like "true" also allowed when listed)
  bool required = false;
};

// The documented parameters of one call, e.g. "POST /v1/checkout/sessions". nullptr for a call
// the server does not serve.
const std::vector<ParamSpec>* documented_params(std::string_view method, std::string_view route);

// Checks `params` against `spec`: unknown parameter, missing required one, bad value. The error
// names the parameter as Stripe does ("Received unknown parameter: line_items[0][prize]").
Status check_params(const FormParams& params, const std::vector<ParamSpec>& spec);

// "line_items[0][price]" -> "line_items[#][price]", "metadata[org_id]" -> "metadata[*]".
std::string spec_name(std::string_view name);

}  // namespace tally::connectors::testing
