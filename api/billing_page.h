// The billing page (GET /billing/{org}): what seeds 002 and 004 show an org's users — the prepaid
// credits card (balance, available, held when the views carry holds, low / exhausted / paused), the
// credit grants with what is left of each and when it expires,
// buying credits, auto-recharge, the saved card, member limits, usage of the last 30 days and the
// transaction history — read from the views in one request and rendered as one self-contained
// HTML page (inline CSS and SVG, no script, no external request). Internal to api/.
//
// Every number comes from the same JSON helpers the API answers with (api/view_json.h), so the page
// and GET …/credits, …/auto-refill, …/member-limits, …/usage, …/transactions agree; each figure
// carries its exact value in a data-micros attribute (tests and embedders read it).
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <boost/json/object.hpp>

#include "api/api_context.h"
#include "api/billing_links.h"
#include "api/commerce.h"
#include "projections/views.h"

namespace tally::api {

inline constexpr int64_t billing_usage_days = 30;              // the usage chart's window, UTC days
inline constexpr std::size_t billing_history_page_size = 20;   // transactions per page

struct BillingUsage {
  int64_t from_ms = 0;  // the first day shown, 00:00 UTC
  int64_t to_ms = 0;    // now: GET …/usage?from=&to= gives the same totals
  std::vector<int64_t> debited_by_day;  // billing_usage_days entries, oldest first, micros
  std::map<std::string, int64_t> debited_by_model;
  std::map<std::string, int64_t> debited_by_member;
  int64_t debited_total = 0;
};

struct BillingPrice {
  int64_t credits_per_bundle_micros = 0;
  int64_t unit_amount_minor = 0;
  std::string currency;
};

struct BillingPageData {
  std::string org;
  BillingLink link;
  std::string link_token;
  int64_t now_ms = 0;
  boost::json::object credits;      // credits_json
  boost::json::object auto_refill;  // auto_refill_json
  boost::json::object grants;       // grants_json without consumptions (GET …/credits/grants)
  std::vector<MemberView> members;
  std::optional<BillingPrice> price;       // nullopt: this server sells no credits
  std::optional<PaymentCard> card;         // the card auto-refill charges
  std::string card_note;                   // why there is no card (or the provider's failure)
  std::vector<HistoryEntry> history;       // this page of transactions, oldest first
  std::string cursor;                      // the page shown ("" = the first)
  std::optional<std::string> next_cursor;  // the next page, if any
  BillingUsage usage;
};

// Reads everything the page shows. Blocking (asks the payment provider for the saved card).
// Errors: not_found (no such org), invalid_argument (field "cursor"), the views' errors.
Result<BillingPageData> read_billing_page(ApiContext& ctx, const BillingLink& link, std::string link_token,
                                          std::string_view cursor);

// The whole page. Pure.
std::string render_billing_page(const BillingPageData& data);

// Sections of the page (billing_page_render.cpp, billing_page_usage.cpp), appended to `out`.
void render_usage_section(const BillingPageData& data, std::string& out);
void render_grants_section(const BillingPageData& data, std::string& out);
void render_history_section(const BillingPageData& data, std::string& out);

// "/billing/<org>?link=<token>": the page's own address (forms post beside it).
std::string billing_page_path(const std::string& org, const std::string& link_token);

}  // namespace tally::api
