// The billing page's reads: the views through the ViewReader (as api/read_routes.cpp reads them),
// shaped by the API's own JSON helpers, and the saved card from the payment provider.
#include "api/billing_page.h"
#include "api/commerce_shared.h"
#include "api/grant_json.h"
#include "api/view_json.h"
#include "engine/calendar.h"
#include "engine/limits.h"

namespace tally::api {
namespace {

constexpr int64_t day_ms = 86'400'000;

Status read_usage(ApiContext& ctx, const OrgView& org, int64_t now_ms, BillingUsage& usage) {
  const int64_t today = utc_day(now_ms);
  const int64_t first_day = today - (billing_usage_days - 1);
  usage.from_ms = first_day * day_ms;
  usage.to_ms = now_ms;
  usage.debited_by_day.assign(static_cast<std::size_t>(billing_usage_days), 0);
  Result<std::vector<UsageRollup>> rollups = ctx.views.usage(org.org_id, usage.from_ms, usage.to_ms);
  if (!rollups.is_ok()) return rollups.status();
  for (const UsageRollup& r : rollups.value()) {
    const int64_t debited = r.debited_micros.value();
    if (r.day >= first_day && r.day <= today) usage.debited_by_day[static_cast<std::size_t>(r.day - first_day)] += debited;
    usage.debited_by_model[r.model.empty() ? "(none)" : r.model] += debited;
    usage.debited_by_member[r.member_id.empty() ? "(none)" : r.member_id] += debited;
    usage.debited_total += debited;
  }
  return Status::ok();
}

Status read_history(ApiContext& ctx, const OrgView& org, std::string_view cursor, BillingPageData& data) {
  HistoryQuery query;
  query.org_id = org.org_id;
  query.limit = billing_history_page_size;
  if (Status s = apply_transactions_cursor(cursor.empty() ? std::nullopt : std::optional(cursor), query); !s.is_ok()) {
    return s;
  }
  Result<HistoryPage> page = ctx.views.history(query);
  if (!page.is_ok()) return page.status();
  data.history = std::move(page->entries);
  data.next_cursor = next_transactions_cursor(page.value());
  data.cursor = std::string(cursor);
  return Status::ok();
}

// The saved card, or why there is none. A provider failure is a note on the page, not a failed page.
void read_card(ApiContext& ctx, const OrgView& org, BillingPageData& data) {
  if (!ctx.options.commerce) {
    data.card_note = "This server has no payment provider configured.";
    return;
  }
  const CommerceOptions& commerce = *ctx.options.commerce;
  data.price = BillingPrice{commerce.offer.credits_per_bundle.value(), commerce.offer.unit_amount_minor,
                            commerce.offer.currency};
  const std::string& customer = charged_customer(org.state);
  if (customer.empty()) {
    data.card_note = "No saved card yet: the first purchase saves one.";
    return;
  }
  Result<std::optional<PaymentCard>> card = commerce.provider->saved_card(customer);
  if (!card.is_ok()) {
    data.card_note = "The payment provider did not answer: " + card.status().message();
  } else if (!card->has_value()) {
    data.card_note = "No saved card.";
  } else {
    data.card = card->value();
  }
}

}  // namespace

Result<BillingPageData> read_billing_page(ApiContext& ctx, const BillingLink& link, std::string link_token,
                                          std::string_view cursor) {
  BillingPageData data;
  data.org = link.org;
  data.link = link;
  data.link_token = std::move(link_token);
  data.now_ms = now_unix_ms();
  // Partitions first, the org second, as GET …/credits does: `as_of` is then a lower bound.
  Result<std::vector<PartitionView>> partitions = ctx.views.partitions();
  if (!partitions.is_ok()) return partitions.status();
  Result<std::optional<OrgView>> view = ctx.views.org(OrgId::make(link.org).value());  // the link checked it
  if (!view.is_ok()) return view.status();
  if (!view.value()) return Status::error(Status::Code::not_found, "org", "no org " + link.org + " in the ledger");
  const OrgView& org = *view.value();
  std::optional<LogPosition> as_of;
  for (const PartitionView& p : partitions.value()) {
    if (p.partition == org.state.home_partition) as_of = LogPosition{p.partition, p.next_offset};
  }
  data.credits = credits_json(org, as_of);
  data.auto_refill = auto_refill_json(org.state, data.now_ms);
  Result<boost::json::object> grants = grants_json(ctx.views, org, false);
  if (!grants.is_ok()) return grants.status();
  data.grants = std::move(grants.value());
  Result<std::vector<MemberView>> members = ctx.views.members(org.org_id);
  if (!members.is_ok()) return members.status();
  data.members = std::move(members.value());
  if (Status s = read_usage(ctx, org, data.now_ms, data.usage); !s.is_ok()) return s;
  if (Status s = read_history(ctx, org, cursor, data); !s.is_ok()) return s;
  read_card(ctx, org, data);
  return data;
}

std::string billing_page_path(const std::string& org, const std::string& link_token) {
  return "/billing/" + org + "?link=" + link_token;  // both are [A-Za-z0-9._@+-]: no encoding needed
}

}  // namespace tally::api
