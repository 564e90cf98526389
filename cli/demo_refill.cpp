// `tally demo-refill`: the refill loop for real, on one machine — the embedded journal, the
// projector, the outbox emitter and the recharge connector (a Node), charging the Stripe emulator
// the command starts (tests/stripe, installed by scripts/setup) or a Stripe-compatible URL given.
//
// The story (seed 002): an org prepays 100 credits with auto-recharge below 20; usage draws the
// balance down; the recharge connector charges the saved card once (Idempotency-Key = the signal
// id, scoped by the signals log); the AutoRefill lands and the balance is back above 100. A second
// org's card declines: the PaymentFailed turns auto-refill off and more usage leaves it paused at
// zero.
#include <boost/program_options.hpp>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <functional>
#include <mutex>
#include <stdexcept>
#include <random>
#include <span>
#include <string>
#include <thread>
#include <vector>

#include "cli/cli_util.h"
#include "engine/event_factory.h"
#include "node/node.h"
#include "outbound/stripe_client.h"
#include "outbound/testing/stripe_emulator.h"
#include "submit/submitter.h"

namespace tally::cli {
namespace {

constexpr int64_t credit = 1'000'000;
constexpr int story_wait_ms = 30'000;

std::string credits_text(int64_t micros) {
  const bool negative = micros < 0;
  const uint64_t magnitude = negative ? 0 - static_cast<uint64_t>(micros) : static_cast<uint64_t>(micros);
  char buffer[64];
  std::snprintf(buffer, sizeof buffer, "%s%llu.%02llu", negative ? "-" : "", static_cast<unsigned long long>(magnitude / credit),
                static_cast<unsigned long long>(magnitude % credit / 10'000));
  return buffer;
}

int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// Re-reads the views until `done` holds or the deadline passes.
bool wait_for(const std::function<bool()>& done) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(story_wait_ms);
  while (!done()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return true;
}

class RefillStory {
 public:
  explicit RefillStory(Node& node) : node_(node) {}

  // Appends one event through the submission path and waits until the projector applied it.
  Status append(std::string encoded) {
    Result<submit::PreparedEvents> event = submit::prepare_built({std::move(encoded)});
    if (!event.is_ok()) return event.status();
    submit::SubmitterOptions options;
    options.wait_timeout_ms = story_wait_ms;
    submit::Submitter submitter(node_.events_writer(), options, [this](LogPosition position, int timeout_ms) {
      return node_.projector()->wait_for_outcome(position, timeout_ms);
    });
    Result<submit::Submitted> submitted = submitter.submit(std::move(event.value()), true);
    if (!submitted.is_ok()) return submitted.status();
    const submit::SubmittedEvent& appended = submitted->events.front();
    for (std::size_t i = 0; i < appended.positions.size(); ++i) {
      if (appended.outcomes.at(i).state == OutcomeWait::State::timed_out) {
        return Status::error(Status::Code::unavailable, "the projector did not apply " + appended.positions[i].to_string());
      }
    }
    return Status::ok();
  }

  std::string key(const std::string& org, const char* what) { return org + "-" + what + "-" + std::to_string(++counter_); }

  OrgState state(const std::string& org) {
    auto view = node_.views()->org(OrgId::make(org).value());  // the demo's own org ids
    return view.is_ok() && view->has_value() ? view->value().state : OrgState{};
  }

  Status rate_card() {
    RateCardFields card;
    card.markup_bp = 15'000;
    card.models.push_back({"claude-sonnet-4", ModelPrice{3'000'000, 15'000'000, 300'000, 3'750'000}});
    return append(make_rate_card({"rate-card-1", "", now_ms(), "demo"}, card));
  }

  Status buy_with_auto_recharge(const std::string& org, int64_t credits, const std::string& customer) {
    const std::string open_key = key(org, "open");
    if (Status s = append(make_org_opened({open_key, org, now_ms(), "demo"}, Plan::pro, BillingMode::credits)); !s.is_ok()) return s;
    PaymentFields payment;
    payment.credits_micros = credits * credit;
    payment.paid_minor = credits * 100;
    const std::string purchase_key = key(org, "checkout");
    payment.payment_ref = purchase_key;
    if (Status s = append(make_purchase({purchase_key, org, now_ms(), "demo"}, payment)); !s.is_ok()) return s;
    AutoRefillPolicy policy;
    policy.enabled = true;
    policy.threshold_micros = Micros{20 * credit};
    policy.refill_credits_micros = Micros{100 * credit};
    policy.max_per_day = 3;
    policy.payment_customer = customer;
    const std::string policy_key = key(org, "auto-recharge");
    if (Status s = append(make_auto_refill_configured({policy_key, org, now_ms(), "demo"}, policy)); !s.is_ok()) return s;
    std::printf("%s: bought %s credits ($%lld.00 via Checkout); auto-recharge on: below 20, top up 100, card %s\n",
                org.c_str(), credits_text(credits * credit).c_str(), static_cast<long long>(credits), customer.c_str());
    return Status::ok();
  }

  // One agent call: 1M output tokens of claude-sonnet-4 = 15 credits × 1.5 markup = 22.50 credits.
  // Prints the balance right after it and the signals it caused (from the outbox), whatever the
  // connector has done since.
  Status agent_call(const std::string& org) {
    UsageFields usage;
    usage.model = "claude-sonnet-4";
    usage.provider = "anthropic";
    usage.output_tokens = 1'000'000;
    const std::string usage_key = key(org, "call");
    if (Status s = append(make_usage({usage_key, org, now_ms(), "demo"}, usage)); !s.is_ok()) return s;
    HistoryEntry call;
    if (Status s = node_.views()->for_each_history(OrgId::make(org).value(), INT64_MIN, INT64_MAX, [&](const HistoryEntry& entry) {
          if (entry.idempotency_key == usage_key) call = entry;
          return true;
        });
        !s.is_ok()) {
      return s;
    }
    std::string caused;
    auto outbox = node_.views()->outbox(0, 100'000);
    const std::string prefix = call.position.to_string() + ":";
    if (outbox.is_ok()) {
      for (const OutboxEntry& entry : outbox.value()) {
        if (entry.signal_id.rfind(prefix, 0) != 0) continue;
        std::string kind = entry.signal_id.substr(prefix.size());
        kind = kind.substr(0, kind.find(':'));
        caused += caused.empty() ? "  -> " : ", ";
        caused += kind == "recharge_requested" ? "recharge_requested (below 20)"
                  : kind == "balance_exhausted" ? "balance_exhausted (paused at zero)"
                                                : kind;
      }
    }
    std::printf("%s: agent call billed 22.50 credits, balance %s%s\n", org.c_str(),
                credits_text(call.balance_after_micros.value()).c_str(), caused.c_str());
    return Status::ok();
  }

 private:
  Node& node_;
  int counter_ = 0;
};

std::size_t charges_for(connectors::StripeClient& stripe, const std::string& org) {
  auto charges = stripe.list_charges();
  if (!charges.is_ok()) return 0;
  std::size_t count = 0;
  for (const auto& charge : charges.value()) {
    for (const auto& [k, v] : charge.metadata) {
      if (k == "org_id" && v == org && charge.status == "succeeded") ++count;
    }
  }
  return count;
}

std::string run_suffix() {
  std::random_device device;
  static constexpr char hex[] = "0123456789abcdef";
  std::string out = "-";
  for (int i = 0; i < 4; ++i) out.push_back(hex[device() % 16]);
  return out;
}

int run_demo_refill(const Args& args) {
  std::string data_dir;
  std::string stripe_url;
  std::string stripe_key = connectors::testing::StripeEmulator::api_key;
  po::options_description desc("options");
  desc.add_options()
      ("data", po::value(&data_dir), "data directory for the ledger (default: a new temporary directory)")
      ("stripe-url", po::value(&stripe_url), "charge this Stripe-compatible API instead of starting the emulator")
      ("stripe-key", po::value(&stripe_key), "its secret key (default: the emulator's)");
  po::variables_map vm;
  if (auto code = parse_options("demo-refill", "[--data DIR] [--stripe-url URL --stripe-key KEY]", args, desc, vm)) {
    return *code;
  }

  std::unique_ptr<connectors::testing::StripeEmulator> emulator;
  std::string suffix;
  if (stripe_url.empty()) {
    auto started = connectors::testing::StripeEmulator::start();
    if (!started.is_ok()) {
      std::fprintf(stderr,
                   "tally demo-refill: cannot start the Stripe emulator: %s\n"
                   "  install it (Node.js, npm and tests/stripe) with: bash scripts/setup\n",
                   started.status().to_string().c_str());
      return exit_failure;
    }
    emulator = std::move(started.value());
    stripe_url = emulator->base_url();
  } else {
    suffix = run_suffix();  // a long-lived Stripe account remembers earlier runs' idempotency keys
  }
  bool temporary = false;
  if (data_dir.empty()) {
    std::string pattern = (std::filesystem::temp_directory_path() / "tally-demo-refill-XXXXXX").string();
    if (mkdtemp(pattern.data()) == nullptr) return fail("demo-refill", Status::error(Status::Code::io_error, "mkdtemp failed"));
    data_dir = pattern;
    temporary = true;
  }

  connectors::StripeConfig stripe_config;
  stripe_config.base_url = stripe_url;
  stripe_config.api_key = stripe_key;
  stripe_config.retry.backoff_ms_initial = 50;
  stripe_config.retry.backoff_ms_max = 500;
  connectors::StripeClient stripe(stripe_config);
  auto good_card = stripe.create_customer("tok_visa");
  auto bad_card = stripe.create_customer("tok_chargeCustomerFail");
  if (!good_card.is_ok()) return fail("demo-refill", good_card.status());
  if (!bad_card.is_ok()) return fail("demo-refill", bad_card.status());

  std::mutex print_mutex;
  NodeOptions options;
  options.data_dir = data_dir;
  options.role_api = false;
  options.tick_interval_ms = 0;
  connectors::RechargeOptions recharge;
  recharge.stripe = stripe_config;
  recharge.on_concluded = [&print_mutex](const connectors::RechargeReport& report) {
    std::lock_guard lock(print_mutex);
    if (report.event_type == "auto_refill") {
      std::printf("recharge: charged the card once: %s, %lld.%02lld %s (Idempotency-Key %s%s) -> AutoRefill %s\n",
                  report.charge_id.c_str(), static_cast<long long>(report.amount_minor / 100),
                  static_cast<long long>(report.amount_minor % 100), report.currency.c_str(), report.charge_key.c_str(),
                  report.replayed ? ", replayed" : "", report.event_key.c_str());
    } else {
      std::printf("recharge: charge failed (%s: %s) -> PaymentFailed %s\n", report.code.c_str(), report.message.c_str(),
                  report.event_key.c_str());
    }
    std::fflush(stdout);
  };
  options.recharge = recharge;
  auto node = Node::start(options);
  if (!node.is_ok()) return fail("demo-refill", node.status());
  std::printf("tally demo-refill: ledger in %s, Stripe at %s\n\n", data_dir.c_str(), stripe_url.c_str());

  RefillStory story(*node.value());
  const std::string acme = "acme" + suffix;
  const std::string beta = "beta" + suffix;
  auto check = [&](const Status& s) {
    if (!s.is_ok()) throw std::runtime_error(s.to_string());
  };
  int code = exit_ok;
  try {
    check(story.rate_card());
    std::printf("rate card v1: claude-sonnet-4 at 15 credits per 1M output tokens, markup 1.5x\n\n");
    check(story.buy_with_auto_recharge(acme, 100, good_card.value()));
    for (int call = 0; call < 4; ++call) check(story.agent_call(acme));
    if (!wait_for([&] { return !story.state(acme).refill_pending; })) throw std::runtime_error("no refill landed");
    const OrgState refilled = story.state(acme);
    std::printf("%s: AutoRefill landed -> balance %s (back above 100); charges in Stripe for %s: %zu\n\n", acme.c_str(),
                credits_text(refilled.balance_micros.value()).c_str(), acme.c_str(), charges_for(stripe, acme));

    check(story.buy_with_auto_recharge(beta, 30, bad_card.value()));
    check(story.agent_call(beta));
    if (!wait_for([&] { return !story.state(beta).refill_pending; })) throw std::runtime_error("no PaymentFailed landed");
    std::printf("%s: auto-refill %s (auto_refill_disabled: the card is not retried silently)\n", beta.c_str(),
                story.state(beta).auto_refill.enabled ? "still on?!" : "disabled");
    check(story.agent_call(beta));
    const OrgState paused = story.state(beta);
    std::printf("%s: %s (balance %s: the last call is billed in full); charges in Stripe for %s: %zu\n",
                beta.c_str(), paused.is_exhausted ? "paused at zero until someone buys credits" : "not paused?!",
                credits_text(paused.balance_micros.value()).c_str(), beta.c_str(), charges_for(stripe, beta));
  } catch (const std::exception& e) {
    std::fprintf(stderr, "tally demo-refill: %s\n", e.what());
    code = exit_failure;
  }
  node.value()->stop();
  node.value().reset();
  if (temporary) {
    std::error_code ec;
    std::filesystem::remove_all(data_dir, ec);
  }
  return code;
}

const CommandRegistrar demo_refill_registrar{
    {"demo-refill", "the refill loop for real: journal, projector, emitter, recharge via the Stripe emulator",
     run_demo_refill}};

}  // namespace
}  // namespace tally::cli
