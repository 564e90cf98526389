// Test support: the billing page's story (seeds 002 and 004) told to an in-process stack over
// HTTP, so the page has something of every kind to show — a signup allocation of 25,000 credits, a
// checkout whose purchase saved a card, a promotional grant of 200 credits expiring in 4 days, usage by two members and two models over several days,
// auto-recharge that fired today (one refill against its caps), and a member over its monthly
// limit (paused).
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <boost/json/value.hpp>

#include "api/testing/api_stack.h"
#include "api/testing/fake_payments.h"
#include "engine/status.h"

namespace tally::api::testing {

struct BillingStoryTokens {
  std::string admin;  // an admin token of the stack
  std::string owner;  // the org:<org> token of the stack
};

inline constexpr std::string_view billing_story_org = "acme";

// The commerce options the story needs: FakePayments with the card the first checkout saves
// (cus_fake1: visa 4242, 08/2030).
CommerceOptions billing_story_commerce(const std::shared_ptr<FakePayments>& payments);

// The page's figure with id `id`: the integer in its `attribute` (data-micros, data-value), or
// nullopt when the page has no such element. The page writes them as id="…" attribute="…".
std::optional<int64_t> page_figure(const std::string& html, const std::string& id,
                                   const std::string& attribute = "data-micros");
// The text of the element with id `id` (up to its first tag), or nullopt.
std::optional<std::string> page_text(const std::string& html, const std::string& id);

// How the story's payments complete. Unset (an in-process stack with FakePayments): the story
// appends the Purchase a provider's webhook would append, and the AutoRefill the recharge
// connector would. Set (a running `tally dev` on a Stripe): the checkout's signed webhook, and the
// node's own recharge connector charging the saved card.
struct BillingStoryPayments {
  // The customer paid checkout session `session_id`; `at_ms` is when (the purchase's time).
  std::function<Status(const std::string& session_id, int64_t at_ms)> complete_checkout;
  // The story's usage requested a recharge: returns once its AutoRefill has landed.
  std::function<Status()> land_refill;
};

// Where the page's credit grants (its table#grants rows: id, status, granted, left, expired,
// expiry) differ from GET …/credits/grants `api`: one line per difference, empty when they agree.
// Also checks that every grant of the API has a row, and the next expiry.
std::vector<std::string> grant_rows_differences(const std::string& html, const boost::json::value& api);

// Tells the story to org "acme". REQUIRES: a fresh stack started with billing_story_commerce(), or
// `payments` set for a node with a payment provider. Errors: the first request that did not
// answer as the story expects, with its answer.
Status tell_billing_story(HttpClient& client, const BillingStoryTokens& tokens, const BillingStoryPayments& payments = {});

}  // namespace tally::api::testing
