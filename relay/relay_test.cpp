// The relay's building blocks without Stripe or HTTP: the durable progress file, the outbox
// emitter (after a crash between append and record it resends, never loses), the signal consumer
// (own position, dedup by id, retry of a failed signal, a foreign log refused), the refill amount.
#include <sys/stat.h>

#include <boost/test/unit_test.hpp>

#include <fstream>
#include <map>
#include <set>
#include <span>
#include <stdexcept>
#include <string>
#include <vector>

#include "engine/limits.h"
#include "log/journal.h"
#include "projections/projector.h"
#include "relay/enforcer.h"
#include "relay/outbox_emitter.h"
#include "relay/progress_file.h"
#include "relay/recharge.h"
#include "relay/signal_consumer.h"
#include "relay/testing/relay_harness.h"

using namespace tally;
using namespace tally::connectors;
using namespace tally::connectors::testing;

namespace {

// A journal, a projector over it and a ViewReader, driven by hand (run_once), in a temp dir.
struct Ledger {
  TempDir dir;
  std::unique_ptr<Journal> journal;
  std::unique_ptr<LogWriter> events;
  std::unique_ptr<LogReader> events_reader;
  std::unique_ptr<LogWriter> signals;
  std::unique_ptr<Projector> projector;
  std::unique_ptr<ViewReader> views;

  Ledger() {
    journal = must(Journal::open(dir.sub("journal"), journal_options(2, 1)));
    events = must(journal->writer(journal_events_topic));
    events_reader = must(journal->reader(journal_events_topic));
    signals = must(journal->writer(journal_signals_topic));
    projector = must(Projector::open(dir.sub("views"), ProjectorOptions{}));
    BOOST_REQUIRE(projector->start(*events_reader).is_ok());
    views = must(ViewReader::open(dir.sub("views")));
  }

  template <typename T>
  static T must(Result<T> result) {
    if (!result.is_ok()) throw std::runtime_error(result.status().to_string());
    return std::move(result.value());
  }

  void project() {
    for (;;) {
      auto folded = projector->run_once(*events_reader);
      BOOST_REQUIRE_MESSAGE(folded.is_ok(), folded.status().to_string());
      if (folded.value() == 0) return;
    }
  }

  std::unique_ptr<LogReader> signals_reader() { return must(journal->reader(journal_signals_topic)); }

  OutboxEmitterOptions emitter_options() {
    OutboxEmitterOptions options;
    options.record_sent = [this](uint64_t sequence) { return projector->record_outbox_sent(sequence); };
    return options;
  }

  // What an emitter resending after a crash does: the whole outbox into the signals log again.
  void resend_outbox() {
    std::vector<AppendRequest> requests;
    for (const OutboxEntry& entry : must(views->outbox(0, 1000))) {
      requests.push_back({must(decode_signal_record(entry.bytes)).org_id, entry.bytes, false});
    }
    BOOST_REQUIRE(signals->append(std::span<const AppendRequest>(requests)).is_ok());
  }
};

// balance_restored (first credit), balance_exhausted, balance_restored.
void pause_and_resume(Ledger& ledger, const std::string& org) {
  OrgScript script(*ledger.events, org);
  BOOST_REQUIRE(script.rate_card().is_ok());
  BOOST_REQUIRE(script.open().is_ok());
  BOOST_REQUIRE(script.purchase(40).is_ok());
  BOOST_REQUIRE(script.usage_output_tokens(2'000'000).is_ok());  // 45 credits: -5
  BOOST_REQUIRE(script.purchase(40).is_ok());
  ledger.project();
}

struct InjectedCrash : std::runtime_error {
  InjectedCrash() : std::runtime_error("injected crash") {}
};

}  // namespace

BOOST_AUTO_TEST_CASE(progress_file_round_trips_and_is_locked) {
  TempDir dir;
  const std::string path = dir.sub("p.progress");
  {
    auto file = ProgressFile::open(path);
    BOOST_REQUIRE(file.is_ok());
    BOOST_TEST(file.value()->load()->empty());
    BOOST_REQUIRE(file.value()->store({"sent 7", "x y"}).is_ok());
    BOOST_TEST((file.value()->load().value() == std::vector<std::string>{"sent 7", "x y"}));
    // Ledger state: for the owner only (SPEC §10), whatever the umask lets through.
    for (const std::string& p : {path, path + ".lock"}) {
      struct stat st {};
      BOOST_REQUIRE(::stat(p.c_str(), &st) == 0);
      BOOST_TEST((st.st_mode & 0777) == 0600u, p);
    }
    auto second = ProgressFile::open(path);
    BOOST_TEST(!second.is_ok());
    BOOST_TEST((second.status().code() == Status::Code::unavailable));
  }
  auto reopened = ProgressFile::open(path);  // the lock went with its owner
  BOOST_REQUIRE(reopened.is_ok());
  BOOST_TEST((reopened.value()->load().value() == std::vector<std::string>{"sent 7", "x y"}));
  std::ofstream(path, std::ios::trunc) << "tally-progress 1\nsent 9\n";  // no trailer: torn or edited
  BOOST_TEST((reopened.value()->load().status().code() == Status::Code::corruption));
}

BOOST_AUTO_TEST_CASE(emitter_sends_the_outbox_keyed_by_org_and_records_progress) {
  Ledger ledger;
  pause_and_resume(ledger, "acme");
  const OutboxEmitterOptions options = ledger.emitter_options();
  auto emitter = OutboxEmitter::open(*ledger.views, *ledger.signals, options);
  BOOST_REQUIRE(emitter.is_ok());
  auto sent = emitter.value()->run_once();
  BOOST_REQUIRE(sent.is_ok());
  BOOST_TEST(sent.value() == 3u);
  BOOST_TEST(emitter.value()->run_once().value() == 0u);
  BOOST_TEST(emitter.value()->sent_sequence() == 3u);
  const auto signals = read_signals(ledger.dir.sub("journal"));
  BOOST_REQUIRE(signals.size() == 3u);
  BOOST_TEST(signals[0].kind == SignalKind::balance_restored);
  BOOST_TEST(signals[1].kind == SignalKind::balance_exhausted);
  BOOST_TEST(signals[1].pause_reason == "balance_exhausted");
  BOOST_TEST(signals[2].kind == SignalKind::balance_restored);
  for (const auto& s : signals) BOOST_TEST(s.org_id == "acme");

  emitter.value().reset();  // progress survives a restart
  auto again = OutboxEmitter::open(*ledger.views, *ledger.signals, options);
  BOOST_REQUIRE(again.is_ok());
  BOOST_TEST(again.value()->sent_sequence() == 3u);
  BOOST_TEST(again.value()->run_once().value() == 0u);
  BOOST_TEST(ledger.views->stats()->outbox_sent == 3u);  // in the store, for /metrics
}

BOOST_AUTO_TEST_CASE(emitter_crash_between_append_and_record_resends_and_consumers_drop_the_copies) {
  Ledger ledger;
  pause_and_resume(ledger, "acme");
  OutboxEmitterOptions options = ledger.emitter_options();
  options.fault_hook = [](std::string_view point) {
    if (point == fault_emitter_after_append) throw InjectedCrash();
  };
  {
    auto emitter = OutboxEmitter::open(*ledger.views, *ledger.signals, options);
    BOOST_REQUIRE(emitter.is_ok());
    BOOST_CHECK_THROW(static_cast<void>(emitter.value()->run_once()), InjectedCrash);
  }
  options.fault_hook = nullptr;
  auto emitter = OutboxEmitter::open(*ledger.views, *ledger.signals, options);
  BOOST_REQUIRE(emitter.is_ok());
  BOOST_TEST(emitter.value()->sent_sequence() == 0u);  // nothing was recorded
  BOOST_TEST(emitter.value()->run_once().value() == 3u);
  BOOST_TEST(read_signals(ledger.dir.sub("journal")).size() == 6u);  // each signal twice

  auto reader = ledger.signals_reader();
  SignalConsumerOptions consumer_options;
  consumer_options.name = "test";
  consumer_options.progress_path = ledger.dir.sub("test.progress");
  auto consumer = SignalConsumer::open(*reader, consumer_options);
  BOOST_REQUIRE(consumer.is_ok());
  std::vector<std::string> handled;
  auto handler = [&](const SignalRecord& signal) -> Result<Handled> {
    handled.push_back(signal.signal_id);
    return Handled::acted;
  };
  std::size_t consumed = 0;
  BOOST_REQUIRE(wait_until([&] {
    consumed += consumer.value()->run_once(handler, 10).value();
    return consumed == 6;
  }));
  BOOST_TEST(handled.size() == 3u);
  BOOST_TEST(std::set<std::string>(handled.begin(), handled.end()).size() == 3u);
  BOOST_TEST(consumer.value()->duplicates_dropped() == 3u);
}

BOOST_AUTO_TEST_CASE(consumer_retries_a_failed_signal_and_remembers_across_restarts) {
  Ledger ledger;
  pause_and_resume(ledger, "acme");
  BOOST_REQUIRE(OutboxEmitter::open(*ledger.views, *ledger.signals, ledger.emitter_options()).value()->run_once().value() == 3u);

  SignalConsumerOptions consumer_options;
  consumer_options.name = "test";
  consumer_options.progress_path = ledger.dir.sub("test.progress");
  std::vector<std::string> handled;
  int failures_left = 1;
  auto handler = [&](const SignalRecord& signal) -> Result<Handled> {
    if (signal.kind == SignalKind::balance_exhausted && failures_left-- > 0) {
      return Status::error(Status::Code::unavailable, "platform down");
    }
    handled.push_back(std::string(signal_kind_name(signal.kind)));
    return Handled::acted;
  };
  {
    auto reader = ledger.signals_reader();
    auto consumer = SignalConsumer::open(*reader, consumer_options);
    BOOST_REQUIRE(consumer.is_ok());
    auto first = consumer.value()->run_once(handler, 1000);
    BOOST_TEST(!first.is_ok());  // stopped at the exhausted signal
    BOOST_TEST((handled == std::vector<std::string>{"balance_restored"}));
    BOOST_TEST(consumer.value()->next_offsets()[0].value == 1);
    BOOST_REQUIRE(wait_until([&] { return consumer.value()->run_once(handler, 10).value() > 0; }));
    BOOST_TEST((handled == std::vector<std::string>{"balance_restored", "balance_exhausted", "balance_restored"}));
  }
  // The same signals again (as after an emitter resend) are dropped by a restarted consumer.
  ledger.resend_outbox();
  auto reader = ledger.signals_reader();
  auto consumer = SignalConsumer::open(*reader, consumer_options);
  BOOST_REQUIRE(consumer.is_ok());
  BOOST_TEST(consumer.value()->next_offsets()[0].value == 3);
  BOOST_REQUIRE(wait_until([&] { return consumer.value()->run_once(handler, 10).value() == 3; }));
  BOOST_TEST(handled.size() == 3u);
  BOOST_TEST(consumer.value()->duplicates_dropped() == 3u);
}

BOOST_AUTO_TEST_CASE(consumer_refuses_a_progress_file_of_another_log) {
  Ledger first;
  Ledger second;
  SignalConsumerOptions options;
  options.name = "test";
  options.progress_path = first.dir.sub("test.progress");
  {
    auto reader = first.signals_reader();
    auto consumer = SignalConsumer::open(*reader, options);
    BOOST_REQUIRE(consumer.is_ok());
    BOOST_REQUIRE(consumer.value()->run_once([](const SignalRecord&) -> Result<Handled> { return Handled::skipped; }, 0).is_ok());
  }
  pause_and_resume(first, "acme");  // something to record
  {
    first.resend_outbox();
    auto reader = first.signals_reader();
    auto consumer = SignalConsumer::open(*reader, options);
    BOOST_REQUIRE(wait_until([&] {
      return consumer.value()->run_once([](const SignalRecord&) -> Result<Handled> { return Handled::skipped; }, 10).value() > 0;
    }));
  }
  auto reader = second.signals_reader();
  auto refused = SignalConsumer::open(*reader, options);
  BOOST_REQUIRE(!refused.is_ok());
  BOOST_TEST((refused.status().code() == Status::Code::conflict));
  BOOST_TEST(refused.status().message().find("remove it") != std::string::npos);
}

// The concluding event goes through the submission path: one the ledger would refuse is never
// appended; the connector reports it (naming the field) and passes the signal.
BOOST_AUTO_TEST_CASE(a_malformed_refill_is_refused_before_it_is_appended) {
  Ledger ledger;
  // A recharge request in the signals log whose org id the ledger refuses ("acme!": a record some
  // other writer put there), without a payment customer, so no charge is ever sent.
  Signal request;
  request.kind = SignalKind::recharge_requested;
  request.org_id = OrgId::make("acme0").value();
  request.position = LogPosition{PartitionId{0}, Offset{7}};
  request.refill_credits_micros = Micros{10 * micros};
  std::string bytes = encode_signal(request);
  for (std::size_t at = bytes.find("acme0"); at != std::string::npos; at = bytes.find("acme0", at)) bytes[at + 4] = '!';
  const AppendRequest append{"acme!", bytes, false};
  BOOST_REQUIRE(ledger.signals->append(std::span<const AppendRequest>(&append, 1)).is_ok());

  TempDir dir;
  RechargeOptions options;
  options.stripe.base_url = "http://127.0.0.1:9";  // never called: the request has no customer
  options.stripe.api_key = "sk_test_never_used";
  options.progress_path = dir.sub("recharge.progress");
  std::vector<Status> errors;
  options.on_error = [&](const Status& status) { errors.push_back(status); };
  auto signals = ledger.signals_reader();
  auto connector = RechargeConnector::open(*signals, *ledger.events, options);
  BOOST_REQUIRE_MESSAGE(connector.is_ok(), connector.status().to_string());
  auto handled = connector.value()->run_once(5'000);
  BOOST_REQUIRE_MESSAGE(handled.is_ok(), handled.status().to_string());
  BOOST_TEST(handled.value() == 1u);
  BOOST_REQUIRE_EQUAL(errors.size(), 1u);
  BOOST_TEST(errors[0].field() == "org_id");
  BOOST_TEST(errors[0].message().find("payment_failed") != std::string::npos, errors[0].to_string());
  BOOST_TEST(errors[0].message().find("refused, nothing appended") != std::string::npos, errors[0].to_string());
  for (int32_t p = 0; p < ledger.events->partition_count(); ++p) {
    BOOST_TEST(Ledger::must(ledger.events_reader->end_offset(PartitionId{p})).value == 0, "partition " << p);
  }
}

BOOST_AUTO_TEST_CASE(refill_amount_is_exact_and_rounds_up) {
  BOOST_TEST(refill_amount_minor(100 * micros, 100).value() == 10'000);
  BOOST_TEST(refill_amount_minor(1, 100).value() == 1);            // a micro-credit still costs a cent
  BOOST_TEST(refill_amount_minor(1'500'000, 3).value() == 5);      // 4.5 -> 5
  BOOST_TEST(refill_amount_minor(0, 100).status().field() == "refill_credits_micros");
  BOOST_TEST(refill_amount_minor(micros, 0).status().field() == "credit_price_minor");
  BOOST_TEST((refill_amount_minor(INT64_MAX, INT64_MAX).status().code() == Status::Code::too_large));
  BOOST_TEST(auto_refill_key("0:7:recharge_requested:acme") == "refill:0:7:recharge_requested:acme");
  BOOST_TEST(payment_failed_key("0:7:recharge_requested:acme") == "refill-failed:0:7:recharge_requested:acme");
}

BOOST_AUTO_TEST_CASE(charge_keys_are_the_signal_id_scoped_by_the_signals_log) {
  const std::string signal = "0:7:recharge_requested:acme";
  const std::string here = "journal:0b4c1f9e-5a77-4d2c-9f10-3e8a6d2b7c41/tally.signals";
  const std::string key = charge_idempotency_key(here, signal);
  BOOST_TEST(key == charge_idempotency_key(here, signal));  // a rerun of the same request: the same key
  BOOST_TEST(key != charge_idempotency_key("journal:7d2e8a10-1c3b-4f5e-8a9d-6b4c2e1f0a93/tally.signals", signal));
  BOOST_TEST(key.rfind("tally-", 0) == 0u);
  BOOST_TEST(key.ends_with(":" + signal));
  const std::string longest =
      "2147483647:9223372036854775807:recharge_requested:" + std::string(limits::org_id_bytes_max, 'o');
  BOOST_TEST(charge_idempotency_key("kafka:MkU3OEVBNTcwNTJENDM2Qk/tally.signals", longest).size() <=
             stripe_idempotency_key_bytes_max);
}

BOOST_AUTO_TEST_CASE(enforcement_kinds_and_webhook_fields) {
  BOOST_TEST(is_enforcement_kind(SignalKind::balance_exhausted));
  BOOST_TEST(is_enforcement_kind(SignalKind::member_limit_restored));
  BOOST_TEST(is_enforcement_kind(SignalKind::auto_refill_disabled));
  BOOST_TEST(is_enforcement_kind(SignalKind::balance_low));
  BOOST_TEST(!is_enforcement_kind(SignalKind::recharge_requested));
  BOOST_TEST(!is_enforcement_kind(SignalKind::auto_refill_cap_reached));
  SignalRecord member;
  member.signal_id = "1:9:member_limit_exceeded:acme:u1";
  member.kind = SignalKind::member_limit_exceeded;
  member.org_id = "acme";
  member.member_id = "u1";
  member.monthly_limit_micros = 5 * micros;
  member.member_used_micros = 6 * micros;
  member.pause_reason = "member_limit_exceeded";
  const EnforcementSignal webhook = enforcement_signal(member);
  BOOST_TEST(webhook.kind == "member_limit_exceeded");
  BOOST_TEST(webhook_action(webhook.kind) == "pause");
  BOOST_TEST(webhook.monthly_limit_micros.value() == 5 * micros);
  SignalRecord org = member;
  org.kind = SignalKind::balance_restored;
  org.member_id.clear();
  BOOST_TEST(!enforcement_signal(org).monthly_limit_micros.has_value());
  EnforcerOptions options;
  options.url = "ftp://x";
  options.secret = "0123456789abcdef";
  options.progress_path = "p";
  BOOST_TEST(validate(options).field() == "url");
  options.url = "http://127.0.0.1:1/hook";
  options.secret = "short";
  BOOST_TEST(validate(options).field() == "secret");
}
