// The org statement: every row's running balance, the reconciliation footer against the rows and
// the live balance, CSV quoting, empty statements, date boundaries, and the HTML page.
#include <boost/json.hpp>
#include <boost/test/unit_test.hpp>
#include <iostream>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

#include "audit/audit_testkit.h"
#include "audit/html_report.h"
#include "audit/statement_export.h"
#include "audit/text_format.h"
#include "engine/event_factory.h"
#include "engine/money.h"
#include "projections/views.h"

using namespace tally;
using namespace tally::audit;
using namespace tally::audit::testing;
namespace json = boost::json;

namespace {

constexpr int64_t credit = 1'000'000;
constexpr int64_t day_ms = 86'400'000;
constexpr int64_t t0 = 1'793'491'200'000;  // 2026-11-01T00:00:00Z
const std::string refund_reason = "customer, said \"too much\"\nsecond line";
const std::string adjustment_reason = "goodwill, <b>vip</b> & \"thanks\"";

UsageFields usage(fb::BillingPath path = fb::BillingPath::unset) {
  UsageFields u;
  u.member_id = "alice";
  u.workspace = "ws1";
  u.model = "gpt-4o";
  u.provider = "openai";
  u.input_tokens = 1'000'000;
  u.output_tokens = 100'000;
  u.billing_path = path;
  return u;
}

// One org, "acme", with every kind of entry, two currencies, a late-stamped event in the middle
// of the log, and entries exactly on the day boundaries 2026-11-01 and 2026-11-02.
struct AcmeLedger {
  TempDir dir;
  std::unique_ptr<Journal> journal;
  std::unique_ptr<ViewReader> views;

  AcmeLedger() {
    journal = open_journal(dir.sub("journal"), 2);
    RateCardFields card;
    card.version = 3;
    card.markup_bp = 15'000;
    card.byok_fee_bp = 500;
    card.models = {{"gpt-4o", ModelPrice{2 * credit, 8 * credit, 0, 0}}};
    std::vector<AppendRequest> r;
    const auto add = [&](std::string record) { r.push_back(AppendRequest{"acme", std::move(record), false}); };
    r.push_back(AppendRequest{"", make_rate_card({"rc-3", "", t0 - day_ms}, card), true});
    add(make_org_opened({"open", "acme", t0 - day_ms}, Plan::pro, BillingMode::credits));
    add(make_signup_allocation({"signup", "acme", t0 - day_ms + 1000}, 25 * credit));
    add(make_purchase({"ch_1", "acme", t0}, {100 * credit, 10'000, "usd", 320, 1, "pi_1"}));  // exactly at from
    add(make_usage({"u-1", "acme", t0 + 1000}, usage()));
    add(make_purchase({"ch_eur", "acme", t0 + 2000}, {50 * credit, 4'500, "eur", 90, 1, "pi_2"}));
    add(make_refund({"rf-1", "acme", t0 + 3000}, "ch_1", 10 * credit, false, refund_reason));
    add(make_usage({"u-late", "acme", t0 - 3'600'000}, usage()));  // stamped the day before, logged now
    add(make_admin_adjustment({"adj-1", "acme", t0 + 4000}, 5 * credit, adjustment_reason, "ops", false));
    add(make_purchase({"ch_1", "acme", t0 + 5000}, {100 * credit, 10'000, "usd", 320, 1, "pi_1"}));  // duplicate
    add(make_purchase({"ch_1", "acme", t0 + 6000}, {90 * credit, 9'000, "usd", 320, 1, "pi_1"}));    // conflict
    add(make_refund({"rf-2", "acme", t0 + 7000}, "nope", credit, false));                           // rejected
    add(make_auto_refill({"refill-1", "acme", t0 + 8000}, {30 * credit, 3'000, "usd", 100, 1, "pi_3"},
                         "0:9:recharge_requested:acme"));
    add(make_usage({"u-byok", "acme", t0 + 9000}, usage(fb::BillingPath::byok)));
    add(make_payment_failed({"pf-1", "acme", t0 + 10'000}, "0:12:recharge_requested:acme", "card_declined", "no"));
    add(make_billing_mode_changed({"bm-1", "acme", t0 + 11'000}, std::nullopt, BillingMode::deferred));
    add(make_usage({"u-inv", "acme", t0 + 12'000}, usage()));
    add(make_billing_mode_changed({"bm-2", "acme", t0 + 13'000}, std::nullopt, BillingMode::credits));
    add(make_usage({"u-2", "acme", t0 + day_ms}, usage()));  // exactly at to: excluded
    ok(ok(journal->writer(journal_events_topic))->append(r));
    project_live(*journal, dir.sub("live"));
    views = ok(ViewReader::open(dir.sub("live")));
  }

  int64_t live_balance(const std::string& org = "acme") {
    return ok(views->org(OrgId::make(org).value())).value().state.balance_micros.value();
  }

  std::string statement(StatementOptions options) {
    std::ostringstream out;
    ok(write_statement(*views, options, out));
    return out.str();
  }
};

StatementOptions options_for(StatementFormat format, int64_t from = INT64_MIN, int64_t to = INT64_MAX) {
  StatementOptions o;
  o.org_id = "acme";
  o.format = format;
  o.from_ms = from;
  o.to_ms = to;
  return o;
}

// RFC 4180 reader: records of fields; quoted fields may hold commas, quotes ("") and line breaks.
std::vector<std::vector<std::string>> parse_csv(const std::string& text) {
  std::vector<std::vector<std::string>> records;
  std::vector<std::string> record;
  std::string field;
  bool quoted = false, was_quoted = false;
  for (std::size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (quoted) {
      if (c == '"' && i + 1 < text.size() && text[i + 1] == '"') {
        field.push_back('"');
        ++i;
      } else if (c == '"') {
        quoted = false;
      } else {
        field.push_back(c);
      }
    } else if (c == '"') {
      BOOST_REQUIRE_MESSAGE(field.empty(), "a quote inside an unquoted field");
      quoted = was_quoted = true;
    } else if (c == ',') {
      record.push_back(std::move(field));
      field.clear();
      was_quoted = false;
    } else if (c == '\r' && i + 1 < text.size() && text[i + 1] == '\n') {
      ++i;
      if (!(record.empty() && field.empty() && !was_quoted)) record.push_back(std::move(field));
      records.push_back(std::move(record));  // an empty record is the blank separator line
      record.clear();
      field.clear();
      was_quoted = false;
    } else {
      BOOST_REQUIRE_MESSAGE(c != '\n' && c != '\r', "a bare line break outside quotes");
      field.push_back(c);
    }
  }
  BOOST_REQUIRE_MESSAGE(!quoted && field.empty() && record.empty(), "the CSV does not end with CRLF");
  return records;
}

struct Csv {
  std::vector<std::string> header;
  std::vector<std::map<std::string, std::string>> rows;
  std::map<std::string, std::map<std::string, std::string>> summary;  // by item + ":" + currency
};

Csv read_csv(const std::string& text) {
  const auto records = parse_csv(text);
  Csv csv;
  BOOST_REQUIRE(!records.empty());
  std::size_t i = 0;
  const auto table = [&](std::vector<std::string>& header, auto&& row) {
    header = records[i++];
    for (; i < records.size() && !records[i].empty(); ++i) {
      BOOST_REQUIRE_EQUAL(records[i].size(), header.size());
      std::map<std::string, std::string> fields;
      for (std::size_t k = 0; k < header.size(); ++k) fields[header[k]] = records[i][k];
      row(std::move(fields));
    }
  };
  if (records[0][0] == "occurred_at") {
    table(csv.header, [&](auto fields) { csv.rows.push_back(std::move(fields)); });
    BOOST_REQUIRE(i < records.size());
    ++i;  // the blank line
  }
  std::vector<std::string> summary_header;
  table(summary_header, [&](auto fields) { csv.summary[fields["item"] + ":" + fields["currency"]] = fields; });
  BOOST_TEST(summary_header.front() == "item");
  BOOST_TEST(i == records.size());
  return csv;
}

int64_t num(const std::string& s) { return s.empty() ? 0 : std::stoll(s); }

// Every row's balance_after equals the opening balance plus the amounts so far; the footer's kinds
// equal the sums of the rows; the footer reconciles. Returns the closing balance.
int64_t check_rows_against_footer(const Csv& csv) {
  int64_t running = num(csv.summary.at("opening_balance:").at("amount_micros"));
  std::map<std::string, int64_t> amount_by_item, count_by_item, paid_by_item, fee_by_item;
  std::map<std::string, int64_t> outcomes;
  int64_t previous_sequence = -1;
  int64_t skipped_movements = 0;  // entries outside the range between rows (late-stamped events)
  for (const auto& row : csv.rows) {
    const int64_t sequence = num(row.at("sequence"));
    if (previous_sequence >= 0 && sequence != previous_sequence + 1) {
      const int64_t before = num(row.at("balance_after_micros")) - num(row.at("amount_micros"));
      skipped_movements += before - running;
      running = before;
    }
    previous_sequence = sequence;
    running += num(row.at("amount_micros"));
    BOOST_TEST(running == num(row.at("balance_after_micros")), "row " << row.at("idempotency_key"));
    BOOST_TEST(row.at("amount") == format_credits(num(row.at("amount_micros"))));
    BOOST_TEST(row.at("occurred_at") == iso_utc(num(row.at("occurred_at_ms"))));
    ++outcomes[row.at("outcome")];
    if (row.at("outcome") != "applied") {
      BOOST_TEST(num(row.at("amount_micros")) == 0);
      continue;
    }
    std::string item;
    const std::string& type = row.at("type");
    if (type == "purchase") item = "purchases:" + row.at("currency");
    else if (type == "auto_refill") item = "auto_refills:" + row.at("currency");
    else if (type == "refund") item = "refunds:";
    else if (type == "signup_allocation") item = "signup_allocations:";
    else if (type == "admin_adjustment") item = "adjustments:";
    else if (type == "usage") item = "usage_" + row.at("billing_path") + ":";
    else if (type == "credit_granted") item = "credit_grants:";
    else if (type == "grant_expired") item = "grant_expiries:";
    else if (type == "grant_voided") item = "grant_voids:";
    else continue;
    amount_by_item[item] += num(row.at("amount_micros"));
    ++count_by_item[item];
    paid_by_item[item] += num(row.at("paid_minor"));
    fee_by_item[item] += num(row.at("fee_minor"));
  }
  for (const auto& [item, amount] : amount_by_item) {
    BOOST_TEST_CONTEXT("footer item " << item) {
      BOOST_REQUIRE(csv.summary.count(item));
      const auto& s = csv.summary.at(item);
      BOOST_TEST(num(s.at("amount_micros")) == amount);
      BOOST_TEST(num(s.at("count")) == count_by_item[item]);
      if (item.rfind("purchases", 0) == 0 || item.rfind("auto_refills", 0) == 0) {
        BOOST_TEST(num(s.at("paid_minor")) == paid_by_item[item]);
        BOOST_TEST(num(s.at("fee_minor")) == fee_by_item[item]);
      }
    }
  }
  BOOST_TEST(num(csv.summary.at("applied:").at("count")) == outcomes["applied"]);
  BOOST_TEST(num(csv.summary.at("duplicates:").at("count")) == outcomes["duplicate"]);
  BOOST_TEST(num(csv.summary.at("conflicts:").at("count")) == outcomes["conflict"]);
  BOOST_TEST(num(csv.summary.at("rejected:").at("count")) == outcomes["rejected"]);
  BOOST_TEST(num(csv.summary.at("entries:").at("count")) == static_cast<int64_t>(csv.rows.size()));
  BOOST_TEST(num(csv.summary.at("difference:").at("amount_micros")) == 0);
  // opening + every kind + other movements = closing
  int64_t total = num(csv.summary.at("opening_balance:").at("amount_micros"));
  for (const auto& [key, s] : csv.summary) {
    const std::string item = key.substr(0, key.find(':'));
    if (item == "purchases" || item == "auto_refills" || item == "refunds" || item == "signup_allocations" ||
        item == "adjustments" || item.rfind("usage_", 0) == 0 || item == "other" || item == "other_movements" ||
        item == "credit_grants" || item == "grant_expiries" || item == "grant_voids") {
      total += num(s.at("amount_micros"));
    }
  }
  const int64_t closing = num(csv.summary.at("closing_balance:").at("amount_micros"));
  BOOST_TEST(total == closing);
  BOOST_TEST(skipped_movements == num(csv.summary.at("other_movements:").at("amount_micros")));
  if (!csv.rows.empty()) BOOST_TEST(running == closing);
  return closing;
}

}  // namespace

BOOST_AUTO_TEST_CASE(csv_running_balance_and_footer_reconcile_with_the_rows_and_the_live_balance) {
  AcmeLedger ledger;
  const std::string text = ledger.statement(options_for(StatementFormat::csv));
  const Csv csv = read_csv(text);
  BOOST_TEST(csv.rows.size() == 18u);  // every acme event, whatever its outcome
  BOOST_TEST(check_rows_against_footer(csv) == ledger.live_balance());
  BOOST_TEST(num(csv.summary.at("opening_balance:").at("amount_micros")) == 0);
  // The payments side, per currency.
  BOOST_TEST(csv.summary.at("purchases:usd").at("count") == "1");
  BOOST_TEST(num(csv.summary.at("purchases:usd").at("amount_micros")) == 100 * credit);
  BOOST_TEST(num(csv.summary.at("purchases:usd").at("paid_minor")) == 10'000);
  BOOST_TEST(num(csv.summary.at("purchases:usd").at("fee_minor")) == 320);
  BOOST_TEST(num(csv.summary.at("purchases:eur").at("paid_minor")) == 4'500);
  BOOST_TEST(num(csv.summary.at("auto_refills:usd").at("amount_micros")) == 30 * credit);
  BOOST_TEST(num(csv.summary.at("refunds:").at("amount_micros")) == -10 * credit);
  BOOST_TEST(num(csv.summary.at("signup_allocations:").at("amount_micros")) == 25 * credit);
  BOOST_TEST(num(csv.summary.at("adjustments:").at("amount_micros")) == 5 * credit);
  BOOST_TEST(csv.summary.at("usage_credits:").at("count") == "3");  // u-1, u-late, u-2
  BOOST_TEST(csv.summary.at("usage_byok:").at("count") == "1");
  BOOST_TEST(csv.summary.at("usage_invoiced:").at("count") == "1");
  BOOST_TEST(num(csv.summary.at("usage_invoiced:").at("amount_micros")) == 0);  // invoiced, not debited
  BOOST_TEST(num(csv.summary.at("usage_invoiced:").at("tracked_cost_micros")) > 0);
  BOOST_TEST(csv.summary.at("payment_failures:").at("count") == "1");
  // Entries carry what an auditor needs.
  const auto& usage_row = csv.rows[3];
  BOOST_TEST(usage_row.at("idempotency_key") == "u-1");
  BOOST_TEST(usage_row.at("model") == "gpt-4o");
  BOOST_TEST(usage_row.at("member_id") == "alice");
  BOOST_TEST(usage_row.at("rate_card_version") == "3");
  BOOST_TEST(csv.rows[2].at("payment_ref") == "pi_1");
  BOOST_TEST(csv.rows[2].at("occurred_at") == "2026-11-01T00:00:00.000Z");

  // --summary: only the reconciliation, the same numbers.
  StatementOptions summary_only = options_for(StatementFormat::csv);
  summary_only.summary_only = true;
  const Csv footer = read_csv(ledger.statement(summary_only));
  BOOST_TEST(footer.rows.empty());
  BOOST_TEST(footer.summary == csv.summary);
}

// SPEC §12: an org with expiring promotional and paid grants. In the period [t0, t0 + 3 d):
// opening 35 cr (signup 25, promotional, expires t0 + 1 d; purchase 10, paid, expires t0 + 2 d);
// a credit grant of 3 (never expires); usage 5 (from the signup: it expires first); a void of 2 of
// the signup; a refund of 4 (from the purchase's own grant); an adjustment of -1 (the signup);
// the clock at t0 + 1 d expires the signup's 17 left (breakage); usage 7 (the purchase's 6, then
// 1 of the credit grant). Closing = 35 + 3 - (5 + 1 + 7) - 17 - 2 - 4 = 2 cr, the credit grant's.
BOOST_AUTO_TEST_CASE(grants_expiries_and_voids_reconcile_in_the_terms_of_grants) {
  TempDir dir;
  auto journal = open_journal(dir.sub("journal"), 2);
  const auto spend = [](int64_t micros) {
    UsageFields u;
    u.reported_cost_micros = micros;  // no rate card: billed at 1x
    return u;
  };
  std::vector<AppendRequest> r;
  const auto add = [&](std::string record) { r.push_back(AppendRequest{"gco", std::move(record), false}); };
  add(make_signup_allocation({"gco-signup", "gco", t0 - 2 * day_ms}, 25 * credit, {50, t0 + day_ms, {}}));
  add(make_purchase({"gco-buy", "gco", t0 - day_ms},
                    {10 * credit, 1'000, "usd", 29, 1, "pi_g", {50, t0 + 2 * day_ms, {}}}));
  add(make_credit_granted({"gco-goodwill", "gco", t0 + 1'000}, 3 * credit, {}, "goodwill", "ops"));
  add(make_usage({"gco-u1", "gco", t0 + 3'600'000}, spend(5 * credit)));
  add(make_grant_voided({"gco-void", "gco", t0 + 2 * 3'600'000}, "gco-signup", 2 * credit, "over-granted"));
  add(make_refund({"gco-refund", "gco", t0 + 3 * 3'600'000}, "gco-buy", 4 * credit, false, "partial"));
  add(make_admin_adjustment({"gco-adj", "gco", t0 + 4 * 3'600'000}, -credit, "correction", "ops", false));
  r.push_back(AppendRequest{"", make_tick({"gco-tick-1", "", t0 + day_ms}), true});
  add(make_usage({"gco-u2", "gco", t0 + day_ms + 3'600'000}, spend(7 * credit)));
  r.push_back(AppendRequest{"", make_tick({"gco-tick-2", "", t0 + 2 * day_ms + 1}), true});
  ok(ok(journal->writer(journal_events_topic))->append(r));
  project_live(*journal, dir.sub("live"));
  auto views = ok(ViewReader::open(dir.sub("live")));

  StatementSummary s;
  ok(scan_statement(*views, "gco", t0, t0 + 3 * day_ms, [](const HistoryEntry&) { return true; }, s));
  BOOST_TEST(s.opening_balance_micros == 35 * credit);
  BOOST_TEST(s.granted_micros == 3 * credit);
  BOOST_TEST(s.consumed_micros == 13 * credit);
  BOOST_TEST(s.grant_expiries.amount_micros == -17 * credit);
  BOOST_TEST(s.grant_voids.amount_micros == -2 * credit);
  BOOST_TEST(s.refunds.amount_micros == -4 * credit);
  BOOST_TEST(s.closing_balance_micros == 2 * credit);
  // opening + grants - consumption - expiry - voids - refunds = closing, to the µcr.
  BOOST_TEST(s.opening_balance_micros + s.granted_micros - s.consumed_micros + s.grant_expiries.amount_micros +
                 s.grant_voids.amount_micros + s.refunds.amount_micros ==
             s.closing_balance_micros);
  BOOST_TEST(s.reconciles());
  BOOST_TEST(ok(views->org(OrgId::make("gco").value())).value().state.balance_micros.value() == 2 * credit);

  StatementOptions options = options_for(StatementFormat::csv, t0, t0 + 3 * day_ms);
  options.org_id = "gco";
  std::ostringstream text;
  ok(write_statement(*views, options, text));
  const Csv csv = read_csv(text.str());
  BOOST_TEST(check_rows_against_footer(csv) == 2 * credit);
  BOOST_TEST(num(csv.summary.at("breakage:").at("amount_micros")) == 17 * credit);
  BOOST_TEST(num(csv.summary.at("granted:").at("amount_micros")) == 3 * credit);
  BOOST_TEST(num(csv.summary.at("consumed:").at("amount_micros")) == 13 * credit);
  std::map<std::string, std::string> fundings;  // by key
  for (const auto& row : csv.rows) fundings[row.at("idempotency_key")] = row.at("fundings");
  BOOST_TEST(fundings.at("gco-u1") == "gco-signup:5000000");
  BOOST_TEST(fundings.at("gco-refund") == "gco-buy:4000000");
  BOOST_TEST(fundings.at("gco-u2") == "gco-buy:6000000;gco-goodwill:1000000");
  BOOST_TEST(fundings.at("gco-signup") == "");  // the grant_expired entry of the signup (its key)
}

BOOST_AUTO_TEST_CASE(jsonl_rows_have_the_documented_fields_and_end_with_a_summary) {
  AcmeLedger ledger;
  std::istringstream lines(ledger.statement(options_for(StatementFormat::jsonl)));
  std::vector<json::object> objects;
  for (std::string line; std::getline(lines, line);) objects.push_back(json::parse(line).as_object());
  BOOST_REQUIRE(objects.size() == 19u);
  int64_t running = 0;
  for (std::size_t i = 0; i + 1 < objects.size(); ++i) {
    const json::object& o = objects[i];
    for (const char* field : {"type", "idempotency_key", "outcome", "amount_micros", "balance_after_micros",
                              "occurred_at_ms", "position", "model", "member_id", "rate_card_version", "payment_ref"}) {
      BOOST_TEST(o.contains(field), "field " << field);
    }
    running += o.at("amount_micros").as_int64();
    BOOST_TEST(running == o.at("balance_after_micros").as_int64());
    BOOST_TEST(o.at("amount").as_string() == format_credits(o.at("amount_micros").as_int64()));
  }
  const json::object& summary = objects.back();
  BOOST_TEST(summary.at("type").as_string() == "summary");
  BOOST_TEST(summary.at("closing_balance_micros").as_int64() == ledger.live_balance());
  BOOST_TEST(summary.at("opening_balance_micros").as_int64() == 0);
  BOOST_TEST(summary.at("reconciles").as_bool());
  BOOST_TEST(summary.at("from_ms").is_null());
  BOOST_TEST(summary.at("purchases").as_array().size() == 2u);
  BOOST_TEST(summary.at("usage").as_object().at("byok").as_object().at("count").as_int64() == 1);
  BOOST_TEST(objects[5].at("idempotency_key").as_string() == "rf-1");
  BOOST_TEST(objects[5].at("note").as_string() == refund_reason);
}

// RFC 4180 quoting of commas and quotes; a line break inside a field is a control character and
// is escaped (\x0a) rather than quoted, so every record is one line (SPEC §10).
BOOST_AUTO_TEST_CASE(csv_quotes_commas_and_quotes_per_rfc_4180_and_escapes_line_breaks) {
  AcmeLedger ledger;
  const std::string text = ledger.statement(options_for(StatementFormat::csv));
  BOOST_TEST(text.find("\"customer, said \"\"too much\"\"\\x0asecond line\"") != std::string::npos);
  BOOST_TEST(text.find("\"goodwill, <b>vip</b> & \"\"thanks\"\"\"") != std::string::npos);
  const Csv csv = read_csv(text);
  BOOST_TEST(csv.rows[5].at("note") == "customer, said \"too much\"\\x0asecond line");
  BOOST_TEST(csv.rows[7].at("note") == adjustment_reason);

  std::string field;
  append_csv_field(field, "plain");
  BOOST_TEST(field == "plain");
  field.clear();
  append_csv_field(field, "a,b");
  BOOST_TEST(field == "\"a,b\"");
  field.clear();
  append_csv_field(field, "cr\rhere");
  BOOST_TEST(field == "cr\\x0dhere");
}

// A statement is safe to open (SPEC §10, OWASP CSV injection): text cells that a spreadsheet would
// run as a formula start with ', control characters (NUL, ESC, tab) are escaped, and the amount
// columns stay numbers, negative ones included. JSONL escapes by JSON's rules, HTML replaces them.
BOOST_AUTO_TEST_CASE(exports_neutralise_formulas_and_escape_control_characters_but_keep_numbers) {
  TempDir dir;
  auto journal = open_journal(dir.sub("journal"), 1);
  const std::string formula_key = "=HYPERLINK(\"http://evil.example\",\"x\")";
  const std::string control_reason = std::string("nul") + '\0' + "esc\x1b[2Jtab\there";
  UsageFields u = usage();
  u.member_id = "@evil";  // a valid member id that starts like a formula
  u.workspace = "=cmd|'/C calc'!A0";
  u.model = "-2+3";
  u.reported_cost_micros = 1'000'000;
  std::vector<AppendRequest> r;
  const auto add = [&](std::string record) { r.push_back(AppendRequest{"evil", std::move(record), false}); };
  add(make_signup_allocation({formula_key, "evil", t0}, 10 * credit));
  add(make_usage({"+use", "evil", t0 + 1000}, u));
  add(make_admin_adjustment({"adj-neg", "evil", t0 + 2000}, -1'500'000, control_reason, "ops", false));
  ok(ok(journal->writer(journal_events_topic))->append(r));
  project_live(*journal, dir.sub("live"));
  auto views = ok(ViewReader::open(dir.sub("live")));
  const auto statement = [&](StatementFormat format) {
    StatementOptions o = options_for(format);
    o.org_id = "evil";
    std::ostringstream out;
    ok(write_statement(*views, o, out));
    return out.str();
  };

  const std::string text = statement(StatementFormat::csv);
  BOOST_TEST(text.find('\0') == std::string::npos);
  BOOST_TEST(text.find('\x1b') == std::string::npos);
  BOOST_TEST(text.find('\t') == std::string::npos);
  const Csv csv = read_csv(text);
  BOOST_REQUIRE_EQUAL(csv.rows.size(), 3u);
  BOOST_TEST(csv.rows[0].at("idempotency_key") == "'" + formula_key);
  BOOST_TEST(csv.rows[1].at("idempotency_key") == "'+use");
  BOOST_TEST(csv.rows[1].at("member_id") == "'@evil");
  BOOST_TEST(csv.rows[1].at("workspace") == "'=cmd|'/C calc'!A0");
  BOOST_TEST(csv.rows[1].at("model") == "'-2+3");
  BOOST_TEST(csv.rows[2].at("note") == "nul\\x00esc\\x1b[2Jtab\\x09here");
  // Numbers stay numbers: a negative amount is not neutralised.
  BOOST_TEST(csv.rows[1].at("amount_micros") == "-1000000");
  BOOST_TEST(csv.rows[1].at("amount") == "-1.000000");
  BOOST_TEST(csv.rows[2].at("amount_micros") == "-1500000");
  BOOST_TEST(csv.rows[2].at("amount") == "-1.500000");
  BOOST_TEST(csv.summary.at("adjustments:").at("amount") == "-1.500000");

  const std::string jsonl = statement(StatementFormat::jsonl);
  BOOST_TEST(jsonl.find('\0') == std::string::npos);
  BOOST_TEST(jsonl.find('\x1b') == std::string::npos);
  BOOST_TEST(jsonl.find("nul\\u0000esc\\u001b[2Jtab\\there") != std::string::npos);
  const std::string html = statement(StatementFormat::html);
  BOOST_TEST(html.find('\0') == std::string::npos);
  BOOST_TEST(html.find('\x1b') == std::string::npos);

  std::string printed;
  append_printable(printed, std::string("k\x1b[31m\\\xc2\x9b\xff\xc3\xa9", 12));
  BOOST_TEST(printed == "k\\x1b[31m\\\\\\xc2\\x9b\\xff\xc3\xa9");  // é is printable, CSI and 0xff are not
}

BOOST_AUTO_TEST_CASE(an_org_with_no_entries_gives_an_empty_statement) {
  AcmeLedger ledger;
  StatementOptions ghost = options_for(StatementFormat::csv);
  ghost.org_id = "ghost";
  const std::string text = ledger.statement(ghost);
  BOOST_TEST(text.rfind(csv_header() + "\r\nitem,", 0) == 0u);
  const Csv csv = read_csv(text);
  BOOST_TEST(csv.rows.empty());
  BOOST_TEST(num(csv.summary.at("opening_balance:").at("amount_micros")) == 0);
  BOOST_TEST(num(csv.summary.at("closing_balance:").at("amount_micros")) == 0);
  BOOST_TEST(csv.summary.at("entries:").at("count") == "0");
  ghost.format = StatementFormat::jsonl;
  const json::object summary = json::parse(ledger.statement(ghost)).as_object();
  BOOST_TEST(summary.at("org_found").as_bool() == false);
  BOOST_TEST(summary.at("reconciles").as_bool());

  // An existing org with nothing in the range: opening = closing = its balance before the range.
  const Csv later = read_csv(ledger.statement(options_for(StatementFormat::csv, t0 + 10 * day_ms, t0 + 11 * day_ms)));
  BOOST_TEST(later.rows.empty());
  BOOST_TEST(num(later.summary.at("opening_balance:").at("amount_micros")) == ledger.live_balance());
  BOOST_TEST(num(later.summary.at("closing_balance:").at("amount_micros")) == ledger.live_balance());
}

BOOST_AUTO_TEST_CASE(date_filters_are_half_open_at_the_boundaries) {
  AcmeLedger ledger;
  const int64_t from = ok(parse_time_bound("2026-11-01", "from"));
  const int64_t to = ok(parse_time_bound("2026-11-02", "to"));
  BOOST_TEST(from == t0);
  BOOST_TEST(to == t0 + day_ms);
  const std::string text = ledger.statement(options_for(StatementFormat::csv, from, to));
  const Csv csv = read_csv(text);
  std::vector<std::string> keys;
  for (const auto& row : csv.rows) keys.push_back(row.at("idempotency_key"));
  BOOST_TEST(keys.front() == "ch_1");  // exactly at from: included
  const auto has = [&](const std::string& key) { return std::find(keys.begin(), keys.end(), key) != keys.end(); };
  BOOST_TEST(!has("u-2"));     // exactly at to: excluded
  BOOST_TEST(!has("u-late"));  // stamped before from
  BOOST_TEST(!has("signup"));
  BOOST_TEST(has("bm-2"));
  BOOST_TEST(num(csv.summary.at("opening_balance:").at("amount_micros")) == 25 * credit);  // after the signup
  // u-late sits between in-range entries in log order: its debit is an "other movement", and the
  // statement still reconciles exactly.
  const int64_t late_debit = -num(read_csv(ledger.statement(options_for(StatementFormat::csv))).rows[6].at("debited_micros"));
  BOOST_TEST(late_debit < 0);
  BOOST_TEST(num(csv.summary.at("other_movements:").at("amount_micros")) == late_debit);
  check_rows_against_footer(csv);
  // The same range in Unix ms gives the same bytes; one ms less at `to` still excludes u-2, one ms
  // more includes it.
  BOOST_TEST(ledger.statement(options_for(StatementFormat::csv, ok(parse_time_bound(std::to_string(from), "from")),
                                          ok(parse_time_bound(std::to_string(to), "to")))) == text);
  const Csv wider = read_csv(ledger.statement(options_for(StatementFormat::csv, from, to + 1)));
  BOOST_TEST(wider.rows.back().at("idempotency_key") == "u-2");
  const Csv narrower = read_csv(ledger.statement(options_for(StatementFormat::csv, from + 1, to)));
  BOOST_TEST(narrower.rows.front().at("idempotency_key") == "u-1");
}

BOOST_AUTO_TEST_CASE(html_is_one_well_formed_self_contained_page) {
  AcmeLedger ledger;
  const std::string html = ledger.statement(options_for(StatementFormat::html));
  BOOST_TEST(html.rfind("<!DOCTYPE html>", 0) == 0u);
  BOOST_TEST(html.find("<svg") != std::string::npos);
  BOOST_TEST(html.find("<path") != std::string::npos);
  BOOST_TEST(html.find(format_credits(ledger.live_balance())) != std::string::npos);
  BOOST_TEST(html.find("<script") == std::string::npos);
  BOOST_TEST(html.find("src=") == std::string::npos);
  BOOST_TEST(html.find("<link") == std::string::npos);
  BOOST_TEST(html.find("goodwill, &lt;b&gt;vip&lt;/b&gt; &amp; &quot;thanks&quot;") != std::string::npos);
  BOOST_TEST(html.find("<b>vip</b>") == std::string::npos);
  BOOST_TEST(html.find("Reconciles") != std::string::npos);

  // Balanced tags: every element opened is closed, in order (void elements aside).
  const std::set<std::string> void_elements = {"meta", "br"};
  std::vector<std::string> open;
  for (std::size_t i = html.find('<'); i != std::string::npos; i = html.find('<', i + 1)) {
    const std::size_t end = html.find('>', i);
    BOOST_REQUIRE(end != std::string::npos);
    std::string tag = html.substr(i + 1, end - i - 1);
    if (tag.empty() || tag[0] == '!') continue;
    const bool closing = tag[0] == '/';
    const bool self_closing = tag.back() == '/';
    if (closing) tag = tag.substr(1);
    const std::string name = tag.substr(0, tag.find_first_of(" /"));
    if (self_closing || void_elements.count(name)) continue;
    if (closing) {
      BOOST_REQUIRE_MESSAGE(!open.empty() && open.back() == name, "</" << name << "> closes <"
                                                                        << (open.empty() ? "" : open.back()) << ">");
      open.pop_back();
    } else {
      open.push_back(name);
    }
  }
  BOOST_TEST(open.empty());

  // An empty page is well-formed too, and --summary leaves the table out.
  StatementOptions ghost = options_for(StatementFormat::html);
  ghost.org_id = "ghost";
  const std::string empty = ledger.statement(ghost);
  BOOST_TEST(empty.find("No entries in this period.") != std::string::npos);
  StatementOptions summary_only = options_for(StatementFormat::html);
  summary_only.summary_only = true;
  BOOST_TEST(ledger.statement(summary_only).find("<table class=\"statement\">") == std::string::npos);
}

// A 25,000-credit wallet that spends 60 credits over five days: the balance chart's y-axis fits
// 24,940..25,000 (not 0..25,000, where the line would be flat at the top), and the usage bars
// under it show each day's spend.
BOOST_AUTO_TEST_CASE(the_balance_chart_fits_a_25000_credit_wallet_and_shows_usage_per_day) {
  TempDir dir;
  std::unique_ptr<Journal> journal = open_journal(dir.sub("journal"), 1);
  std::vector<AppendRequest> r;
  const auto add = [&](std::string record) { r.push_back(AppendRequest{"wallet", std::move(record), false}); };
  add(make_org_opened({"open", "wallet", t0}, Plan::pro, BillingMode::credits));
  add(make_signup_allocation({"signup", "wallet", t0 + 1000}, 25'000 * credit));
  const int64_t spend[] = {5, 20, 0, 15, 20};  // credits per day
  for (int64_t day = 0; day < 5; ++day) {
    if (spend[day] == 0) continue;
    UsageFields u = usage();
    u.reported_cost_micros = spend[day] * credit;
    add(make_usage({"use-" + std::to_string(day), "wallet", t0 + day * day_ms + 3'600'000}, u));
  }
  ok(ok(journal->writer(journal_events_topic))->append(r));
  project_live(*journal, dir.sub("live"));
  std::unique_ptr<ViewReader> views = ok(ViewReader::open(dir.sub("live")));
  StatementOptions options = options_for(StatementFormat::html);
  options.org_id = "wallet";
  std::ostringstream out;
  ok(write_statement(*views, options, out));
  const std::string html = out.str();
  if (const char* build = std::getenv("TALLY_BINARY_DIR")) {  // kept to look at: BUILD/artifacts/
    std::filesystem::create_directories(std::string(build) + "/artifacts");
    std::ofstream(std::string(build) + "/artifacts/statement-25000-wallet.html") << html;
  }

  const auto attribute = [&](std::string_view name) {  // of the balance chart's <svg>
    const std::size_t chart = html.find("id=\"balance-chart\"");
    BOOST_REQUIRE(chart != std::string::npos);
    const std::size_t at = html.find(std::string(name) + "=\"", chart);
    BOOST_REQUIRE(at != std::string::npos && at < html.find('>', chart));
    return std::stoll(html.substr(at + name.size() + 2));
  };
  const int64_t y_min = attribute("data-y-min"), y_max = attribute("data-y-max");
  BOOST_TEST_MESSAGE("y-axis " << format_credits(y_min) << " .. " << format_credits(y_max));
  BOOST_TEST(y_min <= 24'940 * credit);  // the lowest balance is on the chart
  BOOST_TEST(y_max >= 25'000 * credit);  // and the highest
  BOOST_TEST(y_min >= 24'900 * credit);  // not from zero: the 60 credits moved fill most of the height
  BOOST_TEST(y_max <= 25'050 * credit);
  BOOST_TEST(html.find(">24940.000000</text>") != std::string::npos);  // a labelled line at 24,940
  // One bar per day, each the day's spend.
  std::vector<int64_t> bars;
  const std::size_t usage_chart = html.find("id=\"usage-chart\"");
  BOOST_REQUIRE(usage_chart != std::string::npos);
  const std::string usage_svg = html.substr(usage_chart, html.find("</svg>", usage_chart) - usage_chart);
  for (std::size_t at = usage_svg.find("<rect "); at != std::string::npos; at = usage_svg.find("<rect ", at + 1)) {
    const std::size_t micros = usage_svg.find("data-micros=\"", at);
    BOOST_REQUIRE(micros != std::string::npos);
    bars.push_back(std::stoll(usage_svg.substr(micros + 13)));
  }
  BOOST_TEST(bars == (std::vector<int64_t>{5 * credit, 20 * credit, 0, 15 * credit, 20 * credit}), boost::test_tools::per_element());
  // The fitted axis of a flat balance, a balance near zero, and a negative one.
  const AxisRange flat = fit_balance_axis(25'000 * credit, 25'000 * credit);
  BOOST_TEST((flat.low < 25'000 * credit && flat.high > 25'000 * credit && flat.low > 24'000 * credit));
  BOOST_TEST(fit_balance_axis(3 * credit, 90 * credit).low == 0);
  BOOST_TEST(fit_balance_axis(-40 * credit, 10 * credit).low < -40 * credit);
}

BOOST_AUTO_TEST_CASE(times_and_text_encodings) {
  BOOST_TEST(iso_utc(0) == "1970-01-01T00:00:00.000Z");
  BOOST_TEST(iso_utc(-1) == "1969-12-31T23:59:59.999Z");
  BOOST_TEST(iso_utc(t0 + 45'005'250) == "2026-11-01T12:30:05.250Z");
  BOOST_TEST(iso_utc(951'782'400'000) == "2000-02-29T00:00:00.000Z");
  BOOST_TEST(ok(parse_time_bound("2026-11-01T12:30:05.250Z", "from")) == t0 + 45'005'250);
  BOOST_TEST(ok(parse_time_bound("2026-11-01T12:30", "from")) == t0 + 45'000'000);
  BOOST_TEST(ok(parse_time_bound("-5", "from")) == -5);
  BOOST_TEST(ok(parse_time_bound("2000-02-29", "from")) == 951'782'400'000);
  for (const char* bad : {"", "abc", "2026-13-01", "2026-02-29", "2026-11-01T24:00", "2026-11-1", "12x", "2026-11-01Zz"}) {
    auto r = parse_time_bound(bad, "to");
    BOOST_TEST(!r.is_ok(), "\"" << bad << "\" parsed");
    if (!r.is_ok()) BOOST_TEST(r.status().field() == "to");
  }
  std::string s;
  append_json_string(s, std::string("a\"b\\c\n\x01\xff", 8));
  BOOST_TEST(s == "\"a\\\"b\\\\c\\n\\u0001\xef\xbf\xbd\"");
  BOOST_TEST(html_text("<a href='x'>&</a>") == "&lt;a href=&#39;x&#39;&gt;&amp;&lt;/a&gt;");
  BOOST_TEST(!parse_statement_format("pdf").is_ok());
}

// Random ledgers: for every org, the statement's running balance and footer reconcile and close at
// the live balance.
BOOST_AUTO_TEST_CASE(every_org_of_a_random_workload_reconciles) {
  const uint64_t seed = testkit::test_seed(41);
  std::cout << "every_org_reconciles: seed " << seed << " (rerun with TALLY_SEED=" << seed << ")\n";
  TempDir dir;
  auto journal = open_journal(dir.sub("journal"), 4);
  write_workload(*journal, seed, 15'000, 4, 12);
  project_live(*journal, dir.sub("live"));
  auto views = ok(ViewReader::open(dir.sub("live")));
  for (const OrgId& org : ok(views->org_ids())) {
    BOOST_TEST_CONTEXT("org " << org) {
      StatementOptions o;
      o.org_id = org.str();
      std::ostringstream out;
      const StatementSummary summary = ok(write_statement(*views, o, out));
      BOOST_TEST(summary.reconciles());
      const Csv csv = read_csv(out.str());
      BOOST_TEST(check_rows_against_footer(csv) == ok(views->org(org)).value().state.balance_micros.value());
      // A middle slice reconciles too, late-stamped entries or not.
      o.from_ms = testkit::WorkloadOptions{}.start_ms + 3 * day_ms;
      o.to_ms = o.from_ms + 5 * day_ms;
      std::ostringstream slice;
      BOOST_TEST(ok(write_statement(*views, o, slice)).reconciles());
      check_rows_against_footer(read_csv(slice.str()));
    }
  }
}
