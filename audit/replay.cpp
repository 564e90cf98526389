#include "audit/replay.h"

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <system_error>

#include "projections/projector.h"

namespace tally::audit {
namespace {

using Clock = std::chrono::steady_clock;

// Polls in a row that return only records past the end offsets before poll() gives up and returns
// nothing: bounds the work done for a log that is being appended to while we replay it.
inline constexpr int filtered_polls_max = 64;

// A LogReader that ends each partition at a fixed offset: records at or past it are dropped and
// end_offset() reports it. This is what makes a replay of a live log well defined.
class BoundedReader final : public LogReader {
 public:
  BoundedReader(LogReader& inner, std::vector<Offset> end) : inner_(inner), end_(std::move(end)) {}

  int32_t partition_count() const override { return inner_.partition_count(); }
  std::string identity() const override { return inner_.identity(); }
  Status seek(PartitionId partition, Offset offset) override { return inner_.seek(partition, offset); }

  Status poll(std::vector<LogRecord>& out, std::size_t records_max, int timeout_ms) override {
    for (int attempt = 0; attempt < filtered_polls_max; ++attempt) {
      if (Status s = inner_.poll(out, records_max, timeout_ms); !s.is_ok()) return s;
      if (out.empty()) return Status::ok();
      std::erase_if(out, [&](const LogRecord& r) {
        return r.position.offset >= end_[static_cast<std::size_t>(r.position.partition.value)];
      });
      if (!out.empty()) return Status::ok();
      timeout_ms = 0;
    }
    return Status::ok();
  }

  Result<Offset> end_offset(PartitionId partition) override {
    return end_[static_cast<std::size_t>(partition.value)];
  }

 private:
  LogReader& inner_;
  std::vector<Offset> end_;
};

double seconds_since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

Result<std::vector<Offset>> resolve_end_offsets(LogReader& log, const ReplayOptions& options) {
  const auto count = static_cast<std::size_t>(log.partition_count());
  if (options.end_offsets.size() > count) {
    return Status::invalid("end_offsets", std::to_string(options.end_offsets.size()) +
                                              " end offsets for a log of " + std::to_string(count) + " partitions");
  }
  std::vector<Offset> end(count);
  for (std::size_t p = 0; p < count; ++p) {
    if (p < options.end_offsets.size()) {
      end[p] = options.end_offsets[p];
      continue;
    }
    auto log_end = log.end_offset(PartitionId{static_cast<int32_t>(p)});
    if (!log_end.is_ok()) return log_end.status();
    end[p] = log_end.value();
  }
  return end;
}

}  // namespace

Status check_empty_dir(const std::string& dir) {
  std::error_code error;
  const auto status = std::filesystem::status(dir, error);
  if (!std::filesystem::exists(status)) return Status::ok();
  if (!std::filesystem::is_directory(status)) {
    return Status::invalid("into", dir + " exists and is not a directory; replay needs a new or empty directory");
  }
  if (!std::filesystem::is_empty(dir, error) || error) {
    return Status::invalid("into", dir + " is not empty; replay needs a new or empty directory (folding into "
                                         "existing views would mix two folds)");
  }
  return Status::ok();
}

namespace {

// The partitions and digests of the views a replay folded into `into_dir`.
Status read_replayed_views(const std::string& into_dir, ReplayResult& result) {
  auto views = ViewReader::open(into_dir);
  if (!views.is_ok()) return views.status();
  auto partitions = views.value()->partitions();
  if (!partitions.is_ok()) return partitions.status();
  result.partitions.resize(result.end_offsets.size());
  for (std::size_t p = 0; p < result.partitions.size(); ++p) result.partitions[p].partition = PartitionId{static_cast<int32_t>(p)};
  for (const PartitionView& view : partitions.value()) {
    const auto p = static_cast<std::size_t>(view.partition.value);
    if (p < result.partitions.size()) result.partitions[p] = view;
  }
  auto digests = views.value()->digests();
  if (!digests.is_ok()) return digests.status();
  result.digests = std::move(digests.value());
  return Status::ok();
}

}  // namespace

Result<ReplayResult> replay(LogReader& log, const std::string& into_dir, const ReplayOptions& options) {
  if (Status s = check_empty_dir(into_dir); !s.is_ok()) return s;
  auto end = resolve_end_offsets(log, options);
  if (!end.is_ok()) return end.status();
  ReplayResult result;
  result.end_offsets = end.value();

  ReplayProgress progress;
  for (Offset o : result.end_offsets) progress.events_total += static_cast<uint64_t>(std::max<int64_t>(o.value, 0));
  const auto started_at = Clock::now();
  {
    ProjectorOptions projector_options;
    projector_options.batch_events_max = options.batch_events_max;
    projector_options.map_size_bytes = options.map_size_bytes;
    projector_options.poll_timeout_ms = 100;
    projector_options.batch_time_max_ms = 1000;
    auto last_progress_at = Clock::now();
    // Progress after every committed batch (run_once may commit several).
    projector_options.on_commit = [&](const CommittedBatch& batch) {
      last_progress_at = Clock::now();
      progress.events_done += batch.events;
      progress.elapsed_s = seconds_since(started_at);
      if (options.on_progress) options.on_progress(progress);
    };
    auto projector = Projector::open(into_dir, projector_options);
    if (!projector.is_ok()) return projector.status();
    Projector& folder = *projector.value();
    BoundedReader bounded(log, result.end_offsets);
    if (Status s = folder.start(bounded); !s.is_ok()) return s;

    const auto reached_end = [&] {
      for (std::size_t p = 0; p < result.end_offsets.size(); ++p) {
        if (folder.applied_offset(PartitionId{static_cast<int32_t>(p)}) < result.end_offsets[p]) return false;
      }
      return true;
    };
    while (!reached_end()) {
      auto committed = folder.run_once(bounded);
      if (!committed.is_ok()) return committed.status();
      if (committed.value() == 0) {
        if (seconds_since(last_progress_at) * 1000 >= options.stall_timeout_ms) {
          std::string where;
          for (std::size_t p = 0; p < result.end_offsets.size(); ++p) {
            const Offset applied = folder.applied_offset(PartitionId{static_cast<int32_t>(p)});
            if (applied < result.end_offsets[p]) {
              where = "partition " + std::to_string(p) + " stopped at offset " + std::to_string(applied.value) +
                      " of " + std::to_string(result.end_offsets[p].value);
              break;
            }
          }
          return Status::error(Status::Code::unavailable, "the log delivered nothing for " +
                                                              std::to_string(options.stall_timeout_ms) +
                                                              " ms before its end: " + where);
        }
      }
    }
  }  // the projector closes here: its lock and write environment go before the views are read
  result.events = progress.events_done;
  result.elapsed_s = seconds_since(started_at);
  progress.elapsed_s = result.elapsed_s;
  if (options.on_progress) options.on_progress(progress);

  if (Status s = read_replayed_views(into_dir, result); !s.is_ok()) return s;
  return result;
}

std::string format_replay_report(const ReplayResult& result) {
  std::string out;
  for (const PartitionView& p : result.partitions) {
    out += "partition " + std::to_string(p.partition.value) + " next_offset " + std::to_string(p.next_offset.value) +
           " records " + std::to_string(p.records) + " chain " + p.chain.to_hex() + "\n";
  }
  for (const auto& [name, digest] : result.digests) {
    if (name != "all") out += "view " + name + " " + digest.to_hex() + "\n";
  }
  const auto all = result.digests.find("all");
  out += "digest " + (all == result.digests.end() ? Digest128{}.to_hex() : all->second.to_hex()) + "\n";
  return out;
}

}  // namespace tally::audit
