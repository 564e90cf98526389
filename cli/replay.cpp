// `tally replay`: refold the whole events log from offset 0 into a fresh views directory and print
// each partition's hash-chain head, every view's digest and, last, `digest <hex>` of all views.
// The same log prints the same report, byte for byte, on every machine and every run. Progress
// and timing go to stderr, so stdout is only the report (diff two runs with `diff`).
#include <unistd.h>

#include <cstdio>
#include <string>
#include <vector>

#include "audit/progress.h"
#include "audit/replay.h"
#include "cli/cli_util.h"

namespace tally::cli {
namespace {

// "key=value" librdkafka properties from the command line.
Status parse_properties(const std::vector<std::string>& items, LogLocation& source) {
  for (const std::string& item : items) {
    const std::size_t eq = item.find('=');
    if (eq == std::string::npos || eq == 0) {
      return Status::invalid("--kafka-property", "\"" + item + "\" is not KEY=VALUE");
    }
    source.kafka_properties.emplace_back(item.substr(0, eq), item.substr(eq + 1));
  }
  return Status::ok();
}

int run_replay(const Args& args) {
  LogLocation source;
  std::vector<std::string> properties;
  std::string into;
  std::string progress = "auto";
  std::size_t batch = audit::replay_batch_events_max;
  po::options_description options("options");
  options.add_options()
      ("journal", po::value(&source.journal_dir), "embedded journal directory to replay")
      ("kafka", po::value(&source.kafka_brokers), "Kafka bootstrap brokers to replay from, e.g. host:9092")
      ("topic-prefix", po::value(&source.topic_prefix)->default_value("tally"), "Kafka topics are <prefix>.events")
      ("kafka-property", po::value(&properties)->composing(), "extra librdkafka property KEY=VALUE (repeatable)")
      ("into", po::value(&into)->required(), "new or empty directory for the replayed views")
      ("batch", po::value(&batch)->default_value(audit::replay_batch_events_max), "records per LMDB commit")
      ("progress", po::value(&progress)->default_value("auto"),
       "auto (a bar on a terminal, lines otherwise), bar, lines or none");
  po::variables_map vm;
  if (auto code = parse_options("replay", "(--journal DIR | --kafka BROKERS [--topic-prefix P]) --into DIR", args,
                                options, vm)) {
    return *code;
  }
  if (progress != "auto" && progress != "bar" && progress != "lines" && progress != "none") {
    return fail("replay", Status::invalid("--progress", "\"" + progress + "\" is not auto, bar, lines or none"));
  }
  if (batch == 0) return fail("replay", Status::invalid("--batch", "must be at least 1"));
  if (Status s = parse_properties(properties, source); !s.is_ok()) return fail("replay", s);
  // Refuse a used directory before touching the log: the message names the directory.
  if (Status s = audit::check_empty_dir(into); !s.is_ok()) return fail("replay", s);
  auto log = open_events_reader(source);
  if (!log.is_ok()) return fail("replay", log.status());

  const bool terminal = progress == "bar" || (progress == "auto" && isatty(STDERR_FILENO));
  audit::ProgressReporter reporter(stderr, terminal);
  audit::ReplayOptions replay_options;
  replay_options.batch_events_max = batch;
  if (progress != "none") replay_options.on_progress = [&](const audit::ReplayProgress& p) { reporter.update(p); };
  auto result = audit::replay(*log.value(), into, replay_options);
  if (!result.is_ok()) {
    if (terminal) std::fputc('\n', stderr);
    return fail("replay", result.status());
  }
  const audit::ReplayResult& r = result.value();
  if (progress != "none") {
    reporter.finish(audit::ReplayProgress{r.events, r.events, r.elapsed_s});
    std::fprintf(stderr, "replayed %llu events from %s into %s in %.2f s\n",
                 static_cast<unsigned long long>(r.events), describe(source).c_str(), into.c_str(), r.elapsed_s);
  }
  std::fputs(audit::format_replay_report(r).c_str(), stdout);
  return std::fflush(stdout) == 0 ? exit_ok : exit_failure;
}

const CommandRegistrar registrar{
    {"replay", "refold the whole log into fresh views; print chain heads and view digests", run_replay}};

}  // namespace
}  // namespace tally::cli
