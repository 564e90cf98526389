// `tally audit verify`: replay the log into a scratch directory and compare with the live views;
//   on a difference, name the first differing event of each partition and exit 3
//   (exit_views_differ), so that a script can tell "the views do not match the log" from "could not
//   check" (1) and a usage error (2).
// `tally audit export ORG`: the org's statement (CSV, JSONL or a self-contained HTML page) with a
//   reconciliation of opening balance, movements by kind and closing balance.
#include <fcntl.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <iostream>
#include <string>
#include <vector>

#include "audit/progress.h"
#include "audit/statement_export.h"
#include "audit/text_format.h"
#include "audit/verify.h"
#include "cli/cli_util.h"

namespace tally::cli {
namespace {

// `audit verify` ran, and the replay of the log does not give the live views.
inline constexpr int exit_views_differ = 3;

constexpr const char* audit_usage =
    "usage: tally audit verify --data DIR (--journal DIR | --kafka BROKERS [--topic-prefix P])\n"
    "       tally audit export ORG --data DIR [--from T] [--to T] --format csv|jsonl|html [--summary]\n"
    "(tally audit verify --help, tally audit export --help)\n";

int run_verify(const Args& args) {
  LogLocation source;
  std::string data = "tally-data";
  std::string scratch;
  std::string progress = "auto";
  po::options_description options("options");
  options.add_options()
      ("data", po::value(&data)->default_value("tally-data"), "data directory of the live views (DIR or DIR/views)")
      ("journal", po::value(&source.journal_dir), "embedded journal directory the views were folded from")
      ("kafka", po::value(&source.kafka_brokers), "Kafka bootstrap brokers the views were folded from")
      ("topic-prefix", po::value(&source.topic_prefix)->default_value("tally"), "Kafka topics are <prefix>.events")
      ("scratch", po::value(&scratch), "new or empty directory for the replay, kept afterwards "
                                       "(default: a temporary directory, removed)")
      ("progress", po::value(&progress)->default_value("auto"), "auto, bar, lines or none (on stderr)");
  po::variables_map vm;
  if (auto code = parse_options("audit verify",
                                "--data DIR (--journal DIR | --kafka BROKERS)\n"
                                "exit status: 0 the replay gives the live views, 3 they differ (the first "
                                "differing event of each partition is named), 1 could not check, 2 usage",
                                args, options, vm)) {
    return *code;
  }
  if (progress != "auto" && progress != "bar" && progress != "lines" && progress != "none") {
    return fail("audit verify", Status::invalid("--progress", "\"" + progress + "\" is not auto, bar, lines or none"));
  }
  auto live = open_views(data);
  if (!live.is_ok()) return fail("audit verify", live.status());
  auto log = open_events_reader(source);
  if (!log.is_ok()) return fail("audit verify", log.status());

  const bool terminal = progress == "bar" || (progress == "auto" && isatty(STDERR_FILENO));
  audit::ProgressReporter reporter(stderr, terminal);
  audit::VerifyOptions verify_options;
  verify_options.scratch_dir = scratch;
  if (progress != "none") {
    verify_options.replay.on_progress = [&](const audit::ReplayProgress& p) { reporter.update(p); };
  }
  auto report = audit::verify(*live.value(), *log.value(), verify_options);
  if (progress != "none" && terminal) std::fputc('\n', stderr);
  if (!report.is_ok()) return fail("audit verify", report.status());
  std::fputs(audit::format_verify_report(report.value()).c_str(), stdout);
  std::fflush(stdout);
  return report.value().ok() ? exit_ok : exit_views_differ;
}

int run_export(const Args& args) {
  std::string org, data = "tally-data", from, to, format, output = "-";
  bool summary = false;
  po::options_description options("options");
  options.add_options()
      ("org", po::value(&org)->required(), "org id")
      ("data", po::value(&data)->default_value("tally-data"), "data directory of the views (DIR or DIR/views)")
      ("from", po::value(&from), "first time included: Unix ms or ISO-8601 UTC (2026-11-01, 2026-11-01T12:00:00Z)")
      ("to", po::value(&to), "first time excluded (the range is [from, to))")
      ("format", po::value(&format)->required(), "csv, jsonl or html")
      ("summary", po::bool_switch(&summary), "only the reconciliation")
      ("output,o", po::value(&output)->default_value("-"), "file to write (created 0600), - for standard output");
  po::positional_options_description positional;
  positional.add("org", 1);
  po::variables_map vm;
  if (auto code = parse_options("audit export", "ORG --data DIR [--from T] [--to T] --format csv|jsonl|html [--summary]",
                                args, options, vm, &positional)) {
    return *code;
  }
  audit::StatementOptions statement;
  statement.org_id = org;
  statement.summary_only = summary;
  auto parsed_format = audit::parse_statement_format(format);
  if (!parsed_format.is_ok()) return fail("audit export", parsed_format.status());
  statement.format = parsed_format.value();
  if (!from.empty()) {
    auto t = audit::parse_time_bound(from, "--from");
    if (!t.is_ok()) return fail("audit export", t.status());
    statement.from_ms = t.value();
  }
  if (!to.empty()) {
    auto t = audit::parse_time_bound(to, "--to");
    if (!t.is_ok()) return fail("audit export", t.status());
    statement.to_ms = t.value();
  }
  if (statement.from_ms > statement.to_ms) {
    return fail("audit export", Status::invalid("--to", "is before --from"));
  }
  auto views = open_views(data);
  if (!views.is_ok()) return fail("audit export", views.status());

  std::ofstream file;
  if (output != "-") {
    // A statement is ledger data: a file made here is for its owner only (0600; SPEC §10). A file
    // that exists keeps its mode (its owner chose it).
    const int fd = ::open(output.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
    if (fd >= 0) ::close(fd);
    file.open(output, std::ios::binary | std::ios::trunc);
    if (!file) return fail("audit export", Status::invalid("--output", "cannot open " + output + " for writing"));
  }
  std::ostream& out = output == "-" ? std::cout : file;
  auto written = audit::write_statement(*views.value(), statement, out);
  if (!written.is_ok()) return fail("audit export", written.status());
  if (!written.value().org_found) {
    std::fprintf(stderr, "tally audit export: note: org '%s' has no history in these views\n", org.c_str());
  }
  if (!written.value().reconciles()) {
    return fail("audit export", Status::error(Status::Code::corruption, "the statement does not reconcile"));
  }
  return exit_ok;
}

int run_audit(const Args& args) {
  return run_subcommand("audit", audit_usage, args, {{"verify", "", run_verify}, {"export", "", run_export}});
}

const CommandRegistrar registrar{
    {"audit", "verify the views against a replay of the log; export an org's statement", run_audit}};

}  // namespace
}  // namespace tally::cli
