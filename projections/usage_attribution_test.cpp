// Usage attribution through the projector (SPEC §14): roll-ups keyed by project, agent, provider
// and billing path too, and the billing path of each usage entry resolved by the workspace
// settings (org mode credits, workspace w2 byok, office o1 of w2 credits, an explicit path wins).
#include <boost/test/unit_test.hpp>

#include <cstdlib>
#include <filesystem>
#include <map>

#include "engine/event_factory.h"
#include "projections/projector.h"
#include "projections/testkit.h"
#include "projections/usage_groups.h"
#include "projections/view_checks.h"
#include "projections/views.h"
#include "tests/support/temp_dir.h"

using namespace tally;
using testkit::MemoryLog;
using testkit::ok;

namespace {

constexpr int64_t cr = 1'000'000;
constexpr int64_t t0 = 1'700'000'000'000;  // 2023-11-14: in the past, as the log's append time requires

using test_support::TempDir;

struct Call {
  std::string key, workspace, project, agent, provider;
  int64_t reported_micros = 0;
  fb::BillingPath path = fb::BillingPath::unset;
};

// Sums a roll-up dimension: group -> debited µcr.
std::map<std::string, int64_t> debited_by(const std::vector<UsageRollup>& rollups, std::string_view dimension) {
  std::map<std::string, int64_t> out;
  for (const UsageRollup& r : rollups) out[usage_group_key(r, dimension)] += r.debited_micros.value();
  return out;
}

}  // namespace

BOOST_AUTO_TEST_CASE(usage_lands_on_the_path_of_its_workspace_and_rolls_up_by_every_dimension) {
  TempDir dir;
  MemoryLog log(2);
  const std::string org = "acme";
  int64_t t = t0;
  log.append(org, make_org_opened(EventHeader{"open", org, ++t}, Plan::pro, BillingMode::credits));
  log.append(org, make_signup_allocation(EventHeader{"signup", org, ++t}, 1'000 * cr));
  log.append(org, make_workspace_billing_set(EventHeader{"w2", org, ++t}, "w2", "", BillingPath::byok));
  log.append(org, make_workspace_billing_set(EventHeader{"w2-o1", org, ++t}, "w2", "o1", BillingPath::credits));
  // Reported costs bill at 1× before any rate card; byok debits nothing (no BYOK fee).
  const std::vector<Call> calls = {
      {"c1", "w1", "", "agent-a", "anthropic", 1 * cr},                          // org mode: credits
      {"c2", "w2", "o2", "agent-a", "anthropic", 2 * cr},                        // w2: byok
      {"c3", "w2", "o1", "agent-b", "openrouter", 4 * cr},                       // (w2, o1): credits
      {"c4", "w2", "o1", "agent-b", "openrouter", 8 * cr, fb::BillingPath::byok},  // explicit wins
      {"c5", "w2", "o2", "agent-c", "anthropic", 16 * cr, fb::BillingPath::credits},
  };
  for (const Call& c : calls) {
    UsageFields u{.member_id = "bob", .workspace = c.workspace, .project = c.project, .agent_id = c.agent,
                  .meter = fb::Meter::llm_tokens, .model = "m1", .provider = c.provider, .billing_path = c.path,
                  .reported_cost_micros = c.reported_micros};
    log.append(org, make_usage(EventHeader{c.key, org, ++t}, u));
  }
  auto views = testkit::project_views(dir.path(), log);

  // Each entry shows the path it was billed by.
  std::map<std::string, std::string> path_of;
  ok(views->for_each_history(OrgId::make(org).value(), INT64_MIN, INT64_MAX, [&](const HistoryEntry& e) {
    if (e.type == "usage") path_of[e.idempotency_key] = e.billing_path;
    return true;
  }));
  const std::map<std::string, std::string> expected_paths = {
      {"c1", "credits"}, {"c2", "byok"}, {"c3", "credits"}, {"c4", "byok"}, {"c5", "credits"}};
  BOOST_TEST(path_of == expected_paths);
  // Debited: 1 + 4 + 16 = 21 credits of 1,000.
  const OrgView acme = *ok(views->org(OrgId::make(org).value()));
  BOOST_TEST(acme.state.balance_micros.value() == 979 * cr);

  const std::vector<UsageRollup> rollups = ok(views->usage(OrgId::make(org).value(), INT64_MIN, INT64_MAX));
  BOOST_TEST((debited_by(rollups, "billing_path") == std::map<std::string, int64_t>{{"byok", 0}, {"credits", 21 * cr}}));
  BOOST_TEST((debited_by(rollups, "project") == std::map<std::string, int64_t>{{"", 1 * cr}, {"o1", 4 * cr}, {"o2", 16 * cr}}));
  BOOST_TEST((debited_by(rollups, "agent") ==
              std::map<std::string, int64_t>{{"agent-a", 1 * cr}, {"agent-b", 4 * cr}, {"agent-c", 16 * cr}}));
  BOOST_TEST((debited_by(rollups, "provider") ==
              std::map<std::string, int64_t>{{"anthropic", 17 * cr}, {"openrouter", 4 * cr}}));
  BOOST_TEST((debited_by(rollups, "workspace") == std::map<std::string, int64_t>{{"w1", 1 * cr}, {"w2", 20 * cr}}));
  // The tracked cost of byok usage is the provider's: 2 + 8 credits.
  int64_t byok_tracked = 0;
  for (const UsageRollup& r : rollups) {
    if (r.billing_path == "byok") byok_tracked += r.tracked_cost_micros.value();
  }
  BOOST_TEST(byok_tracked == 10 * cr);
}

BOOST_AUTO_TEST_CASE(the_dimensions_are_named_once) {
  for (std::string_view d : usage_dimensions) BOOST_TEST(is_usage_dimension(d));
  BOOST_TEST(!is_usage_dimension("team"));
  BOOST_TEST(usage_dimension_choices() == "model, member, workspace, project, agent, provider, billing_path or day");
  UsageRollup r;
  r.day = 20'397;  // 2025-11-05
  BOOST_TEST(usage_group_key(r, "day") == "2025-11-05");
}
