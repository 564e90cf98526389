// The billing page in a real browser: headless Chromium (Debian `chromium`, scripts/setup) loads
// the page of an in-process stack told the billing story, with every host but the stack's
// unresolvable and a NetLog of every request it makes. The rendered DOM (--dump-dom) must show the
// API's numbers, the browser must have asked nothing of any other host, and screenshots at 375 and
// 1280 px wide are kept in BUILD/artifacts/ (docs/billing-page.png is the 1280 one).
//
// Skipped (ctest SKIP_REGULAR_EXPRESSION "billing_browser_test: skipped") only when Chromium is
// not installed or cannot start here; set TALLY_CHROMIUM to use another binary.
#define BOOST_TEST_MODULE billing_browser_test
#include <boost/test/unit_test.hpp>

#include <array>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <regex>
#include <set>
#include <sstream>

#include <boost/json.hpp>

#include "api/testing/billing_story_stack.h"

using namespace tally;
using namespace tally::api;
using namespace tally::api::testing;
namespace json = boost::json;
namespace fs = std::filesystem;

namespace {

constexpr int chromium_timeout_s = 90;

std::string chromium_binary() {
  const char* chosen = std::getenv("TALLY_CHROMIUM");
  return chosen != nullptr && *chosen != '\0' ? chosen : "chromium";
}

fs::path artifacts_dir() {
  const char* binary = std::getenv("TALLY_BINARY_DIR");
  fs::path dir = fs::path(binary != nullptr ? binary : ".") / "artifacts";
  fs::create_directories(dir);
  return dir;
}

// Runs a shell command and returns its standard output (its standard error goes to `log`).
std::string run(const std::string& command, const fs::path& log, int& status) {
  std::string out;
  FILE* pipe = popen((command + " 2>>" + log.string()).c_str(), "r");
  if (pipe == nullptr) {
    status = -1;
    return out;
  }
  std::array<char, 65536> buffer{};
  std::size_t n = 0;
  while ((n = fread(buffer.data(), 1, buffer.size(), pipe)) > 0) out.append(buffer.data(), n);
  status = pclose(pipe);
  return out;
}

struct Browser {
  fs::path profile;
  fs::path log;
  uint16_t port = 0;

  // The flags of every run: headless, no GPU, no sandbox (containers), a throwaway profile, no
  // background requests of Chromium's own, and no host but loopback resolvable.
  std::string command(const std::string& extra) const {
    return "timeout " + std::to_string(chromium_timeout_s) + " " + chromium_binary() +
           " --headless --disable-gpu --no-sandbox --no-first-run --no-default-browser-check --disable-extensions"
           " --disable-background-networking --disable-component-update --disable-sync --disable-default-apps"
           " --disable-features=Translate,OptimizationHints,MediaRouter,AutofillServerCommunication,NetworkTimeServiceQuerying --hide-scrollbars --user-data-dir=" +
           profile.string() + " \"--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1\" " + extra;
  }
  // Whether Chromium starts and renders a page here at all.
  bool starts() const {
    int status = 0;
    const std::string dom = run(command("--dump-dom 'data:text/html,<p id=x>tally</p>'"), log, status);
    return status == 0 && dom.find("tally") != std::string::npos;
  }
  std::string dump_dom(const std::string& url, const fs::path& net_log, int& status) const {
    return run(command("--log-net-log=" + net_log.string() + " --dump-dom '" + url + "'"), log, status);
  }
  bool screenshot(const std::string& url, const fs::path& png, int width, int height) const {
    int status = 0;
    fs::remove(png);
    run(command("--screenshot=" + png.string() + " --window-size=" + std::to_string(width) + "," +
                std::to_string(height) + " '" + url + "'"),
        log, status);
    return status == 0 && fs::exists(png) && fs::file_size(png) > 1000;
  }
};

std::string read_text(const fs::path& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

int64_t micros(const json::value& object, std::string_view key) { return object.at(key).to_number<int64_t>(); }

void check_dom_against_the_api(BillingStoryStack& s, const std::string& dom) {
  const json::value credits = s.api("/api/v1/org/acme/credits");
  BOOST_TEST(page_figure(dom, "balance").value_or(-1) == micros(credits, "balance_micros"));
  BOOST_TEST(page_figure(dom, "available").value_or(-1) == micros(credits, "available_micros"));
  const json::value refill = s.api("/api/v1/org/acme/credits/auto-refill");
  BOOST_TEST(page_figure(dom, "auto-refill-threshold", "data-value").value_or(-1) == micros(refill, "threshold_micros"));
  BOOST_TEST(page_figure(dom, "refills-today", "data-value").value_or(-1) == micros(refill, "refills_used_today"));
  BOOST_TEST(page_figure(dom, "refills-month", "data-value").value_or(-1) == micros(refill, "refills_used_this_month"));
  const json::value card = s.api("/api/v1/org/acme/credits/payment-method");
  BOOST_TEST(page_text(dom, "card-last4").value_or("") == std::string(card.at("last4").as_string()));
  std::smatch window;
  BOOST_REQUIRE(std::regex_search(dom, window, std::regex("id=\"usage\" data-from=\"([0-9]+)\" data-to=\"([0-9]+)\"")));
  const json::value usage =
      s.api("/api/v1/org/acme/usage?group_by=member&from=" + window[1].str() + "&to=" + window[2].str());
  BOOST_TEST(page_figure(dom, "usage-total").value_or(-1) == micros(usage.at("total"), "debited_micros"));
  const json::value members = s.api("/api/v1/org/acme/credits/member-limits");
  for (const json::value& m : members.at("members").as_array()) {
    const std::string id(m.at("member_id").as_string());
    const std::regex row("<tr data-member=\"" + id + "\">.*?data-micros=\"(-?[0-9]+)\".*?data-micros=\"(-?[0-9]+)\"(.*?)</tr>");
    std::smatch match;
    BOOST_REQUIRE_MESSAGE(std::regex_search(dom, match, row), "no row of member " << id);
    BOOST_TEST(std::stoll(match[2].str()) == micros(m, "used_micros"), id);
    BOOST_TEST((match[3].str().find("tag-paused") != std::string::npos) == m.at("exceeded").as_bool(), id);
  }
}

// The URLs of the requests Chromium's NetLog shows in the page's own context (site_for_cookies is
// the page's site: the page, its subresources, its forms). Chromium's background requests of its
// own (component updates, network time, autofill) run with no site, and are told apart by that;
// the host resolver rules make them fail anyway.
std::set<std::string> page_requests(const std::string& net_log) {
  std::set<std::string> urls;
  const json::value log = json::parse(net_log);
  for (const json::value& event : log.at("events").as_array()) {
    const json::object* params = event.as_object().contains("params") ? event.at("params").if_object() : nullptr;
    if (params == nullptr || !params->contains("url") || !params->contains("site_for_cookies")) continue;
    if (params->at("site_for_cookies").as_string().find("site=http://127.0.0.1;") == std::string::npos) continue;
    urls.insert(std::string(params->at("url").as_string()));
  }
  return urls;
}

}  // namespace

BOOST_AUTO_TEST_CASE(chromium_renders_the_apis_numbers_without_any_external_request) {
  Browser browser;
  const fs::path artifacts = artifacts_dir();
  browser.profile = artifacts / "chromium-profile";
  browser.log = artifacts / "chromium.log";
  fs::remove_all(browser.profile);
  fs::remove(browser.log);
  if (!browser.starts()) {
    std::cout << "billing_browser_test: skipped: " << chromium_binary()
              << " cannot start here (install Debian chromium: scripts/setup); see " << browser.log << std::endl;
    return;
  }
  BillingStoryStack s;
  const HttpReply link = s.client->send("POST", "/api/v1/org/acme/billing-links", owner_token, R"({"minutes":10})");
  BOOST_REQUIRE_MESSAGE(link.status == 200, link.body);
  const std::string url = "http://127.0.0.1:" + std::to_string(s.stack->port()) +
                          std::string(link.json().at("path").as_string());
  int status = 0;
  const fs::path net_log = artifacts / "billing-page.netlog.json";
  const std::string dom = browser.dump_dom(url, net_log, status);
  BOOST_REQUIRE_MESSAGE(status == 0 && dom.find("Prepaid credits") != std::string::npos,
                        "chromium --dump-dom failed (" << status << "): " << dom.substr(0, 500));
  std::ofstream(artifacts / "billing-page.dom.html") << dom;
  check_dom_against_the_api(s, dom);
  // No external request: none in the DOM, none in what the browser did.
  BOOST_TEST(!std::regex_search(dom, std::regex("(src|href|action)=\"(https?:)?//")));
  const std::set<std::string> urls = page_requests(read_text(net_log));
  BOOST_TEST(urls.count(url) == 1u, "the NetLog shows the page's own request");
  for (const std::string& requested : urls) {
    BOOST_TEST(requested.starts_with("http://127.0.0.1:" + std::to_string(s.stack->port()) + "/"), "requested " << requested);
  }
  for (const auto& [width, height] : {std::pair{375, 3400}, std::pair{1280, 2360}}) {
    const fs::path png = artifacts / ("billing-page-" + std::to_string(width) + ".png");
    BOOST_TEST(browser.screenshot(url, png, width, height), "screenshot " << png);
  }
}
