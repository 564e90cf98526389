// Fuzz target: any bytes as the body of POST /ingest/litellm (ingest/litellm.h map_litellm_body:
// one payload, a JSON array or NDJSON), under two mappings (a team table with a default org; team
// ids as orgs, end users as members, the byok path).
//
// Invariant: every payload mapped to an event (not ignored) is a valid canonical event: the codec
// (engine/event_json.h) accepts its JSON, which is what the route appends.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include <boost/json.hpp>

#include "engine/event_json.h"
#include "ingest/litellm.h"

namespace {

using namespace tally::connectors;

[[noreturn]] void broken(const char* what, std::string_view input, std::string_view detail) {
  std::fprintf(stderr, "litellm_fuzz: %s\n  input:  %.*s\n  detail: %.*s\n", what, static_cast<int>(input.size()),
               input.data(), static_cast<int>(detail.size()), detail.data());
  std::abort();
}

LitellmMapping team_table() {
  LitellmMapping mapping;
  mapping.team_to_org = {{"team-acme", "acme-corp"}};
  mapping.default_org = "default-org";
  mapping.user_to_member = {{"user-1", "member-1"}};
  return mapping;
}

LitellmMapping team_as_org() {
  LitellmMapping mapping;
  mapping.team_id_as_org = true;
  mapping.end_user_as_member = true;
  mapping.prompt_tokens_include_cache = false;
  mapping.billing_path = "byok";
  return mapping;
}

void map_with(std::string_view body, const LitellmMapping& mapping) {
  const auto mapped = map_litellm_body(body, mapping);
  if (!mapped.is_ok()) return;
  for (const auto& one : mapped.value()) {
    if (!one.is_ok() || one.value().ignored) continue;
    const std::string json = boost::json::serialize(one.value().event);
    const auto encoded = tally::event_from_json(json);
    if (!encoded.is_ok()) broken("a mapped event the codec refuses", json, encoded.status().to_string());
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, std::size_t size) {
  static const LitellmMapping first = team_table();
  static const LitellmMapping second = team_as_org();
  const std::string_view body(reinterpret_cast<const char*>(data), size);
  map_with(body, first);
  map_with(body, second);
  return 0;
}
