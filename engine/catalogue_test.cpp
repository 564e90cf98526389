// The event catalogue: one entry per body, names and units that agree, and the history text each
// body shows.
#include <boost/test/unit_test.hpp>

#include <set>
#include <string>
#include <string_view>

#include "engine/catalogue.h"
#include "engine/event_factory.h"
#include "engine/history_text.h"

namespace tally::catalogue {
namespace {

bool ends_with(std::string_view text, std::string_view suffix) {
  return text.size() >= suffix.size() && text.substr(text.size() - suffix.size()) == suffix;
}

// Every table the catalogue describes, nested ones included.
std::set<const TableDesc*> all_tables() {
  std::set<const TableDesc*> tables = {&envelope, &signal};
  for (const BodyDesc& body : bodies) {
    if (body.table == nullptr) continue;
    tables.insert(body.table);
    for (const FieldDesc& f : body.table->fields) {
      if (f.table) tables.insert(f.table);
    }
  }
  return tables;
}

BOOST_AUTO_TEST_CASE(each_body_is_found_by_its_type_and_its_json_name) {
  std::set<std::string_view> names;
  for (std::size_t i = 1; i < bodies.size(); ++i) {
    const BodyDesc& body = bodies[i];
    BOOST_TEST_CONTEXT(body.name) {
      BOOST_TEST(find_body(body.type) == &body);
      BOOST_TEST(find_body(body.name) == &body);
      BOOST_TEST(body_type_name(body.type) == body.name);
      BOOST_TEST(names.insert(body.name).second);  // unique
    }
  }
  BOOST_TEST(find_body(fb::Body::NONE) == nullptr);
  BOOST_TEST(find_body(static_cast<fb::Body>(200)) == nullptr);  // a newer schema's body
  BOOST_TEST(find_body("") == nullptr);
  BOOST_TEST(find_body("gift") == nullptr);
  BOOST_TEST(body_type_name(static_cast<fb::Body>(200)) == "");
}

// A reader of the JSON knows the unit from the name: *_micros are micro-credits, *_minor minor
// units of a currency, *_bp basis points, *_ms Unix milliseconds, *_tokens tokens.
BOOST_AUTO_TEST_CASE(units_agree_with_the_field_names) {
  const std::pair<std::string_view, Unit> suffixes[] = {{"_micros", Unit::micros},     {"_minor", Unit::minor},
                                                        {"_bp", Unit::basis_points},   {"_ms", Unit::unix_ms},
                                                        {"_tokens", Unit::tokens},     {"seconds", Unit::seconds}};
  for (const TableDesc* table : all_tables()) {
    for (const FieldDesc& f : table->fields) {
      BOOST_TEST_CONTEXT(table->name << "." << f.name) {
        for (const auto& [suffix, unit] : suffixes) {
          BOOST_TEST((ends_with(f.name, suffix) == (f.unit == unit)));
        }
        const bool number = f.kind == Kind::int64 || f.kind == Kind::int32 || f.kind == Kind::optional_int64;
        BOOST_TEST((number == (f.unit != Unit::none)));  // every number says what it counts
      }
    }
  }
}

BOOST_AUTO_TEST_CASE(enum_names_are_phrased_without_unset) {
  BOOST_TEST(enum_choices(plan_enum) == "pro, enterprise");
  BOOST_TEST(enum_alternatives(billing_mode_enum) == "credits, byok or deferred");
  BOOST_TEST(enum_alternatives(plan_enum) == "pro or enterprise");
  BOOST_TEST(enum_choices(signal_kind_enum).substr(0, 12) == "balance_low,");  // value 0 is a real kind
}

// The text holds views into `bytes`: the caller keeps them.
HistoryText text_of(const std::string& bytes) {
  HistoryText text;
  history_text(*fb::GetEnvelope(bytes.data()), text);
  return text;
}

BOOST_AUTO_TEST_CASE(history_text_is_what_each_body_shows) {
  const EventHeader h{"k", "acme", 1};
  const std::string purchase = make_purchase(h, {100, 250, "usd", 30, 1, "ch_9"});
  HistoryText t = text_of(purchase);
  BOOST_TEST(t.payment_ref == "ch_9");
  BOOST_TEST(t.paid_minor == 250);
  BOOST_TEST(t.fee_minor == 30);
  BOOST_TEST(t.currency == "usd");
  BOOST_TEST(!t.billing_path.has_value());

  const std::string refund = make_refund(h, "ch_9", 10, true, "chargeback");
  t = text_of(refund);
  BOOST_TEST(t.payment_ref == "ch_9");  // the purchase refunded
  BOOST_TEST(t.reason_text == "chargeback");

  UsageFields usage;
  usage.member_id = "u1";
  usage.workspace = "w1";
  usage.model = "claude";
  usage.sandbox_class = "ignored for llm_tokens";
  usage.billing_path = fb::BillingPath::byok;
  const std::string llm = make_usage(h, usage);
  t = text_of(llm);
  BOOST_TEST(t.label == "claude");
  BOOST_TEST(t.member_id == "u1");
  BOOST_TEST(t.workspace == "w1");
  BOOST_REQUIRE(t.billing_path.has_value());
  BOOST_TEST((*t.billing_path == fb::BillingPath::byok));

  usage.meter = fb::Meter::sandbox_seconds;
  usage.sandbox_class = "standard";
  const std::string sandbox = make_usage(h, usage);
  t = text_of(sandbox);
  BOOST_TEST(t.label == "standard");

  const std::string limit = make_member_limit_set(h, "u2", 5);
  t = text_of(limit);
  BOOST_TEST(t.member_id == "u2");
  const std::string failed = make_payment_failed(h, "sig", "card_declined", "no");
  t = text_of(failed);
  BOOST_TEST(t.reason_text == "card_declined");
}

}  // namespace
}  // namespace tally::catalogue
