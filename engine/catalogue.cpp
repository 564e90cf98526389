// The catalogue's lookups. See catalogue.h.
#include "engine/catalogue.h"

#include <string>

namespace tally::catalogue {

const BodyDesc* find_body(fb::Body type) {
  const auto index = static_cast<std::size_t>(type);
  if (index == 0 || index >= bodies.size()) return nullptr;
  return &bodies[index];
}

const BodyDesc* find_body(std::string_view name) {
  if (name.empty()) return nullptr;
  for (const BodyDesc& body : bodies) {
    if (body.name == name) return &body;
  }
  return nullptr;
}

std::string_view body_type_name(fb::Body type) {
  const BodyDesc* body = find_body(type);
  return body ? body->name : std::string_view();
}

namespace {
// The names a producer may write, in value order.
template <class Join>
std::string join_names(const EnumDesc& e, Join join) {
  std::string out;
  const int first = e.has_unset ? 1 : 0;
  for (int value = first; value <= e.max; ++value) {
    if (value > first) out += join(value == e.max);
    out += e.names()[value];
  }
  return out;
}
}  // namespace

std::string enum_choices(const EnumDesc& e) {
  return join_names(e, [](bool) { return ", "; });
}

std::string enum_alternatives(const EnumDesc& e) {
  return join_names(e, [](bool last) { return last ? " or " : ", "; });
}

}  // namespace tally::catalogue
