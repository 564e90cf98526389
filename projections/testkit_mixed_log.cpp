// testkit::append_mixed_log (projections/testkit.h): a log with what producers get wrong mixed in.
#include <random>
#include <string>
#include <vector>

#include "engine/event_factory.h"
#include "engine/partitioner.h"
#include "projections/testkit.h"

namespace tally::testkit {

void append_mixed_log(MemoryLog& log, uint64_t seed, int orgs, std::size_t per_round, int64_t clock_ms) {
  constexpr int64_t cr = 1'000'000;
  const int32_t partition_count = log.partitions();
  log.set_clock([clock_ms] { return clock_ms; });
  WorkloadOptions options;
  options.seed = seed;
  options.partitions = partition_count;
  options.orgs = orgs;
  WorkloadGenerator generator(options);
  std::mt19937_64 rng(seed ^ 0x9a17);
  std::vector<AppendRequest> chunk, org_events;
  const auto wrong = [&](std::string_view org) {
    return PartitionId{(partition_for_key(org, partition_count) + 1 + static_cast<int32_t>(rng() % 3)) % partition_count};
  };
  for (int round = 0; round < 30; ++round) {
    chunk.clear();
    generator.generate(per_round, chunk);
    log.append_all(chunk);
    for (const AppendRequest& r : chunk) {
      if (!r.to_every_partition) org_events.push_back(r);
    }
    for (int i = 0; i < 3; ++i) {  // a copy of a real event, in a wrong partition
      const AppendRequest& r = org_events[rng() % org_events.size()];
      log.append_to(wrong(r.key), r.key, r.value);
    }
    const std::string ghost = "ghost-" + std::to_string(rng() % 6);
    const std::string bytes = make_purchase(EventHeader{"g" + std::to_string(round), ghost, 1'580'600'000'000},
                                            {cr, 100, "usd", 0, 1, "g" + std::to_string(round)});
    log.append_to(rng() % 2 ? wrong(ghost) : PartitionId{partition_for_key(ghost, partition_count)}, ghost, bytes);
    const std::string org = "org-" + std::to_string(rng() % static_cast<uint64_t>(orgs));
    log.append(org, make_purchase(EventHeader{"skew" + std::to_string(round), org, clock_ms + 86'400'000},
                                  {cr, 100, "usd", 0, 1, "s"}));
    log.append_to(PartitionId{static_cast<int32_t>(rng() % static_cast<uint64_t>(partition_count))}, {},
                  "garbage " + std::to_string(round));
  }
}

}  // namespace tally::testkit
