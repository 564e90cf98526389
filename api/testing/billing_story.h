// Test support: the billing page's story (seeds 002 and 004) told to an in-process stack over
// HTTP, so the page has something of every kind to show — a signup allocation of 25,000 credits, a
// checkout whose purchase saved a card, usage by two members and two models over several days,
// auto-recharge that fired today (one refill against its caps), and a member over its monthly
// limit (paused).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

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

// Tells the story to org "acme". REQUIRES: a fresh stack started with billing_story_commerce().
// Errors: the first request that did not answer as the story expects, with its answer.
Status tell_billing_story(HttpClient& client, const BillingStoryTokens& tokens);

}  // namespace tally::api::testing
