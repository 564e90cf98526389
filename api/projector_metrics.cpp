#include "api/projector_metrics.h"

#include <cstdio>
#include <utility>

namespace tally::api {
namespace {

std::string seconds(uint64_t micros) {
  char text[40];
  std::snprintf(text, sizeof text, "%llu.%06llu", static_cast<unsigned long long>(micros / 1'000'000),
                static_cast<unsigned long long>(micros % 1'000'000));
  return text;
}

std::string seconds(int64_t micros) { return seconds(static_cast<uint64_t>(micros < 0 ? 0 : micros)); }

}  // namespace

void append_projector_metrics(const ProjectorMetrics& m, std::string& out) {
  out += "# HELP tally_projector_batch_commit_seconds Fold + LMDB write + fsync per batch (this process).\n";
  out += "# TYPE tally_projector_batch_commit_seconds summary\n";
  out += "tally_projector_batch_commit_seconds_sum " + seconds(m.total_commit_latency_us) + "\n";
  out += "tally_projector_batch_commit_seconds_count " + std::to_string(m.batches) + "\n";
  out += "# HELP tally_projector_batch_commit_seconds_last The last batch's commit latency.\n";
  out += "# TYPE tally_projector_batch_commit_seconds_last gauge\n";
  out += "tally_projector_batch_commit_seconds_last " + seconds(m.last_commit_latency_us) + "\n";
  out += "# HELP tally_projector_batch_commit_seconds_max The slowest batch commit since start.\n";
  out += "# TYPE tally_projector_batch_commit_seconds_max gauge\n";
  out += "tally_projector_batch_commit_seconds_max " + seconds(m.max_commit_latency_us) + "\n";
  // Where the commit time went (sums over the batches above): the batch's fold, its puts into the
  // write transaction, and mdb_txn_commit (page writes and the device flush).
  for (const auto& [stage, micros] : {std::pair{"fold", m.total_fold_us}, std::pair{"write", m.total_write_us},
                                      std::pair{"sync", m.total_sync_us}}) {
    out += std::string("# HELP tally_projector_") + stage + "_seconds_total Batch time spent in the " + stage +
           " stage (this process).\n";
    out += std::string("# TYPE tally_projector_") + stage + "_seconds_total counter\n";
    out += std::string("tally_projector_") + stage + "_seconds_total " + seconds(micros) + "\n";
  }
  out += "# HELP tally_projector_process_events_total Records folded by this process since start.\n";
  out += "# TYPE tally_projector_process_events_total counter\n";
  out += "tally_projector_process_events_total " + std::to_string(m.events) + "\n";
  out += "# HELP tally_projector_map_grows_total LMDB map growths (MDB_MAP_FULL, batch refolded).\n";
  out += "# TYPE tally_projector_map_grows_total counter\n";
  out += "tally_projector_map_grows_total " + std::to_string(m.map_grows) + "\n";
  out += "# HELP tally_projector_batch_retries_total Batches put again after map growth, or refolded after MDB_TXN_FULL.\n";
  out += "# TYPE tally_projector_batch_retries_total counter\n";
  out += "tally_projector_batch_retries_total " + std::to_string(m.batch_retries) + "\n";
  out += "# HELP tally_projector_commit_retries_total Batch commits that failed (disk full, I/O error) and were retried.\n";
  out += "# TYPE tally_projector_commit_retries_total counter\n";
  out += "tally_projector_commit_retries_total " + std::to_string(m.commit_retries) + "\n";
}

}  // namespace tally::api
