// The checks of validate_envelope (engine/validate.h), shared by the catalogue's interpreter
// (validate.cpp) and its cross-field rules (catalogue.cpp). Internal to tally_core.
//
// Every check returns true if the value passes, and otherwise sets *fault to the Status naming
// the field and returns false: a valid event (the common case) never builds a Status or a string.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "engine/limits.h"
#include "engine/status.h"
#include "flatbuffers/flatbuffers.h"

namespace tally::checks {

inline std::size_t size_of(const flatbuffers::String* s) { return s ? s->size() : 0; }

// Sets *fault and returns false.
[[gnu::cold, gnu::noinline]] bool fail(Status* fault, std::string field, std::string message);

[[gnu::always_inline]] inline bool text(const flatbuffers::String* s, std::string_view field, bool required,
                                        Status* fault, std::size_t max = limits::text_field_bytes_max) {
  const std::size_t size = size_of(s);
  if (size > 0 && size <= max) return true;
  if (required && size == 0) return fail(fault, std::string(field), "is required");
  if (size > max) return fail(fault, std::string(field), "longer than " + std::to_string(max) + " bytes");
  return true;
}

[[gnu::always_inline]] inline bool positive(int64_t v, std::string_view field, Status* fault) {
  return v > 0 || fail(fault, std::string(field), "must be > 0");
}

}  // namespace tally::checks
