// The payload digest, walked from the catalogue. See payload_digest.h; the framing of the fields
// is table_digest.h's, after the body type as add_int.
#include "engine/payload_digest.h"

#include "engine/catalogue_dispatch.h"
#include "engine/table_digest.h"

namespace tally {
namespace {

using catalogue::digest_table;
using catalogue::TableDesc;
using flatbuffers::Table;

template <const TableDesc& T>
struct BodyDigest {
  static void run(FieldDigest& d, const Table& body) { digest_table<T>(d, body); }
};

using BodyDigester = void (*)(FieldDigest&, const Table&);
constexpr auto body_digesters = catalogue::per_body_functions<BodyDigester, BodyDigest>();

}  // namespace

void digest_body(FieldDigest& d, const fb::Envelope& e) {
  d.add_int(static_cast<int64_t>(e.body_type()));
  const auto type = static_cast<std::size_t>(e.body_type());
  if (type < body_digesters.size() && body_digesters[type] != nullptr && e.body() != nullptr) {
    body_digesters[type](d, *reinterpret_cast<const Table*>(e.body()));
  }
}

}  // namespace tally
