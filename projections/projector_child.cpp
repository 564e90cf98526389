// projector_child JOURNAL_DIR DATA_DIR [BATCH_EVENTS_MAX [MAP_SIZE_BYTES]]
//
// The process the crash test kills: opens the journal and the projector, projects the "events"
// topic until every partition is applied up to its end, and exits 0. Exit 1 with a message on
// stderr for any error. A small initial map (default 1 MiB) makes map growth part of the crash
// test too.
#include <cstdio>
#include <cstdlib>
#include <string>

#include "log/journal.h"
#include "projections/projector.h"

using namespace tally;

namespace {
int fail(const std::string& what, const Status& status) {
  std::fprintf(stderr, "projector_child: %s: %s\n", what.c_str(), status.to_string().c_str());
  return 1;
}
}  // namespace

int main(int argc, char** argv) {
  if (argc < 3) {
    std::fprintf(stderr, "usage: projector_child JOURNAL_DIR DATA_DIR [BATCH_EVENTS_MAX [MAP_SIZE_BYTES]]\n");
    return 2;
  }
  JournalOptions journal_options;
  journal_options.create_if_missing = false;
  auto journal = Journal::open(argv[1], journal_options);
  if (!journal.is_ok()) return fail("open journal", journal.status());
  auto reader = journal.value()->reader(journal_events_topic);
  if (!reader.is_ok()) return fail("open reader", reader.status());

  ProjectorOptions options;
  options.batch_events_max = argc > 3 ? std::strtoull(argv[3], nullptr, 10) : 10'000;
  options.map_size_bytes = argc > 4 ? std::strtoull(argv[4], nullptr, 10) : std::size_t{1} << 20;
  options.poll_timeout_ms = 0;
  auto projector = Projector::open(argv[2], options);
  if (!projector.is_ok()) return fail("open projector", projector.status());
  LogReader& log = *reader.value();
  if (Status s = projector.value()->start(log); !s.is_ok()) return fail("start", s);
  for (;;) {
    auto done = projector.value()->run_once(log);
    if (!done.is_ok()) return fail("run_once", done.status());
    if (done.value() > 0) continue;
    bool caught_up = true;
    for (int32_t p = 0; p < log.partition_count(); ++p) {
      auto end = log.end_offset(PartitionId{p});
      if (!end.is_ok()) return fail("end_offset", end.status());
      caught_up &= projector.value()->applied_offset(PartitionId{p}) >= end.value();
    }
    if (caught_up) return 0;
  }
}
