// `tally demo`: the seed story of a prepaid wallet with auto-recharge, member limits and a failed
// card, folded by the engine, told step by step.
#include <boost/program_options.hpp>
#include <cstdio>
#include <sstream>
#include <string>

#include "cli/commands.h"
#include "engine/event_factory.h"
#include "engine/fold.h"
#include "engine/memory_ledger.h"
#include "engine/money.h"
#include "engine/partitioner.h"

namespace tally::cli {
namespace {

constexpr int32_t demo_partitions = 4;
constexpr int64_t credit = 1'000'000;
constexpr int64_t demo_start_ms = 1'763'856'000'000;  // 2025-11-23 00:00 UTC

void print_signals(const FoldResult& result) {
  for (const Signal& s : result.signals) {
    std::printf("      -> signal %-24s %s\n", signal_kind_name(s.kind), s.id().c_str());
  }
}

class Story {
 public:
  // Appends one event to the org's partition, folds it, prints the line and its signals.
  const FoldResult& step(std::string_view org, const std::string& record, const std::string& line,
                         int32_t global_partition = 0, bool quiet = false) {
    const PartitionId partition{org.empty() ? global_partition : partition_for_key(org, demo_partitions)};
    LogPosition position{partition, Offset{next_offset_[partition.value]++}};
    apply(ledger_, position, record, result_);
    if (!line.empty()) {
      std::printf("  %-62s", line.c_str());
      if (!org.empty()) std::printf(" balance %12s", format_credits(ledger_.find_org(org)->balance_micros).c_str());
      std::printf("\n");
    }
    if (!quiet) print_signals(result_);
    return result_;
  }
  int64_t now() { return time_ms_ += 1000; }
  OrgState& org(std::string_view id) { return *ledger_.find_org(id); }
  std::string key(const char* prefix) { return std::string(prefix) + "-" + std::to_string(++keys_); }

 private:
  MemoryLedger ledger_;
  FoldResult result_;
  int64_t next_offset_[demo_partitions] = {};
  int64_t time_ms_ = demo_start_ms;
  int keys_ = 0;
};

void rate_card(Story& story) {
  RateCardFields card;
  card.version = 1;
  card.markup_bp = 15000;
  card.models = {{"claude-sonnet-4", ModelPrice{3'000'000, 15'000'000, 300'000, 3'750'000}}};
  card.sandbox_classes = {{"standard", 360'000}};
  const int64_t at = story.now();
  // Global: once into every partition.
  for (int p = 0; p < demo_partitions; ++p) {
    story.step("", make_rate_card({"rc-1", "", at}, card),
               p == 0 ? "rate card v1: claude-sonnet-4 $3/$15 per Mtok, markup 1.5x" : "", p);
  }
}

int64_t run_usage_until(Story& story, std::string_view org, std::string_view member, int64_t stop_below_micros,
                        bool stop_on_signal) {
  int calls = 0;
  constexpr int calls_max = 10'000;  // a story, not a soak: stop if the wallet never moves
  for (int total = 0; story.org(org).balance_micros >= stop_below_micros && total < calls_max; ++total) {
    UsageFields usage;
    usage.member_id = member;
    usage.workspace = "w1";
    usage.model = "claude-sonnet-4";
    usage.provider = "anthropic";
    usage.input_tokens = 400'000;
    usage.output_tokens = 100'000;
    const std::string key = story.key("req");
    ++calls;
    // 400k in × $3 + 100k out × $15 = $2.70 provider, × 1.5 = 4.05 credits a call.
    const auto& result = story.step(org, make_usage({key, org, story.now()}, usage), "", 0, true);
    if (result.outcome != Outcome::applied) {
      std::printf("  usage %s was %s: %s\n", key.c_str(), outcome_name(result.outcome), result.detail.c_str());
      return calls;
    }
    if (!result.signals.empty()) {
      std::printf("  %-62s balance %12s\n", (std::to_string(calls) + " LLM calls by " + std::string(member) +
                                             " (4.05 credits each)").c_str(),
                  format_credits(story.org(org).balance_micros).c_str());
      print_signals(result);
      calls = 0;
      if (stop_on_signal) return 0;
    }
  }
  return calls;
}

}  // namespace

int run_demo(const Args& args);
const CommandRegistrar demo_registrar{
    {"demo", "run the whole credit loop on the embedded default and tell the story", run_demo}};

int run_demo(const Args& args) {
  namespace po = boost::program_options;
  po::options_description options("tally demo: the credit loop told as a story (no external service)");
  options.add_options()("help,h", "show this help");
  po::variables_map vm;
  try {
    po::store(po::command_line_parser(args).options(options).run(), vm);
  } catch (const po::error& e) {
    std::fprintf(stderr, "tally demo: %s\n", e.what());
    return 2;
  }
  if (vm.count("help")) {
    std::printf("%s", (std::stringstream() << options).str().c_str());
    return 0;
  }

  Story story;
  std::printf("Tally demo - a prepaid credit wallet for an agent platform\n\n");
  rate_card(story);
  story.step("acme", make_org_opened({"open-acme", "acme", story.now()}, Plan::pro, BillingMode::credits),
             "acme opens an org: pro plan, pays with credits");
  story.step("acme", make_purchase({"ch_1", "acme", story.now()}, {100 * credit, 10000, "usd", 0, 1, "ch_1"}),
             "acme buys 100 credits through checkout ($100.00)");
  AutoRefillPolicy policy{true, 20 * credit, 100 * credit, 3, 20, "cus_acme"};
  story.step("acme", make_auto_refill_configured({"ar-1", "acme", story.now()}, policy),
             "acme enables auto-recharge: below 20, top up 100, 3/day");
  std::printf("\nAgents run; every LLM call draws the wallet down live:\n");
  run_usage_until(story, "acme", "alice", 0, true);
  const std::string signal = story.org("acme").pending_signal_id;
  std::printf("\nThe recharge connector charges the saved card once for %s:\n", signal.c_str());
  story.step("acme",
             make_auto_refill({"refill-" + signal, "acme", story.now()}, {100 * credit, 10000, "usd", 0, 1, "ch_2"},
                              signal),
             "AutoRefill lands: +100 credits");

  std::printf("\nA member limit caps one person's monthly spend:\n");
  story.step("acme", make_member_limit_set({"limit-bob", "acme", story.now()}, "bob", 10 * credit),
             "acme caps bob at 10 credits per month");
  for (int i = 0; i < 3; ++i) {
    UsageFields usage{.member_id = "bob", .workspace = "w1", .model = "claude-sonnet-4", .provider = "anthropic",
                      .input_tokens = 400'000, .output_tokens = 100'000};
    story.step("acme", make_usage({story.key("req"), "acme", story.now()}, usage),
               "bob makes an LLM call (4.05 credits)");
  }

  std::printf("\nglobex's card is declined:\n");
  story.step("globex", make_purchase({"ch_9", "globex", story.now()}, {30 * credit, 3000, "usd", 0, 1, "ch_9"}),
             "globex buys 30 credits");
  story.step("globex",
             make_auto_refill_configured({"ar-g", "globex", story.now()},
                                         AutoRefillPolicy{true, 20 * credit, 100 * credit, 3, 20, "cus_globex"}),
             "globex enables auto-recharge below 20");
  run_usage_until(story, "globex", "carol", 0, true);
  const std::string failed = story.org("globex").pending_signal_id;
  story.step("globex",
             make_payment_failed({"failed-" + failed, "globex", story.now()}, failed, "card_declined",
                                 "Your card has insufficient funds."),
             "the charge is declined: PaymentFailed");
  run_usage_until(story, "globex", "carol", 1, true);
  std::printf("\nBalances:\n");
  for (const char* org : {"acme", "globex"}) {
    const OrgState& state = story.org(org);
    std::printf("  %-8s balance %12s  purchased %12s  used %12s  auto-refill %-3s  %s\n", org,
                format_credits(state.balance_micros).c_str(), format_credits(state.totals.purchased_micros).c_str(),
                format_credits(state.totals.used_micros).c_str(), state.auto_refill.enabled ? "on" : "off",
                state.is_exhausted ? "PAUSED" : "running");
  }
  return 0;
}

}  // namespace tally::cli
