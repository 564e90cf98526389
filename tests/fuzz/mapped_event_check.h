// The invariant both ingest fuzz targets (litellm_fuzz, stripe_fuzz) check of what a mapper made:
// a mapped event (not ignored) is a valid canonical event — the codec (engine/event_json.h)
// accepts its JSON, which is what the ingest routes append.
#pragma once

#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include <boost/json.hpp>

#include "engine/event_json.h"
#include "ingest/canonical_event.h"

namespace tally::fuzz {

// Aborts (the fuzzer keeps the input) with what broke, the input and the detail, named after
// `target`.
[[noreturn]] inline void broken(const char* target, const char* what, std::string_view input, std::string_view detail) {
  std::fprintf(stderr, "%s: %s\n  input:  %.*s\n  detail: %.*s\n", target, what, static_cast<int>(input.size()),
               input.data(), static_cast<int>(detail.size()), detail.data());
  std::abort();
}

// A mapping's outcome: nothing to check if it failed or was ignored; else the codec must accept it.
inline void check_mapped(const char* target, const Result<connectors::MappedEvent>& mapped) {
  if (!mapped.is_ok() || mapped.value().ignored) return;
  const std::string json = boost::json::serialize(mapped.value().event);
  const auto encoded = event_from_json(json);
  if (!encoded.is_ok()) broken(target, "a mapped event the codec refuses", json, encoded.status().to_string());
}

}  // namespace tally::fuzz
