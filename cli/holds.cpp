// `tally holds ORG --data DIR [--json]`: an org's active holds (SPEC §11) — who holds what, how
// much is left of each and until when — with the org's balance, held and available credits.
// Reads the views read-only, as the other read commands do; ledger text is made printable.
#include <boost/json.hpp>
#include <cstdio>

#include "api/view_json.h"
#include "audit/text_format.h"
#include "cli/cli_util.h"
#include "engine/money.h"

namespace tally::cli {
namespace {

int run_holds(const Args& args) {
  std::string org_text;
  std::string data = "tally-data";
  bool json = false;
  po::options_description options("options");
  options.add_options()
      ("org", po::value(&org_text)->required(), "org id")
      ("data", po::value(&data)->default_value("tally-data"), "data directory (of tally dev / serve)")
      ("json", po::bool_switch(&json), "print JSON (as GET .../credits/holds) instead of a table");
  po::positional_options_description positional;
  positional.add("org", 1);
  po::variables_map vm;
  if (auto code = parse_options("holds", "ORG [--data DIR] [--json]", args, options, vm, &positional)) return *code;
  const Result<OrgId> id = OrgId::make(org_text);
  if (!id.is_ok()) return fail("holds", id.status());
  auto views = open_views(data);
  if (!views.is_ok()) return fail("holds", views.status());
  auto org = views.value()->org(id.value());
  if (!org.is_ok()) return fail("holds", org.status());
  if (!org.value()) return fail("holds", Status::error(Status::Code::not_found, "no org '" + org_text + "' in the ledger"));
  const OrgState& s = org.value()->state;
  if (json) {
    boost::json::array holds;
    for (const auto& [hold_id, hold] : s.holds) holds.push_back(api::hold_json(hold_id, hold));
    boost::json::object out{{"org_id", org_text}, {"held_micros", s.held_micros.value()},
                            {"available_micros", api::available_micros(s)}, {"holds", std::move(holds)}};
    std::printf("%s\n", boost::json::serialize(out).c_str());
    return exit_ok;
  }
  std::printf("balance %s  held %s  available %s credits\n", format_credits(s.balance_micros).c_str(),
              format_credits(s.held_micros).c_str(), format_credits(api::available_micros(s)).c_str());
  if (s.holds.empty()) {
    std::printf("no active holds\n");
    return exit_ok;
  }
  std::printf("%-28s %-16s %16s %16s %16s\n", "hold", "member", "granted", "remaining", "expires_at_ms");
  for (const auto& [hold_id, hold] : s.holds) {
    std::printf("%-28s %-16s %16s %16s %16lld\n", audit::printable_text(hold_id).c_str(),
                audit::printable_text(hold.member_id).c_str(), format_credits(hold.granted_micros).c_str(),
                format_credits(hold.remaining_micros).c_str(), static_cast<long long>(hold.expires_at_ms));
  }
  return exit_ok;
}

const CommandRegistrar holds_registrar{{"holds", "show an org's active holds, held and available credits", run_holds}};

}  // namespace
}  // namespace tally::cli
