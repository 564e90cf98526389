// Fuzz target: any bytes as the body of POST /ingest/litellm (ingest/litellm.h map_litellm_body:
// one payload, a JSON array or NDJSON), under two mappings (a team table with a default org; team
// ids as orgs, end users as members, the byok path).
//
// Invariant: every payload mapped to an event (not ignored) is a valid canonical event: the codec
// (engine/event_json.h) accepts its JSON, which is what the route appends.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "ingest/litellm.h"
#include "tests/fuzz/mapped_event_check.h"

namespace {

using namespace tally::connectors;

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
  for (const auto& one : mapped.value()) tally::fuzz::check_mapped("litellm_fuzz", one);
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
