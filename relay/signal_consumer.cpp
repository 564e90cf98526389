#include "relay/signal_consumer.h"

#include <algorithm>
#include <cstdio>
#include <sstream>

namespace tally::connectors {
namespace {

// Progress lines: "log <identity>", "partitions <n>", "offset <partition> <next>", "seen <id>".
constexpr std::string_view log_prefix = "log ";
constexpr std::string_view partitions_prefix = "partitions ";
constexpr std::string_view offset_prefix = "offset ";
constexpr std::string_view seen_prefix = "seen ";

bool starts_with(const std::string& line, std::string_view prefix) { return line.rfind(prefix, 0) == 0; }

}  // namespace

Result<std::unique_ptr<SignalConsumer>> SignalConsumer::open(LogReader& signals, SignalConsumerOptions options) {
  auto progress = ProgressFile::open(options.progress_path);
  if (!progress.is_ok()) return progress.status();
  std::unique_ptr<SignalConsumer> consumer(new SignalConsumer(signals, std::move(options), std::move(progress.value())));
  if (Status s = consumer->load(); !s.is_ok()) return s;
  if (Status s = consumer->reseek(); !s.is_ok()) return s;
  return consumer;
}

Status SignalConsumer::load() {
  auto lines = progress_->load();
  if (!lines.is_ok()) return lines.status();
  const int32_t partitions = signals_.partition_count();
  identity_ = signals_.identity();
  next_offsets_.assign(static_cast<std::size_t>(partitions), Offset{0});
  const std::string& path = options_.progress_path;
  auto bad = [&](const std::string& line) {
    return Status::error(Status::Code::corruption, path + ": bad line '" + line + "'");
  };
  for (const std::string& line : lines.value()) {
    if (starts_with(line, log_prefix)) {
      const std::string stored = line.substr(log_prefix.size());
      if (stored != identity_) {
        return Status::error(Status::Code::conflict, path + " records positions in " + stored + ", not in " +
                                                         identity_ + ": remove it to read this log from the start");
      }
    } else if (starts_with(line, partitions_prefix)) {
      if (line.substr(partitions_prefix.size()) != std::to_string(partitions)) {
        return Status::error(Status::Code::conflict, path + " was written for " + line.substr(partitions_prefix.size()) +
                                                         " signals partitions, the log has " + std::to_string(partitions));
      }
    } else if (starts_with(line, offset_prefix)) {
      std::istringstream in(line.substr(offset_prefix.size()));
      int64_t partition = -1;
      int64_t offset = -1;
      if (!(in >> partition >> offset) || partition < 0 || partition >= partitions || offset < 0) return bad(line);
      next_offsets_[static_cast<std::size_t>(partition)] = Offset{offset};
    } else if (starts_with(line, seen_prefix)) {
      remember(line.substr(seen_prefix.size()));
    } else {
      return bad(line);
    }
  }
  dirty_ = false;
  return Status::ok();
}

void SignalConsumer::remember(const std::string& signal_id) {
  if (!seen_.insert(signal_id).second) return;
  seen_order_.push_back(signal_id);
  while (seen_order_.size() > consumer_seen_ids_max) {
    seen_.erase(seen_order_.front());
    seen_order_.pop_front();
  }
}

Status SignalConsumer::store_position() {
  std::vector<std::string> lines;
  lines.reserve(2 + next_offsets_.size() + seen_order_.size());
  lines.push_back(std::string(log_prefix) + identity_);
  lines.push_back(std::string(partitions_prefix) + std::to_string(next_offsets_.size()));
  for (std::size_t p = 0; p < next_offsets_.size(); ++p) {
    lines.push_back(std::string(offset_prefix) + std::to_string(p) + " " + std::to_string(next_offsets_[p].value));
  }
  for (const std::string& id : seen_order_) lines.push_back(std::string(seen_prefix) + id);
  if (Status s = progress_->store(lines); !s.is_ok()) return s;
  dirty_ = false;
  return Status::ok();
}

Status SignalConsumer::reseek() {
  for (std::size_t p = 0; p < next_offsets_.size(); ++p) {
    if (Status s = signals_.seek(PartitionId{static_cast<int32_t>(p)}, next_offsets_[p]); !s.is_ok()) return s;
  }
  return Status::ok();
}

void SignalConsumer::report(const Status& status) const {
  if (options_.on_error) {
    options_.on_error(status);
  } else {
    std::fprintf(stderr, "tally %s: %s\n", options_.name.c_str(), status.to_string().c_str());
  }
}

Result<std::size_t> SignalConsumer::run_once(const SignalHandler& handle, int timeout_ms) {
  std::vector<LogRecord> records;
  if (Status s = signals_.poll(records, consumer_poll_records_max, timeout_ms); !s.is_ok()) return s;
  std::size_t consumed = 0;
  Status failure;
  for (const LogRecord& record : records) {
    const auto partition = static_cast<std::size_t>(record.position.partition.value);
    if (partition >= next_offsets_.size() || record.position.offset < next_offsets_[partition]) continue;
    // A damaged journal frame is reported and skipped like an undecodable record.
    auto signal = record.damaged() ? Result<SignalRecord>(Status::error(Status::Code::corruption, std::string(record.damage)))
                                   : decode_signal_record(record.value);
    if (!signal.is_ok()) {
      report(Status::error(signal.status().code(), "skipping signals record at " + record.position.to_string() +
                                                       ": " + signal.status().message()));
    } else if (seen_.count(signal->signal_id) != 0) {
      ++duplicates_;
    } else {
      auto handled = handle(signal.value());
      if (!handled.is_ok()) {
        failure = handled.status();
        break;
      }
      remember(signal->signal_id);
      next_offsets_[partition] = Offset{record.position.offset.value + 1};
      ++consumed;
      if (handled.value() == Handled::acted) {
        if (Status s = store_position(); !s.is_ok()) return s;
      } else {
        dirty_ = true;
      }
      continue;
    }
    next_offsets_[partition] = Offset{record.position.offset.value + 1};
    dirty_ = true;
    ++consumed;
  }
  if (dirty_) {
    if (Status s = store_position(); !s.is_ok()) return s;
  }
  if (!failure.is_ok()) {
    // Records after the failed one were read but not handled: read them again next time.
    if (Status s = reseek(); !s.is_ok()) return s;
    return failure;
  }
  return consumed;
}

void SignalConsumer::run(const SignalHandler& handle) {
  int64_t backoff_ms = consumer_retry_backoff_ms_initial;
  while (!waker_.stopped()) {
    auto consumed = run_once(handle);
    if (consumed.is_ok()) {
      backoff_ms = consumer_retry_backoff_ms_initial;
      continue;
    }
    if (waker_.stopped()) return;
    report(consumed.status());
    if (!waker_.sleep_for(backoff_ms)) return;
    backoff_ms = std::min(backoff_ms * 2, consumer_retry_backoff_ms_max);
  }
}

}  // namespace tally::connectors
