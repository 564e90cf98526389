// The billing page in a real browser: headless Chromium (Debian `chromium`, scripts/setup) loads
// the page from a running `tally dev` (its own process: journal, projector, recharge connector,
// API) told the billing story over HTTP — the checkout paid through Stripe's signed webhook, the
// auto-recharge charged by the node's own connector, Stripe played by the fixture server
// (outbound/testing/stripe_fixtures.h) — with every host but loopback unresolvable and a NetLog
// of every request the browser makes. The rendered DOM (--dump-dom) must show the
// API's numbers, the browser must have asked nothing of any other host, and screenshots at 375 and
// 1280 px wide are kept in BUILD/artifacts/ (docs/billing-page.png is the 1280 one).
//
// Skipped (ctest SKIP_REGULAR_EXPRESSION "billing_browser_test: skipped") only when Chromium is
// not installed or cannot start here; set TALLY_CHROMIUM to use another binary.
#include <boost/test/unit_test.hpp>

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <regex>
#include <set>
#include <sstream>
#include <thread>
#include <vector>

#include <boost/json.hpp>

#include "api/testing/billing_story.h"
#include "api/testing/http_test.h"
#include "ingest/ingest_routes.h"
#include "ingest/stripe_signature.h"
#include "outbound/testing/stripe_fixtures.h"
#include "tests/support/text_file.h"

using namespace tally;
using namespace tally::api;
using namespace tally::api::testing;
using tally::connectors::sign_stripe_payload;
using tally::connectors::stripe_webhook_route;
using tally::connectors::testing::StripeFixtureServer;
namespace json = boost::json;
namespace fs = std::filesystem;

namespace {

constexpr std::string_view webhook_secret = "whsec_test_tally_billing_browser";
constexpr int chromium_timeout_s = 90;
constexpr auto dev_start_timeout = std::chrono::seconds(60);
constexpr auto refill_timeout = std::chrono::seconds(30);

int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

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

std::string read_text(const fs::path& path) { return test_support::read_text_file(path.string()); }

// `tally dev` as a user runs it, in a process of its own, with Stripe's part played by the fixture
// server in this process (the secrets reach it through the environment, as in production).
struct DevNode {
  std::unique_ptr<StripeFixtureServer> stripe;
  fs::path dir;
  pid_t pid = -1;
  uint16_t port = 0;
  std::unique_ptr<HttpClient> client;

  DevNode() {
    auto started = StripeFixtureServer::start();
    BOOST_REQUIRE_MESSAGE(started.is_ok(), started.status().to_string());
    stripe = std::move(started.value());
    dir = artifacts_dir() / "tally-dev";
    fs::remove_all(dir);
    fs::create_directories(dir);
    spawn();
    port = listening_port();
    client = std::make_unique<HttpClient>(port);
    BillingStoryPayments payments;
    payments.complete_checkout = [this](const std::string& session_id, int64_t at_ms) { return pay(session_id, at_ms); };
    payments.land_refill = [this] { return refill_landed(); };
    const Status told = tell_billing_story(*client, {std::string(admin_token), std::string(owner_token)}, payments);
    BOOST_REQUIRE_MESSAGE(told.is_ok(), told.to_string() << "\n" << log());
  }
  ~DevNode() {
    client.reset();
    if (pid > 0) {
      ::kill(pid, SIGTERM);
      int status = 0;
      ::waitpid(pid, &status, 0);
    }
    for (const std::string& violation : stripe->violations()) BOOST_ERROR("Stripe would refuse: " << violation);
  }

  void spawn() {
    const std::vector<std::string> argv = {
        TALLY_BINARY, "dev", "--data", (dir / "data").string(),
        "--listen", "127.0.0.1:0", "--tick-interval-ms", "0",
        "--token", "admin:" + std::string(admin_token) + ":admin",
        "--token", "acme-owner:" + std::string(owner_token) + ":org:acme",
        "--stripe-url", stripe->base_url(), "--stripe-product", "prod_tally_credits",
        "--bundle-credits", "100", "--bundle-amount-minor", "10000", "--platform-fee-bp", "290",
        "--platform-fee-minor", "30"};
    std::vector<std::string> env;
    for (char** e = environ; *e != nullptr; ++e) env.emplace_back(*e);
    env.push_back(std::string("TALLY_STRIPE_KEY=") + StripeFixtureServer::api_key);
    env.push_back("TALLY_STRIPE_WEBHOOK_SECRET=" + std::string(webhook_secret));
    std::vector<char*> args, envp;
    for (const std::string& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    for (const std::string& e : env) envp.push_back(const_cast<char*>(e.c_str()));
    args.push_back(nullptr);
    envp.push_back(nullptr);
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    const std::string log_path = (dir / "dev.log").string();
    posix_spawn_file_actions_addopen(&actions, 1, log_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    posix_spawn_file_actions_adddup2(&actions, 1, 2);
    const int spawned = ::posix_spawn(&pid, args[0], &actions, nullptr, args.data(), envp.data());
    posix_spawn_file_actions_destroy(&actions);
    BOOST_REQUIRE_MESSAGE(spawned == 0, "cannot run " << argv[0] << ": " << std::strerror(spawned));
  }
  std::string log() const { return read_text(dir / "dev.log"); }
  // The port of "listening on http://127.0.0.1:PORT" once tally dev prints it.
  uint16_t listening_port() {
    const auto deadline = std::chrono::steady_clock::now() + dev_start_timeout;
    std::smatch match;
    const std::regex listening("listening on http://127\\.0\\.0\\.1:([0-9]+)");
    for (;;) {
      const std::string text = log();
      if (std::regex_search(text, match, listening)) return static_cast<uint16_t>(std::stoi(match[1].str()));
      int status = 0;
      BOOST_REQUIRE_MESSAGE(::waitpid(pid, &status, WNOHANG) == 0, "tally dev exited: " << text);
      BOOST_REQUIRE_MESSAGE(std::chrono::steady_clock::now() < deadline, "tally dev did not listen: " << text);
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
  }
  // The customer pays: Stripe's signed checkout.session.completed reaches the node's webhook route.
  Status pay(const std::string& session_id, int64_t at_ms) {
    Result<std::string> event = stripe->complete_checkout(session_id, "evt_story_checkout", at_ms / 1000);
    if (!event.is_ok()) return event.status();
    const int64_t now_s = now_ms() / 1000;
    const HttpReply paid =
        client->send("POST", std::string(stripe_webhook_route) + "?wait=1", {}, event.value(),
                     {{"Stripe-Signature", sign_stripe_payload(event.value(), webhook_secret, now_s)}});
    if (paid.status == 200) return Status::ok();
    return Status::error(Status::Code::conflict, "the checkout webhook answered " + std::to_string(paid.status) + ": " + paid.body);
  }
  // The node's recharge connector charges the saved card; its AutoRefill lands in the views.
  Status refill_landed() {
    const auto deadline = std::chrono::steady_clock::now() + refill_timeout;
    for (;;) {
      const HttpReply refill = client->send("GET", "/api/v1/org/acme/credits/auto-refill", admin_token);
      if (refill.status == 200 && refill.json().at("refills_used_today").to_number<int64_t>() >= 1) return Status::ok();
      if (std::chrono::steady_clock::now() >= deadline) {
        return Status::error(Status::Code::unavailable, "no AutoRefill landed: " + refill.body + "\n" + log());
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
  }
  json::value api(const std::string& target) {
    const HttpReply reply = client->send("GET", target, admin_token);
    BOOST_REQUIRE_MESSAGE(reply.status == 200, target << ": " << reply.body);
    return reply.json();
  }
};

int64_t micros(const json::value& object, std::string_view key) { return object.at(key).to_number<int64_t>(); }

void check_dom_against_the_api(DevNode& s, const std::string& dom) {
  const json::value grants = s.api("/api/v1/org/acme/credits/grants");
  for (const std::string& difference : grant_rows_differences(dom, grants)) BOOST_ERROR(difference);
  BOOST_TEST(dom.find("expiring soon") != std::string::npos, "the promotional grant expires within 7 days");
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
  DevNode s;
  const HttpReply link = s.client->send("POST", "/api/v1/org/acme/billing-links", owner_token, R"({"minutes":10})");
  BOOST_REQUIRE_MESSAGE(link.status == 200, link.body);
  const std::string url = "http://127.0.0.1:" + std::to_string(s.port) +
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
    BOOST_TEST(requested.starts_with("http://127.0.0.1:" + std::to_string(s.port) + "/"), "requested " << requested);
  }
  for (const auto& [width, height] : {std::pair{375, 3400}, std::pair{1280, 2360}}) {
    const fs::path png = artifacts / ("billing-page-" + std::to_string(width) + ".png");
    BOOST_TEST(browser.screenshot(url, png, width, height), "screenshot " << png);
  }
}
