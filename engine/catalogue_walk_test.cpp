// The catalogue's walks (JSON both ways, validation, payload digest) over the field kinds that no
// event body uses yet but the next ones will (SPEC §11–§14): a nested table, an optional number
// and a text appended to a table that ledgers already hold. The probe table
// (testdata/probe.fbs) is described here as catalogue.h describes the bodies.
#include <boost/test/unit_test.hpp>

#include <string>

#include <boost/json.hpp>

#include "engine/json_table.h"
#include "engine/strict_json.h"
#include "engine/table_checks.h"
#include "engine/table_digest.h"
#include "probe_generated.h"

namespace tally::catalogue {
namespace {

constexpr FieldDesc estimate_fields[] = {
    int64("credits_micros", probe::Estimate::VT_CREDITS_MICROS, Unit::micros).positive(),
    int64("tokens", probe::Estimate::VT_TOKENS, Unit::tokens).non_negative(),
};
constexpr TableDesc estimate{.name = "Estimate", .fields = estimate_fields};

constexpr FieldDesc item_fields[] = {
    text("name", probe::Item::VT_NAME).required(),
    int64("amount", probe::Item::VT_AMOUNT, Unit::micros).non_negative(),
};
constexpr TableDesc item{.name = "Item", .fields = item_fields, .sort_keys = {0, 0}, .sort_key_count = 1};

// The probe as first described, before fields were appended to it.
constexpr FieldDesc probe_v1_fields[] = {
    text("name", probe::Probe::VT_NAME).required(),
    int64("amount", probe::Probe::VT_AMOUNT, Unit::micros).positive(),
    list("items", probe::Probe::VT_ITEMS, item),
};
constexpr TableDesc probe_v1{.name = "Probe", .fields = probe_v1_fields};

// And now: the appended fields do not move the digest of a probe that lacks them.
constexpr FieldDesc probe_fields[] = {
    probe_v1_fields[0],
    probe_v1_fields[1],
    probe_v1_fields[2],
    nested("estimate", probe::Probe::VT_ESTIMATE, estimate).digest_as(Digest::when_present),
    optional_int64("expires_at_ms", probe::Probe::VT_EXPIRES_AT_MS, Unit::unix_ms)
        .non_negative()
        .digest_as(Digest::when_present),
    text("category", probe::Probe::VT_CATEGORY).digest_as(Digest::when_present),
};
constexpr TableDesc probe_table{.name = "Probe", .fields = probe_fields};

Result<std::string> encode(const std::string& json, const TableDesc& desc = probe_table) {
  Result<boost::json::value> parsed = json_detail::parse_strict(json, {}, 8);
  if (!parsed.is_ok()) return parsed.status();
  const boost::json::object& object = parsed->as_object();
  if (Status s = json_detail::reject_unknown_fields(object, "", [&](std::string_view key) {
        return json_detail::has_field(desc, key);
      });
      !s.is_ok()) {
    return s;
  }
  flatbuffers::FlatBufferBuilder builder;
  Result<flatbuffers::uoffset_t> root = json_detail::read_table(object, desc, "", builder);
  if (!root.is_ok()) return root.status();
  builder.Finish(flatbuffers::Offset<void>(root.value()));
  return std::string(reinterpret_cast<const char*>(builder.GetBufferPointer()), builder.GetSize());
}

std::string encoded(const std::string& json) {
  Result<std::string> bytes = encode(json);
  BOOST_REQUIRE_MESSAGE(bytes.is_ok(), bytes.status().to_string());
  flatbuffers::Verifier verifier(reinterpret_cast<const uint8_t*>(bytes->data()), bytes->size());
  BOOST_REQUIRE(verifier.VerifyBuffer<probe::Probe>(nullptr));
  return bytes.value();
}

const flatbuffers::Table& root(const std::string& bytes) { return *flatbuffers::GetRoot<flatbuffers::Table>(bytes.data()); }

std::string to_json(const std::string& bytes) {
  boost::json::object out;
  json_detail::write_table(root(bytes), probe_table, out);
  return boost::json::serialize(out);
}

Status check(const std::string& bytes) {
  Status fault;
  if (check_table<probe_table>(root(bytes), Where{}, &fault)) return Status::ok();
  return fault;
}

template <const TableDesc& T>
std::string digest_of(const std::string& bytes) {
  FieldDigest d;
  digest_table<T>(d, root(bytes));
  return d.finish().to_hex();
}

const std::string head = R"({"name":"p","amount":5,"items":[{"name":"b","amount":2},{"name":"a"}])";

BOOST_AUTO_TEST_CASE(nested_tables_and_optional_fields_round_trip) {
  const std::string full = head + R"(,"estimate":{"credits_micros":7,"tokens":3},"expires_at_ms":0,"category":"c"})";
  BOOST_TEST(to_json(encoded(full)) ==
             R"({"name":"p","amount":5,"items":[{"name":"b","amount":2},{"name":"a","amount":0}],)"
             R"("estimate":{"credits_micros":7,"tokens":3},"expires_at_ms":0,"category":"c"})");
  const std::string bytes = encoded(full);
  BOOST_TEST(flatbuffers::GetRoot<probe::Probe>(bytes.data())->expires_at_ms().has_value());
  // Absent: no nested table, no optional number (null is absent, 0 is not), no text.
  const std::string json = to_json(encoded(head + R"(,"expires_at_ms":null})"));
  BOOST_TEST(json == R"({"name":"p","amount":5,"items":[{"name":"b","amount":2},{"name":"a","amount":0}]})");
  BOOST_TEST(check(encoded(head + "}")).is_ok());
}

BOOST_AUTO_TEST_CASE(errors_name_fields_by_their_path) {
  BOOST_TEST(check(encoded(head + R"(,"estimate":{"credits_micros":0}})")).to_string() ==
             "estimate.credits_micros: must be > 0");
  BOOST_TEST(check(encoded(R"({"name":"p","amount":5,"items":[{"name":"a"},{"name":"b","amount":-1}]})")).field() ==
             "items[1].amount");
  BOOST_TEST(check(encoded(head + R"(,"expires_at_ms":-1})")).field() == "expires_at_ms");
  BOOST_TEST(encode(head + R"(,"estimate":{"tokens":1,"bogus":2}})").status().field() == "estimate.bogus");
  BOOST_TEST(encode(head + R"(,"estimate":[]})").status().to_string() == "estimate: must be an object");
  BOOST_TEST(encode(head + R"(,"estimate":{"tokens":1,"tokens":2}})").status().to_string() ==
             "estimate.tokens: duplicate key");
  BOOST_TEST(encode(R"({"amount":5})").status().to_string() == "name: is required");
  BOOST_TEST(encode(R"({"name":"p","items":[{"name":""}]})").status().to_string() == "items[0].name: must not be empty");
}

BOOST_AUTO_TEST_CASE(appended_fields_leave_existing_digests_alone) {
  const std::string old = encoded(head + "}");
  BOOST_TEST(digest_of<probe_table>(old) == digest_of<probe_v1>(old));
  for (const std::string tail : {R"(,"estimate":{"credits_micros":1}})", R"(,"expires_at_ms":0})",
                                 R"(,"category":"c"})"}) {
    const std::string with = encoded(head + tail);
    BOOST_TEST(digest_of<probe_table>(with) != digest_of<probe_v1>(with), tail);
    BOOST_TEST(digest_of<probe_v1>(with) == digest_of<probe_v1>(old), tail);
  }
  // Two appended fields with the same value are told apart (each is framed by its slot).
  BOOST_TEST(digest_of<probe_table>(encoded(head + R"(,"expires_at_ms":3})")) !=
             digest_of<probe_table>(encoded(head + R"(,"estimate":{"credits_micros":3}})")));
}

BOOST_AUTO_TEST_CASE(a_list_digest_ignores_the_listing_order) {
  const std::string ab = encoded(R"({"name":"p","amount":1,"items":[{"name":"a","amount":1},{"name":"b","amount":2}]})");
  const std::string ba = encoded(R"({"name":"p","amount":1,"items":[{"name":"b","amount":2},{"name":"a","amount":1}]})");
  const std::string other = encoded(R"({"name":"p","amount":1,"items":[{"name":"b","amount":1},{"name":"a","amount":2}]})");
  BOOST_TEST(digest_of<probe_table>(ab) == digest_of<probe_table>(ba));
  BOOST_TEST(digest_of<probe_table>(ab) != digest_of<probe_table>(other));
}

}  // namespace
}  // namespace tally::catalogue
