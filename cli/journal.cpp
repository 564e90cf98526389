// `tally journal check DIR`: reads every record of an embedded journal, read-only (the files are
// opened with MDB_RDONLY: nothing is written, not even a new topic), and lists each damaged record
// with its topic, partition and offset and what is wrong with it (log/journal_check.h), then a
// summary line. Exit status: 0 nothing damaged, 3 damage found (exit_damage_found), 1 could not
// check (no journal, another format version, an I/O error), 2 usage.
// What the projector makes of a damaged record: a reject `damaged_record` (GET /api/v1/rejects),
// and the partition moves on.
#include <cstdio>
#include <string>

#include "audit/text_format.h"
#include "cli/cli_util.h"
#include "log/journal.h"
#include "log/journal_check.h"

namespace tally::cli {
namespace {

// `journal check` ran and found damage.
inline constexpr int exit_damage_found = 3;

constexpr const char* journal_usage =
    "usage: tally journal check DIR\n"
    "(tally journal check --help)\n";

int run_check(const Args& args) {
  std::string dir;
  po::options_description options("options");
  options.add_options()("dir", po::value(&dir)->required(), "the journal directory (e.g. DATA/journal)");
  po::positional_options_description positional;
  positional.add("dir", 1);
  po::variables_map vm;
  if (auto code = parse_options("journal check",
                                "DIR\nreads the journal read-only and lists each damaged record\n"
                                "exit status: 0 nothing damaged, 3 damage found, 1 could not check, 2 usage",
                                args, options, vm, &positional)) {
    return *code;
  }
  JournalOptions journal_options;
  journal_options.create_if_missing = false;
  journal_options.read_only = true;
  auto journal = Journal::open(dir, journal_options);
  if (!journal.is_ok()) return fail("journal check", journal.status());
  auto summary = check_journal(*journal.value(), [](const JournalDamage& damage) {
    const std::string topic = damage.topic.empty() ? "(unknown topic)" : audit::printable_text(damage.topic);
    const std::string where = damage.position.partition.value < 0 ? "(no position)" : damage.position.to_string();
    std::printf("damaged  %s %s: %s\n", topic.c_str(), where.c_str(), audit::printable_text(damage.what).c_str());
  });
  if (!summary.is_ok()) return fail("journal check", summary.status());
  const JournalCheckSummary& s = summary.value();
  std::printf("journal %s (id %s): %zu topics, %zu partitions, %llu records, %llu damaged\n",
              audit::printable_text(dir).c_str(), journal.value()->id().c_str(), s.topics, s.partitions,
              static_cast<unsigned long long>(s.records), static_cast<unsigned long long>(s.damaged));
  std::fflush(stdout);
  return s.damaged == 0 ? exit_ok : exit_damage_found;
}

int run_journal(const Args& args) {
  return run_subcommand("journal", journal_usage, args, {{"check", "", run_check}});
}

const CommandRegistrar registrar{{"journal", "check an embedded journal for damaged records (read-only)", run_journal}};

}  // namespace
}  // namespace tally::cli
