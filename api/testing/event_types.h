// Test support: every event type of the schema, as its canonical JSON name, so that a table of
// expectations per type fails when a type is added without its row (test-only, header-only).
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "tally/events_generated.h"

namespace tally::api::testing {

// "MemberLimitSet" -> "member_limit_set": the canonical JSON type of a schema body.
inline std::string snake_case(std::string_view name) {
  std::string out;
  for (char c : name) {
    if (c >= 'A' && c <= 'Z') {
      if (!out.empty()) out.push_back('_');
      out.push_back(static_cast<char>(c - 'A' + 'a'));
    } else {
      out.push_back(c);
    }
  }
  return out;
}

// Every body of the schema's union (NONE excepted), in schema order.
inline std::vector<std::string> schema_event_types() {
  std::vector<std::string> out;
  for (auto body = static_cast<int>(fb::Body::MIN) + 1; body <= static_cast<int>(fb::Body::MAX); ++body) {
    out.push_back(snake_case(fb::EnumNameBody(static_cast<fb::Body>(body))));
  }
  return out;
}

}  // namespace tally::api::testing
