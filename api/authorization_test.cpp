// The role table (SPEC §7) as a pure function: every event type of the schema has a row, every
// role × event class × org gives the decision the SPEC's table says, and the small pure helpers
// of the HTTP edge (JSON content types, duplicate keys, echo cutting) do what their headers say.
#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <map>
#include <string>
#include <vector>

#include "api/authorization.h"
#include "api/http_types.h"
#include "api/json_body.h"
#include "api/testing/event_types.h"

using namespace tally;
using namespace tally::api;
using tally::api::testing::schema_event_types;

namespace {

Principal token(std::vector<std::string> scopes) { return Principal{"t", std::move(scopes)}; }

bool may_append(const Principal& p, std::string_view type, std::string_view org) {
  static const RouteAuth events = RouteAuth::append_events();
  return authorize(p, AccessRequest{events, org, type}).allowed;
}

}  // namespace

BOOST_AUTO_TEST_CASE(every_event_type_of_the_schema_has_exactly_one_row) {
  const std::vector<std::string> types = schema_event_types();
  for (const std::string& type : types) BOOST_TEST(event_class(type).has_value(), type << " has no row in the role table");
  // And no row names a type the schema does not have (a typo would leave the real type unguarded).
  std::map<std::string_view, int> rows;
  for (const EventRule& rule : event_rules()) {
    const bool in_schema = std::find(types.begin(), types.end(), rule.type) != types.end();
    BOOST_TEST(in_schema, rule.type << " is not a schema type");
    BOOST_TEST(++rows[rule.type] == 1, rule.type << " has two rows");
  }
  BOOST_TEST(!event_class("teleport").has_value());
}

BOOST_AUTO_TEST_CASE(scopes_name_roles) {
  BOOST_TEST((role_of("admin")->role == Role::admin));
  BOOST_TEST((role_of("ingest")->role == Role::ingest));
  BOOST_TEST((role_of("org:acme")->role == Role::org_owner));
  BOOST_TEST(role_of("org:acme")->org == "acme");
  BOOST_TEST((role_of("org:acme:read")->role == Role::org_reader));
  BOOST_TEST(role_of("org:acme:read")->org == "acme");
  for (std::string_view bad : {"org:", "org::read", "org:acme:write", "org:a/b", "litellm", "Admin", ""}) {
    BOOST_TEST(!role_of(bad).has_value(), bad);
  }
}

// SPEC §7, one line per event class, for org "acme": who may append it.
BOOST_AUTO_TEST_CASE(the_role_table_for_events) {
  const Principal admin = token({"admin"}), ingest = token({"ingest"}), owner = token({"org:acme"}),
                  reader = token({"org:acme:read"}), other = token({"org:globex"}), custom = token({"litellm"});
  const std::vector<const Principal*> roles = {&admin, &ingest, &owner, &reader, &other, &custom};
  //                                                admin ingest owner reader other custom
  const std::map<std::string, std::vector<bool>> table = {
      {"org_opened", /*                       */ {true, false, false, false, false, false}},
      {"billing_mode_changed", /*             */ {true, false, false, false, false, false}},
      {"signup_allocation", /*                */ {true, false, false, false, false, false}},
      {"purchase", /*                         */ {true, false, false, false, false, false}},
      {"auto_refill", /*                      */ {true, false, false, false, false, false}},
      {"payment_failed", /*                   */ {true, false, false, false, false, false}},
      {"refund", /*                           */ {true, false, false, false, false, false}},
      {"admin_adjustment", /*                 */ {true, false, false, false, false, false}},
      {"usage", /*                            */ {true, true, false, false, false, false}},
      {"rate_card_published", /*              */ {true, false, false, false, false, false}},
      {"auto_refill_configured", /*           */ {true, false, true, false, false, false}},
      {"auto_refill_disabled", /*             */ {true, false, true, false, false, false}},
      {"low_balance_threshold_set", /*        */ {true, false, true, false, false, false}},
      {"member_limit_set", /*                 */ {true, false, true, false, false, false}},
      {"member_limit_cleared", /*             */ {true, false, true, false, false, false}},
      {"tick", /*                             */ {false, false, false, false, false, false}},
      {"payment_customer_linked", /*          */ {true, false, false, false, false, false}},
      {"workspace_billing_set", /*            */ {true, false, true, false, false, false}},
      {"hold_placed", /*                      */ {true, true, true, false, false, false}},
      {"hold_extended", /*                    */ {true, true, true, false, false, false}},
      {"hold_released", /*                    */ {true, true, true, false, false, false}},
      {"credit_granted", /*                   */ {true, false, false, false, false, false}},
      {"grant_voided", /*                     */ {true, false, false, false, false, false}},
  };
  for (const std::string& type : schema_event_types()) {
    auto row = table.find(type);
    BOOST_REQUIRE_MESSAGE(row != table.end(), type << " needs a line in this test");
    for (std::size_t r = 0; r < roles.size(); ++r) {
      BOOST_TEST(may_append(*roles[r], type, "acme") == row->second[r], type << " by " << roles[r]->scopes.front());
    }
  }
  // Global events (no org): admin only; ticks: nobody.
  BOOST_TEST(may_append(admin, "rate_card_published", ""));
  BOOST_TEST(!may_append(ingest, "rate_card_published", ""));
  BOOST_TEST(!may_append(owner, "member_limit_set", ""));
  BOOST_TEST(!may_append(admin, "tick", ""));
  BOOST_TEST(!may_append(admin, "teleport", "acme"));
}

BOOST_AUTO_TEST_CASE(the_role_table_for_routes) {
  const Principal admin = token({"admin"}), ingest = token({"ingest"}), owner = token({"org:acme"}),
                  reader = token({"org:acme:read"}), other = token({"org:globex"}), custom = token({"litellm"});
  const std::vector<const Principal*> roles = {&admin, &ingest, &owner, &reader, &other, &custom};
  struct Row {
    RouteAuth route;
    std::vector<bool> allowed;  // admin ingest owner reader other custom
  };
  const std::vector<Row> rows = {
      {RouteAuth::org_read(), {true, false, true, true, false, false}},
      {RouteAuth::org_command(), {true, false, true, false, false, false}},
      {RouteAuth::append_events(), {true, true, true, false, true, false}},  // before the body: per event after it
      {RouteAuth::scoped("litellm"), {true, false, false, false, false, true}},
      {RouteAuth::admin(), {true, false, false, false, false, false}},
  };
  for (const Row& row : rows) {
    for (std::size_t r = 0; r < roles.size(); ++r) {
      const Decision decision = authorize(*roles[r], AccessRequest{row.route, "acme", {}});
      BOOST_TEST(decision.allowed == row.allowed[r], static_cast<int>(row.route.kind) << " by " << roles[r]->scopes.front());
      if (!decision.allowed) BOOST_TEST(!decision.reason.empty());
    }
  }
}

BOOST_AUTO_TEST_CASE(denials_say_why_and_name_the_field) {
  const Decision mint = authorize(token({"org:acme"}), AccessRequest{RouteAuth::append_events(), "acme", "purchase"});
  BOOST_TEST(!mint.allowed);
  BOOST_TEST(mint.field == "type");
  BOOST_TEST(mint.reason.find("only an admin token") != std::string::npos, mint.reason);
  const Decision foreign = authorize(token({"org:globex"}), AccessRequest{RouteAuth::append_events(), "acme", "member_limit_set"});
  BOOST_TEST(foreign.field == "org_id");
  BOOST_TEST(foreign.reason.find("acme") != std::string::npos, foreign.reason);
  const Decision tick = authorize(token({"admin"}), AccessRequest{RouteAuth::append_events(), "", "tick"});
  BOOST_TEST(tick.reason.find("Tally itself") != std::string::npos, tick.reason);
  const Decision read_only = authorize(token({"org:acme:read"}), AccessRequest{RouteAuth::org_command(), "acme", {}});
  BOOST_TEST(read_only.reason.find("read-only") != std::string::npos, read_only.reason);
}

BOOST_AUTO_TEST_CASE(several_scopes_allow_what_any_allows_and_only_org_tokens_get_server_time) {
  const Principal both = token({"org:acme", "ingest"});
  BOOST_TEST(may_append(both, "usage", "globex"));
  BOOST_TEST(may_append(both, "member_limit_set", "acme"));
  BOOST_TEST(!may_append(both, "member_limit_set", "globex"));
  BOOST_TEST(!may_append(both, "purchase", "acme"));
  BOOST_TEST((event_time_source(both) == EventTimeSource::producer));
  BOOST_TEST((event_time_source(token({"admin"})) == EventTimeSource::producer));
  BOOST_TEST((event_time_source(token({"ingest"})) == EventTimeSource::producer));
  BOOST_TEST((event_time_source(token({"org:acme"})) == EventTimeSource::server));
  BOOST_TEST((event_time_source(token({"org:acme", "org:globex:read"})) == EventTimeSource::server));
}

BOOST_AUTO_TEST_CASE(json_content_types) {
  for (std::string_view ok : {"", "application/json", "Application/JSON", "application/json; charset=utf-8",
                              "application/json;charset=\"UTF-8\"", "application/json; foo=bar"}) {
    BOOST_TEST(is_json_content_type(ok), ok);
  }
  for (std::string_view bad : {"text/plain", "application/x-www-form-urlencoded", "application/jsonx",
                               "application/json; charset=latin1", "multipart/form-data; boundary=x", "json"}) {
    BOOST_TEST(!is_json_content_type(bad), bad);
  }
}

BOOST_AUTO_TEST_CASE(duplicate_keys_are_found_with_their_path) {
  BOOST_TEST(!duplicate_key_path(R"({"a":1,"b":{"a":2}})", 16).has_value());
  BOOST_TEST(duplicate_key_path(R"({"a":1,"a":2})", 16).value() == "a");
  BOOST_TEST(duplicate_key_path(R"([{"x":1},{"k":1,"m":[{"y":1,"y":2}]}])", 16).value() == "[1].m[0].y");
  BOOST_TEST(duplicate_key_path(R"({"models":[{"model":"a"},{"model":"b","model":"c"}]})", 16).value() == "models[1].model");
  BOOST_TEST(!duplicate_key_path("{not json", 16).has_value());
  BOOST_TEST(!duplicate_key_path(R"([[[[{"a":1,"a":1}]]]])", 3).has_value());  // too deep: the caller's parse says so
}

BOOST_AUTO_TEST_CASE(echoed_input_is_cut_at_a_character_boundary) {
  BOOST_TEST(cut_echo("short") == "short");
  const std::string cut = cut_echo(std::string(500'000, 'k'));
  BOOST_TEST(cut.size() <= http_echo_bytes_max);
  BOOST_TEST(cut.ends_with("\u2026"));
  std::string accents;
  for (int i = 0; i < 100; ++i) accents += "\u00e9";  // 2 bytes each
  const std::string cut_accents = cut_echo(accents);
  BOOST_TEST(cut_accents.size() <= http_echo_bytes_max);
  BOOST_TEST(cut_accents.substr(0, cut_accents.size() - 3).size() % 2 == 0u);  // no half character
  const ApiResponse error = ApiResponse::error(400, "invalid_argument", std::string(100'000, 'm'), std::string(100'000, 'f'));
  BOOST_TEST(error.body.size() < 1024u);
}
