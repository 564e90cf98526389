// `tally grants ORG --data DIR [--json] [--consumptions]`: an org's credit grants (SPEC §12) — what
// each was, what made it, its category, priority and expiry, and where its credit went (consumed,
// expired, voided, refunded, remaining) — with the org's credit by category and its next expiry.
// --json prints GET .../credits/grants (with the consumptions when asked). Reads the views
// read-only, as the other read commands do; ledger text is made printable.
#include <boost/json.hpp>
#include <cstdio>

#include "api/grant_json.h"
#include "audit/text_format.h"
#include "cli/cli_util.h"
#include "engine/money.h"

namespace tally::cli {
namespace {

std::string expiry_text(int64_t expires_at_ms) {
  return expires_at_ms == 0 ? std::string("never") : std::to_string(expires_at_ms);
}

void print_table(const OrgState& s, const std::vector<Grant>& closed) {
  std::printf("balance %s credits  overdraft %s  expired %s  voided %s\n", format_credits(s.balance_micros).c_str(),
              format_credits(s.overdraft_micros).c_str(), format_credits(s.totals.expired_micros).c_str(),
              format_credits(s.totals.voided_micros).c_str());
  if (s.grants.empty() && closed.empty()) {
    std::printf("no grants\n");
    return;
  }
  std::printf("%-24s %-7s %-12s %3s %-14s %14s %14s %14s %14s %14s %14s\n", "grant", "status", "category", "pri",
              "expires_at_ms", "original", "remaining", "consumed", "expired", "voided", "refunded");
  const auto row = [](const Grant& g, const char* status) {
    std::printf("%-24s %-7s %-12s %3d %-14s %14s %14s %14s %14s %14s %14s\n", audit::printable_text(g.id).c_str(), status,
                grant_category_name(g.category), g.priority, expiry_text(g.expires_at_ms).c_str(),
                format_credits(g.original_micros).c_str(), format_credits(g.remaining_micros).c_str(),
                format_credits(g.consumed_micros).c_str(), format_credits(g.expired_micros).c_str(),
                format_credits(g.voided_micros).c_str(), format_credits(g.refunded_micros).c_str());
  };
  for (const Grant& g : s.grants) row(g, "active");
  for (const Grant& g : closed) row(g, "closed");
}

int run_grants(const Args& args) {
  std::string org_text;
  std::string data = "tally-data";
  bool json = false;
  bool consumptions = false;
  po::options_description options("options");
  options.add_options()
      ("org", po::value(&org_text)->required(), "org id")
      ("data", po::value(&data)->default_value("tally-data"), "data directory (of tally dev / serve)")
      ("json", po::bool_switch(&json), "print JSON (as GET .../credits/grants) instead of a table")
      ("consumptions", po::bool_switch(&consumptions), "with --json: each grant's consumptions (reads the history)");
  po::positional_options_description positional;
  positional.add("org", 1);
  po::variables_map vm;
  if (auto code = parse_options("grants", "ORG [--data DIR] [--json [--consumptions]]", args, options, vm, &positional)) {
    return *code;
  }
  const Result<OrgId> id = OrgId::make(org_text);
  if (!id.is_ok()) return fail("grants", id.status());
  auto views = open_views(data);
  if (!views.is_ok()) return fail("grants", views.status());
  auto org = views.value()->org(id.value());
  if (!org.is_ok()) return fail("grants", org.status());
  if (!org.value()) return fail("grants", Status::error(Status::Code::not_found, "no org '" + org_text + "' in the ledger"));
  if (json) {
    Result<boost::json::object> out = api::grants_json(*views.value(), *org.value(), consumptions);
    if (!out.is_ok()) return fail("grants", out.status());
    std::printf("%s\n", boost::json::serialize(out.value()).c_str());
    return exit_ok;
  }
  Result<std::vector<Grant>> closed = views.value()->closed_grants(id.value());
  if (!closed.is_ok()) return fail("grants", closed.status());
  print_table(org.value()->state, closed.value());
  return exit_ok;
}

const CommandRegistrar grants_registrar{{"grants", "show an org's credit grants and where their credit went", run_grants}};

}  // namespace
}  // namespace tally::cli
