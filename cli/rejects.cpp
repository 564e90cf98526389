// `tally rejects [ORG] --data DIR [--limit N] [--cursor P:O] [--json]`: an org's rejected events
// (GET /api/v1/org/{org}/rejects), or without ORG the records no org can claim (undecodable,
// damaged journal frames; GET /api/v1/rejects), page by page in log order. A table for people,
// --json for machines (the HTTP API's JSON). Read-only, never blocking a running projector.
#include <boost/json.hpp>
#include <cstdio>

#include "api/view_json.h"
#include "audit/text_format.h"
#include "cli/cli_util.h"

namespace tally::cli {
namespace {

// Ledger text as the terminal may show it, cut to `width` bytes.
std::string shown(std::string_view text, std::size_t width) { return audit::printable_text(text.substr(0, width)); }

void print_table(const RejectPage& page) {
  std::printf("%-12s %-15s %-20s %-28s %-22s %s\n", "position", "placement", "type", "key", "reason", "detail");
  for (const OrgReject& reject : page.rejects) {
    const HistoryEntry& e = reject.entry;
    std::printf("%-12s %-15s %-20s %-28s %-22s %s\n", e.position.to_string().c_str(),
                reject_placement_name(reject.placement), e.type.empty() ? "-" : shown(e.type, 20).c_str(),
                e.idempotency_key.empty() ? "-" : shown(e.idempotency_key, 28).c_str(), reject_reason_name(e.reason),
                shown(e.detail, 200).c_str());
  }
  if (page.next) std::printf("next page: --cursor %s\n", page.next->to_string().c_str());
}

int run_rejects(const Args& args) {
  std::string org;
  std::string data = "tally-data";
  std::string cursor;
  std::size_t limit = 20;
  bool json = false;
  po::options_description options("options");
  options.add_options()
      ("org", po::value(&org), "org id (none: the records with no readable org)")
      ("data", po::value(&data)->default_value("tally-data"), "data directory (of tally dev / serve)")
      ("limit", po::value(&limit)->default_value(20), "rejects per page (1..1000)")
      ("cursor", po::value(&cursor), "start at this position (next page of an earlier call)")
      ("json", po::bool_switch(&json), "print JSON (as the HTTP API) instead of a table");
  po::positional_options_description positional;
  positional.add("org", 1);
  po::variables_map vm;
  if (auto code = parse_options("rejects", "[ORG] [--data DIR] [--limit N] [--cursor P:O] [--json]", args, options,
                                vm, &positional)) {
    return *code;
  }
  if (limit < 1 || limit > org_rejects_page_max) return fail("rejects", Status::invalid("--limit", "must be 1..1000"));
  RejectQuery query;
  query.limit = limit;
  if (!org.empty()) {
    const Result<OrgId> id = OrgId::make(org);
    if (!id.is_ok()) return fail("rejects", Status::invalid("ORG", id.status().message()));
    query.org_id = org;
  }
  if (!cursor.empty()) {
    Result<LogPosition> from = api::position_from_text(cursor, "--cursor");
    if (!from.is_ok()) return fail("rejects", from.status());
    query.from = from.value();
  }
  auto views = open_views(data);
  if (!views.is_ok()) return fail("rejects", views.status());
  Result<RejectPage> page = views.value()->org_rejects(query);
  if (!page.is_ok()) return fail("rejects", page.status());
  if (!json) {
    print_table(page.value());
    return exit_ok;
  }
  boost::json::array list;
  for (const OrgReject& reject : page->rejects) list.push_back(api::reject_json(reject, org));
  boost::json::object out{{"rejects", std::move(list)}};
  if (!org.empty()) out["org_id"] = org;
  out["next_cursor"] = page->next ? boost::json::value(page->next->to_string()) : boost::json::value(nullptr);
  std::printf("%s\n", boost::json::serialize(out).c_str());
  return exit_ok;
}

const CommandRegistrar registrar{{"rejects", "list an org's rejected events (no ORG: records of no org)", run_rejects}};

}  // namespace
}  // namespace tally::cli
