// The billing page over real HTTP (an in-process stack told the billing story): every number on
// the page against the API's JSON for the same org, the link rules (expired, altered, another
// org's, read-only), and the page's forms changing the views through the API's routes.
#include <boost/test/unit_test.hpp>

#include <chrono>
#include <regex>

#include <boost/json.hpp>

#include "api/billing_links.h"
#include "api/testing/billing_story_stack.h"

using namespace tally;
using namespace tally::api;
using namespace tally::api::testing;
namespace json = boost::json;

namespace {

const std::string link_secret = ApiStackOptions{}.billing_link_secret;
const std::vector<std::pair<std::string, std::string>> form_type = {{"Content-Type", "application/x-www-form-urlencoded"}};

int64_t micros(const json::value& object, std::string_view key) { return object.at(key).to_number<int64_t>(); }

// The data-micros (or data-value) of the element with id `id`; fails the test when there is none.
int64_t figure(const std::string& html, const std::string& id, const std::string& attribute = "data-micros") {
  const std::optional<int64_t> value = page_figure(html, id, attribute);
  BOOST_REQUIRE_MESSAGE(value.has_value(), "no #" << id << " with " << attribute << " on the page");
  return *value;
}

// The text of the element with id `id`.
std::string text_of(const std::string& html, const std::string& id) {
  const std::optional<std::string> text = page_text(html, id);
  BOOST_REQUIRE_MESSAGE(text.has_value(), "no #" << id << " on the page");
  return *text;
}

struct PageFixture : BillingStoryStack {
  // A link minted through the API by `token`.
  std::string mint(std::string_view token, bool read_only, int minutes = 10) {
    HttpReply reply = client->send("POST", "/api/v1/org/acme/billing-links", token,
                                   R"({"minutes":)" + std::to_string(minutes) + R"(,"read_only":)" + (read_only ? "true" : "false") + "}");
    BOOST_REQUIRE_MESSAGE(reply.status == 200, reply.body);
    const json::value link = reply.json();
    BOOST_TEST(link.at("url").as_string().ends_with(link.at("path").as_string()));
    BOOST_TEST(micros(link, "expires_at_ms") > now_ms() + (minutes - 1) * 60'000);
    return std::string(link.at("link").as_string());
  }
  HttpReply page(const std::string& token, const std::string& extra = "") {
    return client->send("GET", "/billing/acme?link=" + token + extra);
  }
  std::string page_html(const std::string& token, const std::string& extra = "") {
    HttpReply reply = page(token, extra);
    BOOST_REQUIRE_MESSAGE(reply.status == 200, reply.body);
    return reply.body;
  }
  HttpReply post_form(const std::string& what, const std::string& token, const std::string& body) {
    return client->send("POST", "/billing/acme/" + what + "?link=" + token, "", body, form_type);
  }
};

}  // namespace

BOOST_AUTO_TEST_CASE(the_prepaid_credits_card_shows_the_credits_json) {
  PageFixture f;
  const HttpReply reply = f.page(f.mint(owner_token, false));
  BOOST_REQUIRE_MESSAGE(reply.status == 200, reply.body);
  BOOST_TEST(reply.header("content-type").starts_with("text/html"));
  BOOST_TEST(reply.header("content-security-policy").starts_with("default-src 'none'"));
  BOOST_TEST(reply.header("referrer-policy") == "no-referrer");
  BOOST_TEST(reply.header("cache-control") == "no-store");
  const std::string& html = reply.body;
  const json::value credits = f.api("/api/v1/org/acme/credits");
  BOOST_TEST(figure(html, "balance") == micros(credits, "balance_micros"));
  BOOST_TEST(figure(html, "available") == micros(credits, "available_micros"));
  BOOST_TEST(micros(credits, "balance_micros") == 25'323'250'000);  // the story's arithmetic
  BOOST_TEST(text_of(html, "balance") == "25,323.25");
  // The held line says what the credits JSON says is held (SPEC §11).
  BOOST_REQUIRE(credits.as_object().contains("held_micros"));
  BOOST_TEST(figure(html, "held") == micros(credits, "held_micros"));
  BOOST_TEST(micros(credits, "held_micros") == 2'500'000);  // carol's hold in the story
  const std::string state = credits.at("paused").as_bool()           ? "paused"
                            : credits.at("is_exhausted").as_bool()   ? "exhausted"
                            : credits.at("is_low_balance").as_bool() ? "low"
                                                                     : "ok";
  BOOST_TEST(html.find("data-state=\"" + state + "\"") != std::string::npos);
  // No script, no resource from anywhere: the page is its own.
  BOOST_TEST(html.find("<script") == std::string::npos);
  BOOST_TEST(!std::regex_search(html, std::regex("(src|href)=\"(https?:)?//")));
}

BOOST_AUTO_TEST_CASE(auto_recharge_card_and_members_match_the_api) {
  PageFixture f;
  const std::string html = f.page_html(f.mint(owner_token, false));
  const json::value refill = f.api("/api/v1/org/acme/credits/auto-refill");
  BOOST_TEST(figure(html, "auto-refill-enabled", "data-value") == (refill.at("enabled").as_bool() ? 1 : 0));
  BOOST_TEST(figure(html, "auto-refill-threshold", "data-value") == micros(refill, "threshold_micros"));
  BOOST_TEST(figure(html, "auto-refill-amount", "data-value") == micros(refill, "refill_credits_micros"));
  BOOST_TEST(figure(html, "cap-day", "data-value") == micros(refill, "max_per_day"));
  BOOST_TEST(figure(html, "cap-month", "data-value") == micros(refill, "max_per_month"));
  BOOST_TEST(figure(html, "refills-today", "data-value") == micros(refill, "refills_used_today"));
  BOOST_TEST(figure(html, "refills-month", "data-value") == micros(refill, "refills_used_this_month"));
  BOOST_TEST(micros(refill, "refills_used_today") == 1);
  BOOST_TEST(text_of(html, "refills-month") == "1 of 5");

  const json::value card = f.api("/api/v1/org/acme/credits/payment-method");
  BOOST_TEST(text_of(html, "card-brand") == card.at("brand").as_string());
  BOOST_TEST(text_of(html, "card-last4") == card.at("last4").as_string());
  BOOST_TEST(text_of(html, "card-expiry") == "08/" + std::to_string(micros(card, "exp_year")));

  const json::array members = f.api("/api/v1/org/acme/credits/member-limits").at("members").as_array();
  BOOST_REQUIRE(members.size() == 2u);
  for (const json::value& m : members) {
    const std::string id(m.at("member_id").as_string());
    const std::regex row("<tr data-member=\"" + id + "\">.*?data-micros=\"(-?[0-9]+)\".*?data-micros=\"(-?[0-9]+)\"(.*?)</tr>");
    std::smatch match;
    BOOST_REQUIRE_MESSAGE(std::regex_search(html, match, row), "no row of member " << id);
    BOOST_TEST(std::stoll(match[1].str()) == (m.at("has_limit").as_bool() ? micros(m, "monthly_limit_micros") : -1));
    BOOST_TEST(std::stoll(match[2].str()) == micros(m, "used_micros"));
    BOOST_TEST((match[3].str().find("tag-paused") != std::string::npos) == m.at("exceeded").as_bool(), id);
  }
  BOOST_TEST(html.find("Paused: over its limit") != std::string::npos);  // bob
}

// SPEC §12 on the page: each grant with what is left and when it expires, as GET …/credits/grants
// says; the story's promotional grant (200 credits, priority 10, 4 days left) is drawn down first.
BOOST_AUTO_TEST_CASE(credit_grants_match_the_grants_route) {
  PageFixture f;
  const std::string html = f.page_html(f.mint(owner_token, false));
  const json::value grants = f.api("/api/v1/org/acme/credits/grants");
  BOOST_REQUIRE_EQUAL(grants.at("grants").as_array().size(), 4u);  // signup, checkout, promotion, refill
  for (const std::string& difference : grant_rows_differences(html, grants)) BOOST_ERROR(difference);
  // The promotion took all of the story's usage: 200 - (30 + 12.5 + 8 + 6.25 + 20) = 123.25 left,
  // the next credit to expire; the signup grant is whole.
  const json::value& first = grants.at("grants").at(0);
  BOOST_TEST(first.at("grant_id").as_string() == "promo-launch");
  BOOST_TEST(micros(first, "remaining_micros") == 123'250'000);
  BOOST_TEST(micros(grants.at("next_expiry"), "micros") == 123'250'000);
  BOOST_TEST(figure(html, "next-expiry") == 123'250'000);
  BOOST_TEST(html.find("expiring soon") != std::string::npos);
  for (const json::value& g : grants.at("grants").as_array()) {
    if (g.at("grant_id").as_string() == "signup") BOOST_TEST(micros(g, "remaining_micros") == 25'000'000'000);
  }
}

BOOST_AUTO_TEST_CASE(usage_of_the_last_30_days_matches_the_usage_route) {
  PageFixture f;
  const std::string html = f.page_html(f.mint(owner_token, false));
  std::smatch window;
  BOOST_REQUIRE(std::regex_search(html, window, std::regex("id=\"usage\" data-from=\"([0-9]+)\" data-to=\"([0-9]+)\"")));
  const std::string range = "&from=" + window[1].str() + "&to=" + window[2].str();
  for (const std::string group : {"model", "member"}) {
    const json::value usage = f.api("/api/v1/org/acme/usage?group_by=" + group + range);
    const json::array& groups = usage.at("groups").as_array();
    BOOST_TEST(groups.size() == 2u);
    for (const json::value& g : groups) {
      const std::string key(g.at("key").as_string());
      const std::regex cell("<table id=\"usage-" + group + "s\"[\\s\\S]*?data-key=\"" + key + "\" data-micros=\"([0-9]+)\"");
      std::smatch match;
      BOOST_REQUIRE_MESSAGE(std::regex_search(html, match, cell), "no " << group << " " << key);
      BOOST_TEST(std::stoll(match[1].str()) == micros(g, "debited_micros"), group << " " << key);
    }
    BOOST_TEST(figure(html, "usage-total") == micros(usage.at("total"), "debited_micros"));
  }
  // One bar per day; the bars add up to the total.
  int64_t bars = 0, days = 0;
  const std::regex bar("<rect [^>]*data-micros=\"([0-9]+)\"");
  for (auto it = std::sregex_iterator(html.begin(), html.end(), bar); it != std::sregex_iterator(); ++it, ++days) {
    bars += std::stoll((*it)[1].str());
  }
  BOOST_TEST(days == 30);
  BOOST_TEST(bars == figure(html, "usage-total"));
}

BOOST_AUTO_TEST_CASE(transactions_page_by_the_apis_cursor_and_download_as_csv) {
  PageFixture f;
  const std::string token = f.mint(owner_token, false);
  // 21 entries at least (the story has 9): more usage, so the history has a second page.
  for (int i = 0; i < 14; ++i) {
    const HttpReply r = f.client->send("POST", "/api/v1/events?wait=1", admin_token,
                                       R"({"type":"usage","idempotency_key":"more-)" + std::to_string(i) +
                                           R"(","org_id":"acme","occurred_at_ms":)" + std::to_string(now_ms()) +
                                           R"(,"member_id":"carol","meter":"llm_tokens","model":"gpt-5","reported_cost_micros":1000})");
    BOOST_REQUIRE_MESSAGE(r.status == 200, r.body);
  }
  std::string cursor;
  for (int page = 0; page < 2; ++page) {
    const json::value api = f.api("/api/v1/org/acme/credits/transactions?limit=20" + (cursor.empty() ? "" : "&cursor=" + cursor));
    const std::string html = f.page_html(token, cursor.empty() ? "" : "&cursor=" + cursor);
    for (const json::value& t : api.at("transactions").as_array()) {
      const std::regex row("<tr data-key=\"" + std::string(t.at("idempotency_key").as_string()) +
                           "\">.*?class=\"num amount\" data-micros=\"(-?[0-9]+)\"[^<]*</td><td class=\"num\" data-micros=\"(-?[0-9]+)\"");
      std::smatch match;
      BOOST_REQUIRE_MESSAGE(std::regex_search(html, match, row), "no row " << t.at("idempotency_key"));
      BOOST_TEST(std::stoll(match[1].str()) == micros(t, "amount_micros"));
      BOOST_TEST(std::stoll(match[2].str()) == micros(t, "balance_after_micros"));
    }
    const bool more = !api.at("next_cursor").is_null();
    BOOST_TEST((html.find("id=\"next-page\"") != std::string::npos) == more);
    if (!more) break;
    cursor = std::string(api.at("next_cursor").as_string());
    BOOST_TEST(page == 0);
  }
  BOOST_TEST(!cursor.empty(), "the history has a second page");
  const HttpReply csv = f.client->send("GET", "/billing/acme/transactions.csv?link=" + token);
  BOOST_REQUIRE_EQUAL(csv.status, 200);
  BOOST_TEST(csv.header("content-type").starts_with("text/csv"));
  BOOST_TEST(csv.body.find("evt_checkout_1") != std::string::npos);
  BOOST_TEST(csv.body.find("more-13") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(only_a_genuine_unexpired_link_of_this_org_opens_the_page) {
  PageFixture f;
  const std::string good = f.mint(owner_token, false);
  BOOST_TEST(f.page(good).status == 200);
  const auto code = [](const HttpReply& r) { return std::string(r.json().at("error").at("code").as_string()); };
  // Expired: signed right, a minute in the past.
  const std::string expired = mint_billing_link(link_secret, BillingLink{"acme", LinkScope::owner, now_ms() - 60'000});
  BOOST_TEST(f.page(expired).status == 401);
  BOOST_TEST(code(f.page(expired)) == "link_expired");
  // Tampered: a later expiry, the other scope, one changed signature digit, another secret, no link.
  std::string later = good;
  later.replace(later.find('.', 3) + 1, 1, "9");
  std::string read_to_owner = f.mint(owner_token, true);
  read_to_owner.replace(3, 4, "owner");
  std::string digit = good;
  digit.back() = digit.back() == '0' ? '1' : '0';
  const std::string other_secret =
      mint_billing_link("another-secret-0123456789", BillingLink{"acme", LinkScope::owner, now_ms() + 60'000});
  for (const std::string& bad : {later, read_to_owner, digit, other_secret, std::string()}) {
    const HttpReply r = f.page(bad);
    BOOST_TEST(r.status == 401, bad);
    BOOST_TEST(code(r) == "invalid_link", bad);
  }
  // Another org's link does not open acme's page.
  const std::string globex = mint_billing_link(link_secret, BillingLink{"globex", LinkScope::owner, now_ms() + 60'000});
  BOOST_TEST(f.page(globex).status == 401);
  // Minting: admin and the owner; not the reader, not another org's owner; minutes 1..1440.
  BOOST_TEST(f.client->send("POST", "/api/v1/org/acme/billing-links", admin_token, "{}").status == 200);
  BOOST_TEST(f.client->send("POST", "/api/v1/org/acme/billing-links", reader_token, "{}").status == 403);
  BOOST_TEST(f.client->send("POST", "/api/v1/org/acme/billing-links", globex_token, "{}").status == 403);
  const HttpReply too_long = f.client->send("POST", "/api/v1/org/acme/billing-links", owner_token, R"({"minutes":1441})");
  BOOST_TEST(too_long.status == 400);
  BOOST_TEST(too_long.json().at("error").at("field").as_string() == "minutes");
}

BOOST_AUTO_TEST_CASE(a_read_only_link_shows_the_page_but_every_change_is_403) {
  PageFixture f;
  const std::string token = f.mint(owner_token, true);
  const std::string html = f.page_html(token);
  BOOST_TEST(html.find("id=\"read-only\"") != std::string::npos);
  BOOST_TEST(html.find("<form") == std::string::npos);
  const std::string before = json::serialize(f.api("/api/v1/org/acme/credits/auto-refill").at("enabled"));
  const HttpReply refill = f.post_form("auto-refill", token, "threshold=5&refill_bundles=1");
  BOOST_TEST(refill.status == 403);
  BOOST_TEST(refill.json().at("error").at("message").as_string().find("read-only") != std::string::npos);
  BOOST_TEST(f.post_form("member-limits", token, "member_id=carol&action=set&monthly_limit=5").status == 403);
  BOOST_TEST(f.post_form("member-limits", token, "member_id=bob&action=clear").status == 403);
  BOOST_TEST(f.post_form("checkout", token, "quantity=1").status == 403);
  BOOST_TEST(json::serialize(f.api("/api/v1/org/acme/credits/auto-refill").at("enabled")) == before);
  BOOST_TEST(f.api("/api/v1/org/acme/credits/member-limits").at("members").at(0).at("has_limit").as_bool());  // bob kept his
  BOOST_TEST(f.payments->checkout_orders().size() == 1u);  // the story's only
}

BOOST_AUTO_TEST_CASE(the_forms_change_the_views_and_come_back_to_the_page) {
  PageFixture f;
  const std::string token = f.mint(owner_token, false);
  const std::string page = "/billing/acme?link=" + token;
  // Auto-recharge off (the box unchecked), keeping the amounts.
  HttpReply off = f.post_form("auto-refill", token, "threshold=25%2C030&refill_bundles=2&max_per_day=2&max_per_month=5");
  BOOST_REQUIRE_MESSAGE(off.status == 303, off.body);
  BOOST_TEST(off.header("location") == page);
  json::value refill = f.api("/api/v1/org/acme/credits/auto-refill");
  BOOST_TEST(!refill.at("enabled").as_bool());
  BOOST_TEST(micros(refill, "refill_bundles") == 2);
  BOOST_TEST(figure(f.page_html(token), "auto-refill-enabled", "data-value") == 0);
  // And on again with a new threshold.
  BOOST_REQUIRE_EQUAL(f.post_form("auto-refill", token, "enabled=on&threshold=100.5&refill_bundles=1&max_per_day=1&max_per_month=3").status, 303);
  refill = f.api("/api/v1/org/acme/credits/auto-refill");
  BOOST_TEST(refill.at("enabled").as_bool());
  BOOST_TEST(micros(refill, "threshold_micros") == 100'500'000);
  BOOST_TEST(figure(f.page_html(token), "auto-refill-threshold", "data-value") == 100'500'000);
  // A member limit set, then cleared.
  BOOST_REQUIRE_EQUAL(f.post_form("member-limits", token, "action=set&member_id=carol&monthly_limit=1%2C000").status, 303);
  const auto carol = [&] {
    const json::value limits = f.api("/api/v1/org/acme/credits/member-limits");
    for (const json::value& m : limits.at("members").as_array()) {
      if (m.at("member_id").as_string() == "carol") return m;
    }
    return json::value();
  };
  BOOST_TEST(micros(carol(), "monthly_limit_micros") == 1'000'000'000);
  BOOST_TEST(f.page_html(token).find("data-micros=\"1000000000\" data-label=\"Monthly limit\">1,000.00</td>") != std::string::npos);
  BOOST_REQUIRE_EQUAL(f.post_form("member-limits", token, "action=clear&member_id=carol").status, 303);
  BOOST_TEST(!carol().at("has_limit").as_bool());
  // Bad input names the field, as the API does.
  const HttpReply bad = f.post_form("member-limits", token, "action=set&member_id=carol&monthly_limit=lots");
  BOOST_TEST(bad.status == 400);
  BOOST_TEST(bad.json().at("error").at("field").as_string() == "monthly_limit");
  // Buying: to the provider's checkout, for the quantity chosen, coming back to the page.
  const HttpReply buy = f.post_form("checkout", token, "quantity=3");
  BOOST_REQUIRE_MESSAGE(buy.status == 303, buy.body);
  BOOST_TEST(buy.header("location").starts_with("https://checkout.example/cs_fake"));
  const std::vector<CheckoutOrder> orders = f.payments->checkout_orders();
  BOOST_TEST(orders.back().quote.bundles == 3);
  BOOST_TEST(orders.back().success_url.find(page) != std::string::npos);
}

BOOST_AUTO_TEST_CASE(text_from_the_ledger_is_escaped) {
  PageFixture f;
  const HttpReply r = f.client->send("POST", "/api/v1/events?wait=1", admin_token,
                                     R"({"type":"usage","idempotency_key":"x<i>","org_id":"acme","occurred_at_ms":)" +
                                         std::to_string(now_ms()) +
                                         R"(,"member_id":"bob","meter":"llm_tokens","model":"<img src=x onerror=alert(1)>\"'","reported_cost_micros":1})");
  BOOST_REQUIRE_MESSAGE(r.status == 200, r.body);
  const std::string html = f.page_html(f.mint(owner_token, false));
  BOOST_TEST(html.find("<img") == std::string::npos);
  BOOST_TEST(html.find("&lt;img src=x onerror=alert(1)&gt;&quot;&#39;") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(without_payments_the_page_says_buying_is_unavailable_and_an_unknown_org_is_404) {
  ApiStackOptions options;
  options.tokens = {admin_caller()};
  StackClient running;
  running.start(options);
  HttpClient& client = *running.client;
  const HttpReply signup = client.send("POST", "/api/v1/events?wait=1", admin_token,
                                       R"({"type":"signup_allocation","idempotency_key":"s","org_id":"acme","occurred_at_ms":)" +
                                           std::to_string(now_ms()) + R"(,"credits_micros":5000000})");
  BOOST_REQUIRE_MESSAGE(signup.status == 200, signup.body);
  const std::string token = mint_billing_link(link_secret, BillingLink{"acme", LinkScope::owner, now_ms() + 60'000});
  const HttpReply page = client.send("GET", "/billing/acme?link=" + token);
  BOOST_REQUIRE_EQUAL(page.status, 200);
  BOOST_TEST(page.body.find("id=\"buy-unavailable\"") != std::string::npos);
  BOOST_TEST(page.body.find("/checkout?") == std::string::npos);
  BOOST_TEST(page.body.find("no payment provider configured") != std::string::npos);
  // Checkout from a hand-made form answers as the API does.
  const HttpReply buy = client.send("POST", "/billing/acme/checkout?link=" + token, "", "quantity=1", form_type);
  BOOST_TEST(buy.status == 503);
  const std::string nobody = mint_billing_link(link_secret, BillingLink{"nobody", LinkScope::owner, now_ms() + 60'000});
  BOOST_TEST(client.send("GET", "/billing/nobody?link=" + nobody).status == 404);
}

BOOST_AUTO_TEST_CASE(without_a_secret_no_link_is_minted_and_the_page_is_closed) {
  ApiStackOptions options;
  options.tokens = {admin_caller()};
  options.billing_link_secret.clear();
  StackClient running;
  running.start(options);
  HttpClient& client = *running.client;
  const HttpReply mint = client.send("POST", "/api/v1/org/acme/billing-links", admin_token, "{}");
  BOOST_TEST(mint.status == 503);
  BOOST_TEST(mint.json().at("error").at("code").as_string() == "billing_links_not_configured");
  const std::string forged = mint_billing_link("x", BillingLink{"acme", LinkScope::owner, now_ms() + 60'000});
  BOOST_TEST(client.send("GET", "/billing/acme?link=" + forged).status == 401);
}
