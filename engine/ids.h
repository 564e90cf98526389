// Org and member ids as types (SPEC §3: 1..128 bytes of [A-Za-z0-9._@+-]). An org id and a
// member id are different types, so a mix-up does not compile; an id made by make() or trusted()
// is valid, so a function taking one need not check it again.
//
//   OrgId, MemberId          own their text: state, signals, the read API (projections/views.h).
//   OrgIdView, MemberIdView  refer to text owned elsewhere (a record being folded, a map key) and
//                            allocate nothing: the fold's hot path and the Ledger interface.
//
// A default-constructed id is empty: "no id" (a global event's org, an org-wide signal's member).
// make() and trusted() never return an empty one. An id literal in the source ("acme") converts
// to a view, checked at compile time.
// Reading an id as text (str(), or the implicit std::string_view) is always fine.
// Thread safety: plain values.
#pragma once

#include <array>
#include <compare>
#include <cstddef>
#include <ostream>
#include <string>
#include <string_view>

#include "engine/limits.h"
#include "engine/status.h"

namespace tally {

namespace ids_detail {
// The bytes of an id, as a table in static storage (a local table would be built per call).
inline constexpr std::array<bool, 256> id_bytes = [] {
  std::array<bool, 256> table{};
  for (int c = 'a'; c <= 'z'; ++c) table[static_cast<std::size_t>(c)] = true;
  for (int c = 'A'; c <= 'Z'; ++c) table[static_cast<std::size_t>(c)] = true;
  for (int c = '0'; c <= '9'; ++c) table[static_cast<std::size_t>(c)] = true;
  for (char c : std::string_view("._@+-")) table[static_cast<unsigned char>(c)] = true;
  return table;
}();
}  // namespace ids_detail

// True if `text` is an org or member id: 1..128 bytes of [A-Za-z0-9._@+-] (SPEC §3).
constexpr bool is_id_text(std::string_view text) {
  if (text.empty() || text.size() > limits::org_id_bytes_max) return false;
  for (char c : text) {
    if (!ids_detail::id_bytes[static_cast<unsigned char>(c)]) return false;
  }
  return true;
}

template <class Tag>
class Id;

template <class Tag>
class IdView {
 public:
  IdView() = default;
  IdView(const Id<Tag>& id) : text_(id.str()) {}  // NOLINT: a view of an owned id, implicit by design
  // An id written in the source ("acme"): checked when compiling, an invalid one does not build.
  template <std::size_t N>
  consteval IdView(const char (&literal)[N])  // NOLINT: implicit by design
      : text_(literal, N - 1) {
    if (!is_id_text(text_)) throw "not an id: 1..128 bytes of [A-Za-z0-9._@+-]";
  }

  // The id in `text`. Errors: invalid_argument naming Tag::field.
  static Result<IdView> make(std::string_view text) {
    if (!is_id_text(text)) return Status::invalid(std::string(Tag::field), "must be 1..128 bytes of [A-Za-z0-9._@+-]");
    return IdView(text);
  }
  // REQUIRES: is_id_text(text) — checked by the caller (validate_envelope checked a record's
  // ids; a key read back from the store was an id when it was written). Not re-checked: this is
  // the fold's hot path.
  static IdView trusted(std::string_view text) { return IdView(text); }

  std::string_view str() const { return text_; }
  operator std::string_view() const { return text_; }  // NOLINT: reading as text is fine
  bool empty() const { return text_.empty(); }
  friend bool operator==(IdView a, IdView b) { return a.text_ == b.text_; }
  friend auto operator<=>(IdView a, IdView b) { return a.text_ <=> b.text_; }

 private:
  explicit IdView(std::string_view text) : text_(text) {}
  std::string_view text_;
};

template <class Tag>
class Id {
 public:
  Id() = default;
  explicit Id(IdView<Tag> view) : text_(view.str()) {}

  // The id in `text`. Errors: invalid_argument naming Tag::field.
  static Result<Id> make(std::string_view text) {
    Result<IdView<Tag>> view = IdView<Tag>::make(text);
    if (!view.is_ok()) return view.status();
    return Id(view.value());
  }
  // REQUIRES: is_id_text(text) (see IdView::trusted).
  static Id trusted(std::string_view text) { return Id(IdView<Tag>::trusted(text)); }

  const std::string& str() const { return text_; }
  operator std::string_view() const { return text_; }  // NOLINT: reading as text is fine
  bool empty() const { return text_.empty(); }
  friend bool operator==(const Id& a, const Id& b) { return a.text_ == b.text_; }
  friend auto operator<=>(const Id& a, const Id& b) { return a.text_ <=> b.text_; }
  friend bool operator==(const Id& a, std::string_view text) { return a.text_ == text; }  // reading

 private:
  std::string text_;
};

template <class Tag>
std::ostream& operator<<(std::ostream& out, IdView<Tag> id) {
  return out << id.str();
}
template <class Tag>
std::ostream& operator<<(std::ostream& out, const Id<Tag>& id) {
  return out << id.str();
}

struct OrgTag {
  static constexpr std::string_view field = "org_id";
};
struct MemberTag {
  static constexpr std::string_view field = "member_id";
};

using OrgId = Id<OrgTag>;
using OrgIdView = IdView<OrgTag>;
using MemberId = Id<MemberTag>;
using MemberIdView = IdView<MemberTag>;

}  // namespace tally
