// History text, walked from the catalogue. See history_text.h.
#include "engine/history_text.h"

#include "engine/catalogue_dispatch.h"

namespace tally {
namespace {

using catalogue::FieldDesc;
using catalogue::Shown;
using catalogue::TableDesc;
using flatbuffers::Table;

template <const TableDesc& T, std::size_t I>
[[gnu::always_inline]] inline void show(const Table& t, HistoryText& out) {
  static constexpr const FieldDesc& F = T.fields[I];
  const auto text = [&] {
    const auto* s = t.GetPointer<const flatbuffers::String*>(F.slot);
    return s ? s->string_view() : std::string_view();
  };
  if constexpr (F.shown == Shown::label) out.label = text();
  if constexpr (F.shown == Shown::member_id) out.member_id = text();
  if constexpr (F.shown == Shown::workspace) out.workspace = text();
  if constexpr (F.shown == Shown::payment_ref) out.payment_ref = text();
  if constexpr (F.shown == Shown::currency) out.currency = text();
  if constexpr (F.shown == Shown::reason_text) out.reason_text = text();
  if constexpr (F.shown == Shown::paid_minor) out.paid_minor = t.GetField<int64_t>(F.slot, F.default_value);
  if constexpr (F.shown == Shown::fee_minor) out.fee_minor = t.GetField<int64_t>(F.slot, F.default_value);
  if constexpr (F.shown == Shown::billing_path) {
    out.billing_path = static_cast<fb::BillingPath>(t.GetField<int8_t>(F.slot, static_cast<int8_t>(F.default_value)));
  }
}

template <const TableDesc& T>
struct BodyText {
  static void run(const Table& body, HistoryText& out) {
    catalogue::for_each_field<T>([&](auto index) {
      show<T, index.value>(body, out);
      return true;
    });
    T.history(body, out);
  }
};

using BodyTexter = void (*)(const Table&, HistoryText&);
constexpr auto body_texters = catalogue::per_body_functions<BodyTexter, BodyText>();

}  // namespace

void history_text(const fb::Envelope& e, HistoryText& out) {
  const auto type = static_cast<std::size_t>(e.body_type());
  if (type < body_texters.size() && body_texters[type] != nullptr && e.body() != nullptr) {
    body_texters[type](*reinterpret_cast<const Table*>(e.body()), out);
  }
}

}  // namespace tally
