// Fuzz target: any text as a request body of canonical JSON events (engine/event_json.h), the
// form POST /api/v1/events and `tally produce` take.
//
// Invariants, for every event the codec accepts:
//   - its bytes pass the fold's own checks (validate_event);
//   - rendered back (event_to_json) it is canonical: the rendering parses again, to the same bytes,
//     and renders to the same text (a fixed point).
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include "engine/event_json.h"
#include "engine/validate.h"

namespace {

[[noreturn]] void broken(const char* what, std::string_view input, std::string_view detail) {
  std::fprintf(stderr, "event_json_fuzz: %s\n  input:  %.*s\n  detail: %.*s\n", what, static_cast<int>(input.size()),
               input.data(), static_cast<int>(detail.size()), detail.data());
  std::abort();
}

void check_canonical(const tally::ParsedEvent& event) {
  const tally::Status valid = tally::validate_event(event.bytes);
  if (!valid.is_ok()) broken("accepted event fails validate_event", event.bytes, valid.to_string());
  const tally::Result<std::string> json = tally::event_to_json(event.bytes);
  if (!json.is_ok()) broken("accepted event does not render", event.bytes, json.status().to_string());
  const tally::Result<std::string> again = tally::event_from_json(json.value());
  if (!again.is_ok()) broken("canonical JSON does not parse", json.value(), again.status().to_string());
  if (again.value() != event.bytes) broken("canonical JSON parses to other bytes", json.value(), "");
  const tally::Result<std::string> json_again = tally::event_to_json(again.value());
  if (!json_again.is_ok() || json_again.value() != json.value()) {
    broken("canonical JSON is not a fixed point", json.value(), json_again.is_ok() ? json_again.value() : "");
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  tally::EventParseOptions options;
  options.occurred_at_default_ms = 1'763'856'000'000;
  options.events_max = 64;
  const tally::Result<tally::ParsedEvents> parsed = tally::events_from_json(text, options);
  if (!parsed.is_ok()) {
    if (parsed.status().message().empty()) broken("an error without a message", text, parsed.status().to_string());
    return 0;
  }
  for (const tally::ParsedEvent& event : parsed.value().events) check_canonical(event);
  return 0;
}
