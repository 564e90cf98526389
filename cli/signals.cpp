// `tally signals [ORG] [--data DIR | --journal DIR | --kafka BROKERS] [--kind K] [--follow] [--json]`:
// reads the signals log (what the outbox emitter sent: balance_low, recharge_requested, …) from
// its start, optionally only one org's or one kind's, and prints each signal. Without --follow
// it stops at the end of the log as it was when it started; with --follow it keeps printing new
// signals as they arrive until interrupted (Ctrl-C, SIGTERM: exit 0). A table for people; --json
// prints one JSON object per line (the signal's fields and its `log_position`), for machines.
// Read-only: it never creates a log, and a running node is not disturbed.
#include <csignal>
#include <cstdio>
#include <string>
#include <vector>

#include <boost/json.hpp>

#include "audit/text_format.h"
#include "cli/cli_util.h"
#include "engine/event_json.h"
#include "engine/money.h"
#include "relay/signal_record.h"

namespace tally::cli {
namespace {

constexpr std::size_t signals_poll_records_max = 256;
constexpr int signals_poll_timeout_ms = 200;

volatile std::sig_atomic_t interrupted = 0;
extern "C" void on_interrupt(int) { interrupted = 1; }

struct SignalsArgs {
  std::string org;
  std::string kind;
  bool follow = false;
  bool json = false;
};

void print_signal(const SignalsArgs& args, const LogRecord& record, const connectors::SignalRecord& signal) {
  if (args.json) {
    Result<std::string> text = signal_to_json(record.value);
    if (!text.is_ok()) return;
    boost::json::object out = boost::json::parse(text.value()).as_object();
    out["log_position"] = record.position.to_string();
    std::printf("%s\n", boost::json::serialize(out).c_str());
  } else {
    std::printf("%-10s %-24s %-20s %-16s %16s  %s\n", record.position.to_string().c_str(), signal_kind_name(signal.kind),
                audit::printable_text(signal.org_id.substr(0, 20)).c_str(),
                signal.member_id.empty() ? "-" : audit::printable_text(signal.member_id.substr(0, 16)).c_str(),
                format_credits(signal.balance_micros).c_str(), audit::printable_text(signal.signal_id).c_str());
  }
  std::fflush(stdout);
}

// Prints the signals of `reader` from offset 0 until every partition reached `ends` (or, with
// --follow, until interrupted).
Status print_signals(const SignalsArgs& args, LogReader& reader) {
  const int32_t partitions = reader.partition_count();
  std::vector<Offset> next(static_cast<std::size_t>(partitions)), ends(static_cast<std::size_t>(partitions));
  for (int32_t p = 0; p < partitions; ++p) {
    if (Status s = reader.seek(PartitionId{p}, Offset{0}); !s.is_ok()) return s;
    Result<Offset> end = reader.end_offset(PartitionId{p});
    if (!end.is_ok()) return end.status();
    ends[static_cast<std::size_t>(p)] = end.value();
  }
  if (!args.json) std::printf("%-10s %-24s %-20s %-16s %16s  %s\n", "position", "kind", "org", "member", "balance", "signal id");
  std::vector<LogRecord> records;
  for (;;) {
    bool caught_up = true;
    for (std::size_t p = 0; p < next.size(); ++p) caught_up &= next[p] >= ends[p];
    if ((caught_up && !args.follow) || interrupted) return Status::ok();
    if (Status s = reader.poll(records, signals_poll_records_max, signals_poll_timeout_ms); !s.is_ok()) return s;
    for (const LogRecord& record : records) {
      next[static_cast<std::size_t>(record.position.partition.value)] = Offset{record.position.offset.value + 1};
      Result<connectors::SignalRecord> signal = connectors::decode_signal_record(record.value);
      if (!signal.is_ok()) {
        std::fprintf(stderr, "tally signals: %s: %s (skipped)\n", record.position.to_string().c_str(),
                     signal.status().to_string().c_str());
        continue;
      }
      if (!args.org.empty() && signal->org_id != args.org) continue;
      if (!args.kind.empty() && args.kind != signal_kind_name(signal->kind)) continue;
      print_signal(args, record, signal.value());
    }
  }
}

Status check_kind(const std::string& kind) {
  if (kind.empty()) return Status::ok();
  for (int k = 0; k < signal_kind_count; ++k) {
    if (kind == signal_kind_name(static_cast<SignalKind>(k))) return Status::ok();
  }
  return Status::invalid("--kind", "unknown signal kind \"" + kind + "\" (e.g. balance_low, recharge_requested)");
}

int run_signals(const Args& args) {
  SignalsArgs signals;
  std::string data = "tally-data";
  LogLocation location;
  po::options_description options("options");
  options.add_options()
      ("org", po::value(&signals.org), "only this org's signals")
      ("data", po::value(&data)->default_value("tally-data"), "data directory (its journal, unless --journal/--kafka)")
      ("journal", po::value(&location.journal_dir), "embedded journal directory")
      ("kafka", po::value(&location.kafka_brokers), "Kafka bootstrap brokers, e.g. host:9092")
      ("topic-prefix", po::value(&location.topic_prefix)->default_value("tally"), "Kafka topic is <prefix>.signals")
      ("kind", po::value(&signals.kind), "only signals of this kind, e.g. balance_low")
      ("follow", po::bool_switch(&signals.follow), "keep printing new signals until interrupted")
      ("json", po::bool_switch(&signals.json), "one JSON object per line instead of a table");
  po::variables_map vm;
  po::positional_options_description positional;
  positional.add("org", 1);
  const char* synopsis = "[ORG] [--data DIR | --journal DIR | --kafka BROKERS] [--kind K] [--follow] [--json]";
  if (auto code = parse_options("signals", synopsis, args, options, vm, &positional)) return *code;
  if (Status s = check_kind(signals.kind); !s.is_ok()) return fail("signals", s);
  if (location.journal_dir.empty() && location.kafka_brokers.empty()) location.journal_dir = journal_dir(data);
  if (Status s = check_log_location(location); !s.is_ok()) return fail("signals", s);
  location.create_events_partitions = 0;  // a reader never makes a log up
  location.kafka_client_id = "tally-signals";
  auto log = open_log(location);
  if (!log.is_ok()) return fail("signals", log.status());
  auto reader = log.value()->reader(log_signals_kind);
  if (!reader.is_ok()) return fail("signals", reader.status());
  std::signal(SIGINT, on_interrupt);
  std::signal(SIGTERM, on_interrupt);
  if (Status s = print_signals(signals, *reader.value()); !s.is_ok()) return fail("signals", s);
  return exit_ok;
}

const CommandRegistrar registrar{{"signals", "print the signals log, one org's or all (--follow: as they arrive)",
                                  run_signals}};

}  // namespace
}  // namespace tally::cli
