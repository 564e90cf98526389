// Maps LiteLLM's per-call StandardLoggingPayload (litellm/types/utils.py; what its generic_api
// callback, or a custom callback forwarding kwargs["standard_logging_object"], POSTs to
// /api/v1/internal/litellm/usage) to a canonical `usage` event (ingest/canonical_event.h).
//
// Field rules:
//   idempotency_key  `litellm_call_id` (LiteLLM's own per-call id, newer versions), else `id`
//                    (the provider response id, or the call id when there is none). A callback
//                    delivered twice maps to the same key: the second one is a duplicate.
//   occurred_at_ms   `endTime`, else `startTime`: float Unix seconds (what LiteLLM sends), a
//                    numeric string, or an ISO-8601 string (no zone = UTC); floored to the ms
//                    from the decimal text, never through a double.
//   model, provider  `model`, `custom_llm_provider`; meter = llm_tokens
//   tokens           output = `completion_tokens`. Cache read = usage `cache_read_input_tokens`,
//                    else `prompt_tokens_details.cached_tokens`; cache write =
//                    `cache_creation_input_tokens` — from `metadata.usage_object`, else
//                    `hidden_params.usage_object`, else `response.usage`, else top-level fields.
//                    LiteLLM's `prompt_tokens` follows OpenAI and already counts cached tokens,
//                    so input = prompt_tokens − cache read − cache write (floored at 0) unless
//                    `prompt_tokens_include_cache` is false; the rate card then prices each
//                    token once.
//   reported cost    `response_cost` is USD as a float. 1 credit = 1 USD here, so
//                    reported_cost_micros = response_cost × 10^6 computed from the number's
//                    decimal text and rounded ONCE, half up, to the µcr:
//                    0.000123456 -> 123, 0.0000125 -> 13, 1.5e-05 -> 15.
//                    Omitted (so the rate card prices the call) when `response_cost` is null or
//                    missing, or when `response_cost_failure_debug_info` is set: LiteLLM then
//                    sends 0.0 meaning "unknown", not "free". Negative costs are an error.
//   org_id           from `metadata.user_api_key_team_id` through LitellmMapping (below)
//   member_id        `metadata.user_api_key_user_id` (or the end user, see LitellmMapping),
//                    through user_to_member, else the id as is; omitted when absent
//   workspace, project, agent_id, session_id
//                    from `metadata.spend_logs_metadata` (LiteLLM's per-request key/values) when
//                    present; correlation_id = `trace_id`.
//   `status` "failure" -> ignored (a failed call is not billed).
//
// Errors: invalid_argument naming the field ("metadata.user_api_key_team_id", "[2].model" inside
// a batch): missing id/model/tokens/time, wrong types, negative numbers, ids with characters
// outside [A-Za-z0-9._@+-], no org for the call.
// Thread safety: pure functions.
#pragma once

#include <functional>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "engine/status.h"
#include "ingest/canonical_event.h"

namespace tally::connectors {

// How a LiteLLM call is attributed to a Tally org and member.
struct LitellmMapping {
  // org for a team id (metadata.user_api_key_team_id). Checked first.
  std::map<std::string, std::string, std::less<>> team_to_org;
  // Use the team id itself as the org id when it is not in team_to_org.
  bool team_id_as_org = false;
  // org for calls whose team is absent or unmapped (and team_id_as_org is off). Empty = none:
  // such calls are refused with an error naming metadata.user_api_key_team_id.
  std::string default_org;
  // member for a LiteLLM user id; ids not listed are used as they are.
  std::map<std::string, std::string, std::less<>> user_to_member;
  // Take the member from the end user (`end_user`, else metadata.user_api_key_end_user_id) rather
  // than from the key's user (metadata.user_api_key_user_id): for platforms that call LiteLLM
  // with one key and pass their own user in the request's `user` field.
  bool end_user_as_member = false;
  // See "tokens" above.
  bool prompt_tokens_include_cache = true;
  // "credits", "byok", or empty (the org's billing mode decides).
  std::string billing_path;
};

inline constexpr std::string_view litellm_event_source = "litellm";
inline constexpr std::size_t litellm_batch_payloads_max = 10'000;  // one HTTP body

// Maps one payload (a JSON object).
Result<MappedEvent> map_litellm_payload(std::string_view json, const LitellmMapping& mapping);

// Maps an HTTP body as LiteLLM's generic_api callback sends it: one object (log_format
// "single"), a JSON array of objects ("json_array", the default), or one object per line
// ("ndjson"). The outer Result fails only when the body as a whole is unreadable (not JSON, empty,
// more than litellm_batch_payloads_max payloads); each payload then has its own Result, in order,
// with field paths prefixed "[i]." so one bad payload does not hide the others.
Result<std::vector<Result<MappedEvent>>> map_litellm_body(std::string_view body, const LitellmMapping& mapping);

}  // namespace tally::connectors
