// `tally demo`: the seed story of a prepaid wallet with auto-recharge, member limits and a failed
// card, folded by the engine, told step by step.
#include <boost/program_options.hpp>
#include <cstdio>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <stdexcept>
#include <sstream>
#include <string>

#include "cli/commands.h"
#include "engine/event_factory.h"
#include "engine/fold.h"
#include "log/journal.h"
#include "projections/projector.h"
#include "projections/views.h"
#include "tally/signals_generated.h"
#include "engine/money.h"
#include "engine/partitioner.h"

namespace tally::cli {
namespace {

constexpr int32_t demo_partitions = 4;
constexpr int64_t credit = 1'000'000;
constexpr int64_t demo_start_ms = 1'763'856'000'000;  // 2025-11-23 00:00 UTC

// The demo runs the real path on the embedded default: events are appended to a journal in a
// temporary directory, the projector folds them into LMDB views, and the story is read back from
// the views (balances) and the outbox (signals).
class Story {
 public:
  static Result<std::unique_ptr<Story>> open() {
    std::unique_ptr<Story> story(new Story());
    std::string pattern = (std::filesystem::temp_directory_path() / "tally-demo-XXXXXX").string();
    if (mkdtemp(pattern.data()) == nullptr) return Status::error(Status::Code::io_error, "mkdtemp failed");
    story->dir_ = pattern;
    auto journal = Journal::open(story->dir_ + "/journal", journal_options(demo_partitions, 1));
    if (!journal.is_ok()) return journal.status();
    story->journal_ = std::move(journal.value());
    auto writer = story->journal_->writer(journal_events_topic);
    if (!writer.is_ok()) return writer.status();
    story->writer_ = std::move(writer.value());
    auto reader = story->journal_->reader(journal_events_topic);
    if (!reader.is_ok()) return reader.status();
    story->reader_ = std::move(reader.value());
    ProjectorOptions options;
    options.poll_timeout_ms = 10;
    options.batch_time_max_ms = 1;
    auto projector = Projector::open(story->dir_ + "/views", options);
    if (!projector.is_ok()) return projector.status();
    story->projector_ = std::move(projector.value());
    if (Status s = story->projector_->start(*story->reader_); !s.is_ok()) return s;
    auto views = ViewReader::open(story->dir_ + "/views");
    if (!views.is_ok()) return views.status();
    story->views_ = std::move(views.value());
    return story;
  }
  ~Story() {
    views_.reset();
    projector_.reset();
    reader_.reset();
    writer_.reset();
    journal_.reset();
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }

  // Appends one event, lets the projector fold it, prints the line and the signals it caused.
  // Returns the signals (id, kind) in order.
  std::vector<std::pair<std::string, SignalKind>> step(std::string_view org, std::string record,
                                                       const std::string& line, bool quiet = false) {
    AppendRequest request{std::string(org), std::move(record), org.empty()};
    auto positions = writer_->append(std::span<const AppendRequest>(&request, 1));
    if (!positions.is_ok()) throw std::runtime_error(positions.status().to_string());
    for (const LogPosition& position : positions.value()) {
      while (projector_->applied_offset(position.partition) <= position.offset) {
        auto folded = projector_->run_once(*reader_);
        if (!folded.is_ok()) throw std::runtime_error(folded.status().to_string());
      }
    }
    if (!line.empty()) {
      std::printf("  %-62s", line.c_str());
      if (!org.empty()) std::printf(" balance %12s", format_credits(balance(org)).c_str());
      std::printf("\n");
    }
    auto signals = new_signals();
    if (!quiet) print_signals(signals);
    return signals;
  }
  static void print_signals(const std::vector<std::pair<std::string, SignalKind>>& signals) {
    for (const auto& [id, kind] : signals) std::printf("      -> signal %-24s %s\n", signal_kind_name(kind), id.c_str());
  }
  OrgState org(std::string_view id) {
    auto view = views_->org(OrgId::make(id).value());  // the demo's own org ids
    if (!view.is_ok() || !view.value()) throw std::runtime_error("no org " + std::string(id));
    return view.value()->state;
  }
  int64_t balance(std::string_view id) { return org(id).balance_micros.value(); }
  // The reason of the org's latest rejected event, as its history records it ("" if none).
  std::string last_reject_reason(std::string_view id) {
    std::string reason;
    const Status read = views_->for_each_history(OrgId::make(id).value(), 0, INT64_MAX, [&](const HistoryEntry& entry) {
      if (entry.outcome == Outcome::rejected) reason = reject_reason_name(entry.reason);
      return true;
    });
    if (!read.is_ok()) throw std::runtime_error(read.to_string());
    return reason;
  }
  int64_t now() { return time_ms_ += 1000; }
  void advance(int64_t ms) { time_ms_ += ms; }
  std::string key(const char* prefix) { return std::string(prefix) + "-" + std::to_string(++keys_); }

 private:
  Story() = default;
  std::vector<std::pair<std::string, SignalKind>> new_signals() {
    std::vector<std::pair<std::string, SignalKind>> out;
    auto entries = views_->outbox(outbox_seen_, 1000);
    if (!entries.is_ok()) throw std::runtime_error(entries.status().to_string());
    for (const OutboxEntry& entry : entries.value()) {
      const auto* signal = fb::GetSignal(entry.bytes.data());
      out.emplace_back(entry.signal_id, static_cast<SignalKind>(signal->kind()));
      outbox_seen_ = entry.sequence;
    }
    return out;
  }
  std::string dir_;
  std::unique_ptr<Journal> journal_;
  std::unique_ptr<LogWriter> writer_;
  std::unique_ptr<LogReader> reader_;
  std::unique_ptr<Projector> projector_;
  std::unique_ptr<ViewReader> views_;
  uint64_t outbox_seen_ = 0;
  int64_t time_ms_ = demo_start_ms;
  int keys_ = 0;
};

void rate_card(Story& story) {
  RateCardFields card;
  card.version = 1;
  card.markup_bp = 15000;
  card.models = {{"claude-sonnet-4", ModelPrice{3'000'000, 15'000'000, 300'000, 3'750'000}}};
  card.sandbox_classes = {{"standard", 360'000}};
  // Global: the journal writes it once into every partition.
  story.step("", make_rate_card({"rc-1", "", story.now()}, card),
             "rate card v1: claude-sonnet-4 $3/$15 per Mtok, markup 1.5x");
}

int64_t run_usage_until(Story& story, std::string_view org, std::string_view member, int64_t stop_below_micros,
                        bool stop_on_signal) {
  int calls = 0;
  constexpr int calls_max = 10'000;  // a story, not a soak: stop if the wallet never moves
  for (int total = 0; story.balance(org) >= stop_below_micros && total < calls_max; ++total) {
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
    const auto signals = story.step(org, make_usage({key, org, story.now()}, usage), "", true);
    if (!signals.empty()) {
      std::printf("  %-62s balance %12s\n", (std::to_string(calls) + " LLM calls by " + std::string(member) +
                                             " (4.05 credits each)").c_str(),
                  format_credits(story.balance(org)).c_str());
      Story::print_signals(signals);
      calls = 0;
      if (stop_on_signal) return 0;
    }
  }
  return calls;
}

// SPEC §11: each call reserves its cost first (a hold for the estimate: 4.05 credits), then
// captures what it used. When the next hold does not fit, the call never starts: the wallet
// stops short of zero instead of going negative. Returns the refused hold's reason, as folded.
std::string run_calls_with_holds(Story& story, std::string_view org, std::string_view member) {
  HoldFields hold;
  hold.member_id = member;
  hold.estimate = HoldEstimateFields{.model = "claude-sonnet-4", .input_tokens = 400'000, .max_output_tokens = 100'000};
  int calls = 0;
  constexpr int calls_max = 10'000;
  std::string refusal;
  for (; calls < calls_max && refusal.empty(); ++calls) {
    const std::string hold_id = story.key("hold");
    story.step(org, make_hold_placed({hold_id, org, story.now()}, hold), "", true);
    if (story.org(org).holds.count(hold_id) == 0) {  // refused: the call does not start
      refusal = story.last_reject_reason(org);
      break;
    }
    UsageFields usage{.member_id = member, .workspace = "w1", .model = "claude-sonnet-4", .provider = "anthropic",
                      .input_tokens = 400'000, .output_tokens = 100'000, .hold_id = hold_id, .hold_final = true};
    story.step(org, make_usage({story.key("req"), org, story.now()}, usage), "", true);
  }
  const OrgState state = story.org(org);
  std::printf("  %-62s balance %12s\n",
              (std::to_string(calls) + " calls by " + std::string(member) + ", each behind a 4.05-credit hold").c_str(),
              format_credits(state.balance_micros).c_str());
  std::printf("  %-62s available %10s\n", ("the next hold is refused (" + refusal + ")").c_str(),
              format_credits(state.balance_micros.value() - state.held_micros.value()).c_str());
  std::printf("  %s's agent pauses before the call: no deficit\n", std::string(member).c_str());
  return refusal;
}

// SPEC §12, seed 004: a new org starts with 25,000 free credits — a promotional grant, here one that
// expires in 30 days. Its usage draws the free credits before the ones it buys; a week before the
// expiry the platform is warned, and what is left then expires (breakage); the paid credits stay.
void run_signup_grant(Story& story) {
  constexpr int64_t day_ms = 86'400'000;
  const int64_t expires_at_ms = story.now() + 30 * day_ms;
  story.step("initech",
             make_signup_allocation({"signup-initech", "initech", story.now()}, 25'000 * credit,
                                    GrantTermsFields{.expires_at_ms = expires_at_ms}),
             "initech signs up: 25,000 free credits, expiring in 30 days");
  story.step("initech", make_purchase({"ch_i", "initech", story.now()}, {100 * credit, 10000, "usd", 0, 1, "ch_i"}),
             "initech buys 100 credits ($100.00)");
  for (int i = 0; i < 20; ++i) {
    UsageFields usage{.member_id = "dana", .workspace = "w1", .model = "claude-sonnet-4", .provider = "anthropic",
                      .input_tokens = 400'000, .output_tokens = 100'000};
    story.step("initech", make_usage({story.key("req"), "initech", story.now()}, usage), "", true);
  }
  std::printf("  %-62s balance %12s\n", "20 LLM calls by dana: drawn from the free credits first",
              format_credits(story.balance("initech")).c_str());
  story.advance(23 * day_ms);
  story.step("initech", make_tick({story.key("tick"), "initech", story.now()}),
             "23 days later (a tick): the free credits expire in a week");
  story.advance(7 * day_ms);
  story.step("initech", make_tick({story.key("tick"), "initech", story.now()}),
             "30 days after signup: what is left of them expires");
  const OrgState state = story.org("initech");
  std::printf("  %-62s expired %12s\n", "the 100 paid credits stay; breakage (tally grants initech)",
              format_credits(state.totals.expired_micros).c_str());
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

  auto opened = Story::open();
  if (!opened.is_ok()) {
    std::fprintf(stderr, "tally demo: %s\n", opened.status().to_string().c_str());
    return 1;
  }
  Story& story = *opened.value();
  try {
  std::printf("Tally demo - a prepaid credit wallet for an agent platform\n\n");
  rate_card(story);
  story.step("acme", make_org_opened({"open-acme", "acme", story.now()}, Plan::pro, BillingMode::credits),
             "acme opens an org: pro plan, pays with credits");
  story.step("acme", make_purchase({"ch_1", "acme", story.now()}, {100 * credit, 10000, "usd", 0, 1, "ch_1"}),
             "acme buys 100 credits through checkout ($100.00)");
  AutoRefillPolicy policy{true, Micros{20 * credit}, Micros{100 * credit}, 3, 20, "cus_acme"};
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

  std::printf("  bob's agents pause (pause_reason=member_limit_exceeded); alice keeps running\n");
  std::printf("\nglobex's card is declined:\n");
  story.step("globex", make_purchase({"ch_9", "globex", story.now()}, {30 * credit, 3000, "usd", 0, 1, "ch_9"}),
             "globex buys 30 credits");
  story.step("globex",
             make_auto_refill_configured({"ar-g", "globex", story.now()},
                                         AutoRefillPolicy{true, Micros{20 * credit}, Micros{100 * credit}, 3, 20, "cus_globex"}),
             "globex enables auto-recharge below 20");
  run_usage_until(story, "globex", "carol", 0, true);
  const std::string failed = story.org("globex").pending_signal_id;
  story.step("globex",
             make_payment_failed({"failed-" + failed, "globex", story.now()}, failed, "card_declined",
                                 "Your card has insufficient funds."),
             "the charge is declined: PaymentFailed");
  std::printf("\nWith holds, admission is decided before each call (no deficit):\n");
  const std::string globex_refusal = run_calls_with_holds(story, "globex", "carol");
  std::printf("\nFree signup credits are a grant that expires (seed 004):\n");
  run_signup_grant(story);
  std::printf("\nBalances:\n");
  for (const char* org : {"acme", "globex", "initech"}) {
    const OrgState state = story.org(org);
    std::printf("  %-8s balance %12s  purchased %12s  used %12s  auto-refill %-3s  %s\n", org,
                format_credits(state.balance_micros).c_str(), format_credits(state.totals.purchased_micros).c_str(),
                format_credits(state.totals.used_micros).c_str(), state.auto_refill.enabled ? "on" : "off",
                state.is_exhausted                               ? "PAUSED"
                : org == std::string_view("globex") && !globex_refusal.empty() ? "PAUSED: no hold fits"
                                                                                : "running");
  }
    std::printf("\nEvery number above was folded from an append-only journal into LMDB views; replaying the\n"
                "journal gives the same bytes. Run it live: build/tally dev (see README).\n");
  } catch (const std::exception& e) {
    std::fprintf(stderr, "tally demo: %s\n", e.what());
    return 1;
  }
  return 0;
}

}  // namespace tally::cli
