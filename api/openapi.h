// The OpenAPI 3.1 document of the HTTP API (api/openapi.yaml), served at GET /openapi.json. The
// build turns the YAML into compact JSON in a generated source (api/openapi_to_cpp.py).
// node/openapi_test checks that it describes every route a node registers, and real answers.
#pragma once

#include <string_view>

namespace tally::api {

// The document as JSON text; static storage.
std::string_view openapi_json();

}  // namespace tally::api
