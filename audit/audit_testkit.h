// Test support for the audit tests (header-only, tests only): temporary directories, journals
// filled with the projector's workload generator or with hand-made events, and a "live" projector
// run to compare against.
#pragma once

#include <stdlib.h>

#include <boost/test/unit_test.hpp>
#include <filesystem>
#include <memory>
#include <ostream>
#include <string>
#include <vector>

#include "log/journal.h"
#include "projections/projector.h"
#include "projections/testkit.h"
#include "tests/support/temp_dir.h"

namespace tally {
// Lets BOOST_TEST print digests when two differ.
inline std::ostream& boost_test_print_type(std::ostream& out, const Digest128& digest) {
  return out << digest.to_hex();
}
}  // namespace tally

namespace tally::audit::testing {

template <typename T>
T ok(Result<T> result) {
  BOOST_REQUIRE_MESSAGE(result.is_ok(), result.status().to_string());
  return std::move(result.value());
}
inline void ok(const Status& status) { BOOST_REQUIRE_MESSAGE(status.is_ok(), status.to_string()); }

using test_support::TempDir;

inline std::unique_ptr<Journal> open_journal(const std::string& dir, int32_t partitions) {
  return ok(Journal::open(dir, journal_options(partitions, 1)));
}

// Appends `events` records of the mixed workload (usage, purchases, refunds, duplicates,
// conflicts, rejects, auto-refills answered like the recharge connector) to the journal.
inline void write_workload(Journal& journal, uint64_t seed, std::size_t events, int32_t partitions, int orgs = 40) {
  testkit::WorkloadOptions options;
  options.seed = seed;
  options.partitions = partitions;
  options.orgs = orgs;
  testkit::WorkloadGenerator generator(options);
  auto writer = ok(journal.writer(journal_events_topic));
  std::vector<AppendRequest> batch;
  while (generator.generated() < events) {
    batch.clear();
    generator.generate(std::min<std::size_t>(5'000, events - generator.generated()), batch);
    ok(writer->append(batch));
  }
}

// Appends records one call each and returns their positions (to_every_partition: the first).
inline std::vector<LogPosition> append(Journal& journal, const std::vector<AppendRequest>& records) {
  auto writer = ok(journal.writer(journal_events_topic));
  return ok(writer->append(records));
}

// The live projector: projects the journal into `data_dir` until every partition is applied up to
// `records_max` records in total (default: all of it), with small odd batches so that its batch
// boundaries and partition interleaving differ from a replay's.
inline void project_live(Journal& journal, const std::string& data_dir, std::size_t records_max = SIZE_MAX) {
  ProjectorOptions options;
  options.batch_events_max = 997;
  options.run_batches_max = 1;  // stop close to records_max
  options.poll_timeout_ms = 0;
  options.map_size_bytes = std::size_t{64} << 20;
  auto projector = ok(Projector::open(data_dir, options));
  auto reader = ok(journal.reader(journal_events_topic));
  ok(projector->start(*reader));
  std::size_t done = 0;
  while (done < records_max) {
    bool caught_up = true;
    for (int32_t p = 0; p < reader->partition_count(); ++p) {
      caught_up &= projector->applied_offset(PartitionId{p}) >= ok(reader->end_offset(PartitionId{p}));
    }
    if (caught_up) return;
    done += ok(projector->run_once(*reader));
  }
}

}  // namespace tally::audit::testing
