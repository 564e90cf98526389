// Read commands: `tally balance|txns|limits|usage ORG --data DIR [--json]`. They open the views
// read-only (never blocking a running projector) and print a human table, or with --json the
// same JSON objects the HTTP API returns. Text from the ledger (ids, keys, names) reaches the
// terminal through audit::printable_text: a control character in a key shows as \x1b, it is never
// sent to the terminal as it is (SPEC §10).
#include <boost/json.hpp>
#include <cstdio>
#include <map>

#include "api/view_json.h"
#include "audit/text_format.h"
#include "cli/cli_util.h"
#include "engine/calendar.h"
#include "engine/money.h"
#include "projections/usage_groups.h"

namespace tally::cli {
namespace {

struct ReadArgs {
  std::string org;
  std::string data = "tally-data";
  bool json = false;
};

void add_read_options(po::options_description& options, po::positional_options_description& positional,
                      ReadArgs& read) {
  options.add_options()
      ("org", po::value(&read.org)->required(), "org id")
      ("data", po::value(&read.data)->default_value("tally-data"), "data directory (of tally dev / serve)")
      ("json", po::bool_switch(&read.json), "print JSON (as the HTTP API) instead of a table");
  positional.add("org", 1);
}

// Opens the views and finds the org; prints the error and returns nullopt when it cannot.
std::optional<OrgView> load_org(const char* command, const ReadArgs& read, std::unique_ptr<ViewReader>& views,
                                int& code) {
  auto opened = open_views(read.data);
  if (!opened.is_ok()) {
    code = fail(command, opened.status());
    return std::nullopt;
  }
  views = std::move(opened.value());
  const Result<OrgId> id = OrgId::make(read.org);
  if (!id.is_ok()) {
    code = fail(command, id.status());
    return std::nullopt;
  }
  auto org = views->org(id.value());
  if (!org.is_ok()) {
    code = fail(command, org.status());
    return std::nullopt;
  }
  if (!org.value()) {
    code = fail(command, Status::error(Status::Code::not_found, "no org '" + read.org + "' in the ledger"));
    return std::nullopt;
  }
  return *org.value();
}

// Ledger text as the terminal may show it.
std::string shown(std::string_view text) { return audit::printable_text(text); }

void print_json(const boost::json::value& value) { std::printf("%s\n", boost::json::serialize(value).c_str()); }

int run_balance(const Args& args) {
  ReadArgs read;
  po::options_description options("options");
  po::positional_options_description positional;
  add_read_options(options, positional, read);
  po::variables_map vm;
  if (auto code = parse_options("balance", "ORG [--data DIR] [--json]", args, options, vm, &positional)) return *code;
  std::unique_ptr<ViewReader> views;
  int code = exit_ok;
  auto org = load_org("balance", read, views, code);
  if (!org) return code;
  if (read.json) {
    print_json(api::credits_json(*org, std::nullopt));
    return exit_ok;
  }
  const OrgState& s = org->state;
  const bool wallet = api::uses_wallet(s);
  std::printf("org          %s (%s plan, %s)\n", shown(org->org_id.str()).c_str(), plan_name(s.plan),
              billing_mode_name(s.mode));
  std::printf("balance      %s credits%s\n", format_credits(s.balance_micros).c_str(),
              !wallet ? "  (does not use the wallet)" : s.is_exhausted ? "  EXHAUSTED: paused"
                                                          : s.is_low   ? "  low"
                                                                       : "");
  if (s.held_micros > Micros{}) {
    std::printf("held         %s  available %s  (%zu active holds)\n", format_credits(s.held_micros).c_str(),
                format_credits(api::available_micros(s)).c_str(), s.holds.size());
  }
  std::printf("allocated    %s\npurchased    %s\nused         %s\nrefunded     %s\nadjusted     %s\ntracked cost %s\n",
              format_credits(s.totals.allocated_micros).c_str(), format_credits(s.totals.purchased_micros).c_str(),
              format_credits(s.totals.used_micros).c_str(), format_credits(s.totals.refunded_micros).c_str(),
              format_credits(s.totals.adjusted_micros).c_str(), format_credits(s.totals.tracked_cost_micros).c_str());
  if (s.auto_refill.enabled) {
    std::printf("auto-refill  below %s, top up %s (%d/day, %d/month)%s\n",
                format_credits(s.auto_refill.threshold_micros).c_str(),
                format_credits(s.auto_refill.refill_credits_micros).c_str(), s.auto_refill.max_per_day,
                s.auto_refill.max_per_month, s.refill_pending ? ", refill pending" : "");
  } else {
    std::printf("auto-refill  off\n");
  }
  return exit_ok;
}

int run_txns(const Args& args) {
  ReadArgs read;
  std::size_t limit = 20;
  std::string cursor;
  std::string type;
  po::options_description options("options");
  po::positional_options_description positional;
  add_read_options(options, positional, read);
  options.add_options()
      ("limit", po::value(&limit)->default_value(20), "entries per page (1..500)")
      ("cursor", po::value(&cursor), "start here (the next page's cursor an earlier call printed)")
      ("type", po::value(&type), "only this event type, e.g. usage");
  po::variables_map vm;
  if (auto code = parse_options("txns", "ORG [--data DIR] [--limit N] [--cursor C] [--json]", args, options, vm,
                                &positional)) {
    return *code;
  }
  if (limit < 1 || limit > 500) return fail("txns", Status::invalid("--limit", "must be 1..500"));
  const Result<OrgId> id = OrgId::make(read.org);
  if (!id.is_ok()) return fail("txns", id.status());
  auto views = open_views(read.data);
  if (!views.is_ok()) return fail("txns", views.status());
  HistoryQuery query;
  query.org_id = id.value();
  query.limit = limit;
  query.type = type;
  // No cursor: the org's early rejects (its first events, rejected before it existed) come first.
  std::optional<std::string_view> from;
  if (!cursor.empty()) from = cursor;
  if (Status s = api::apply_transactions_cursor(from, query); !s.is_ok()) return fail("txns", s);
  auto page = views.value()->history(query);
  if (!page.is_ok()) return fail("txns", page.status());
  if (page->entries.empty() && cursor.empty()) {
    auto org = views.value()->org(id.value());
    if (!org.is_ok()) return fail("txns", org.status());
    if (!org.value()) return fail("txns", Status::error(Status::Code::not_found, "no org '" + read.org + "' in the ledger"));
  }
  const std::optional<std::string> next = api::next_transactions_cursor(page.value());
  if (read.json) {
    boost::json::array list;
    for (const HistoryEntry& e : page.value().entries) list.push_back(api::history_json(e));
    boost::json::object out{{"transactions", std::move(list)}};
    out["next_cursor"] = next ? boost::json::value(*next) : boost::json::value(nullptr);
    print_json(out);
    return exit_ok;
  }
  std::printf("%6s  %-20s %-28s %-10s %16s %16s\n", "#", "type", "key", "outcome", "amount", "balance");
  for (const HistoryEntry& e : page.value().entries) {
    std::string outcome = outcome_name(e.outcome);
    if (e.outcome == Outcome::rejected) outcome += "(" + std::string(reject_reason_name(e.reason)) + ")";
    const std::string number = e.early ? "early" : std::to_string(e.sequence);
    std::printf("%6s  %-20s %-28s %-10s %16s %16s\n", number.c_str(), shown(e.type).c_str(),
                shown(e.idempotency_key.substr(0, 28)).c_str(), outcome.c_str(),
                format_credits(e.amount_micros).c_str(), format_credits(e.balance_after_micros).c_str());
  }
  if (next) std::printf("next page: --cursor %s\n", next->c_str());
  return exit_ok;
}

int run_limits(const Args& args) {
  ReadArgs read;
  po::options_description options("options");
  po::positional_options_description positional;
  add_read_options(options, positional, read);
  po::variables_map vm;
  if (auto code = parse_options("limits", "ORG [--data DIR] [--json]", args, options, vm, &positional)) return *code;
  std::unique_ptr<ViewReader> views;
  int code = exit_ok;
  auto org = load_org("limits", read, views, code);
  if (!org) return code;
  auto members = views->members(org->org_id);
  if (!members.is_ok()) return fail("limits", members.status());
  if (read.json) {
    boost::json::array list;
    for (const MemberView& m : members.value()) list.push_back(api::member_json(m));
    print_json(boost::json::object{{"members", std::move(list)}});
    return exit_ok;
  }
  std::printf("%-24s %16s %16s %-9s %s\n", "member", "monthly limit", "used", "month", "state");
  for (const MemberView& m : members.value()) {
    const auto ym = year_month(m.state.month);
    char month[16];
    std::snprintf(month, sizeof month, "%04lld-%02u", static_cast<long long>(ym.year), ym.month);
    std::printf("%-24s %16s %16s %-9s %s\n", shown(m.member_id.str()).c_str(),
                m.state.has_limit ? format_credits(m.state.monthly_limit_micros).c_str() : "none",
                format_credits(m.state.used_micros).c_str(), m.state.month >= 0 ? month : "-",
                m.state.exceeded ? "PAUSED (member_limit_exceeded)" : "ok");
  }
  return exit_ok;
}

int run_usage(const Args& args) {
  ReadArgs read;
  std::string group_by = "model";
  int64_t from_ms = 0;
  int64_t to_ms = INT64_MAX;
  po::options_description options("options");
  po::positional_options_description positional;
  add_read_options(options, positional, read);
  options.add_options()
      ("group-by", po::value(&group_by)->default_value("model"), usage_dimension_choices().c_str())
      ("from", po::value(&from_ms), "from this time (Unix ms, inclusive; whole UTC days)")
      ("to", po::value(&to_ms), "to this time (Unix ms, exclusive)");
  po::variables_map vm;
  if (auto code = parse_options("usage",
                                "ORG --group-by model|member|workspace|project|agent|provider|billing_path|day "
                                "[--from MS] [--to MS] [--json]",
                                args, options, vm, &positional)) {
    return *code;
  }
  if (!is_usage_dimension(group_by)) {
    return fail("usage", Status::invalid("--group-by", "must be " + usage_dimension_choices()));
  }
  std::unique_ptr<ViewReader> views;
  int code = exit_ok;
  auto org = load_org("usage", read, views, code);
  if (!org) return code;
  auto rollups = views->usage(org->org_id, from_ms, to_ms);
  if (!rollups.is_ok()) return fail("usage", rollups.status());
  struct Totals { int64_t events = 0, debited = 0, tracked = 0, input = 0, output = 0; };
  std::map<std::string, Totals> groups;
  for (const UsageRollup& r : rollups.value()) {
    Totals& t = groups[usage_group_key(r, group_by)];
    t.events += r.events;
    t.debited += r.debited_micros.value();
    t.tracked += r.tracked_cost_micros.value();
    t.input += r.input_tokens;
    t.output += r.output_tokens;
  }
  if (read.json) {
    boost::json::array list;
    for (const auto& [key, t] : groups) {
      list.push_back(boost::json::object{{"key", key}, {"events", t.events}, {"debited_micros", t.debited},
                                         {"debited", format_credits(t.debited)}, {"tracked_cost_micros", t.tracked},
                                         {"input_tokens", t.input}, {"output_tokens", t.output}});
    }
    print_json(boost::json::object{{"org_id", org->org_id}, {"group_by", group_by}, {"groups", std::move(list)}});
    return exit_ok;
  }
  std::printf("%-28s %10s %16s %16s %14s %14s\n", group_by.c_str(), "events", "debited", "tracked cost",
              "input tok", "output tok");
  for (const auto& [key, t] : groups) {
    std::printf("%-28s %10lld %16s %16s %14lld %14lld\n", key.empty() ? "(none)" : shown(key).c_str(),
                static_cast<long long>(t.events), format_credits(t.debited).c_str(), format_credits(t.tracked).c_str(),
                static_cast<long long>(t.input), static_cast<long long>(t.output));
  }
  return exit_ok;
}

const CommandRegistrar balance_registrar{{"balance", "show an org's balance, flags and totals", run_balance}};
const CommandRegistrar txns_registrar{{"txns", "list an org's transaction history, page by page", run_txns}};
const CommandRegistrar limits_registrar{{"limits", "show an org's member limits and their state", run_limits}};
const CommandRegistrar usage_registrar{
    {"usage", "usage attribution by model, member, workspace, project, agent, provider or billing path", run_usage}};

}  // namespace
}  // namespace tally::cli
