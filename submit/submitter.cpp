#include "submit/submitter.h"

#include <algorithm>
#include <chrono>
#include <map>

namespace tally::submit {
namespace {

int64_t system_now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::string indexed(bool batch, std::size_t index, const std::string& field) {
  return batch ? "[" + std::to_string(index) + "]." + field : field;
}

}  // namespace

Submitter::Submitter(LogWriter& log, SubmitterOptions options, WaitOutcome wait)
    : log_(log), options_(std::move(options)), wait_(std::move(wait)) {
  if (!options_.now_ms) options_.now_ms = system_now_ms;
}

Status Submitter::check_time(const PreparedEvents& events) const {
  if (!options_.future_skew_max_ms) return Status::ok();
  const int64_t skew_max_ms = *options_.future_skew_max_ms;
  const int64_t now_ms = options_.now_ms();
  for (std::size_t i = 0; i < events.events.size(); ++i) {
    const int64_t at_ms = events.events[i].occurred_at_ms;
    if (at_ms > now_ms && at_ms - now_ms > skew_max_ms) {
      return Status::invalid(indexed(events.batch, i, "occurred_at_ms"),
                             "runs " + std::to_string(at_ms - now_ms) + " ms ahead of the server's clock; at most " +
                                 std::to_string(skew_max_ms) + " ms are allowed");
    }
  }
  return Status::ok();
}

Result<Submitted> Submitter::submit(PreparedEvents events, bool wait) {
  if (Status status = check_time(events); !status.is_ok()) return status;
  Submitted out;
  Result<std::vector<LogPosition>> appended = append(events, out);
  if (!appended.is_ok()) return appended.status();
  if (wait) wait_for_outcomes(out);
  return out;
}

// One append for every event (one position each, or one per partition for an event of no org).
Result<std::vector<LogPosition>> Submitter::append(PreparedEvents& events, Submitted& out) {
  std::vector<AppendRequest> records;
  records.reserve(events.events.size());
  for (PreparedEvent& event : events.events) {
    const bool everywhere = event.org_id.empty();
    records.push_back(AppendRequest{std::move(event.org_id), std::move(event.bytes), everywhere});
  }
  Result<std::vector<LogPosition>> appended = log_.append(records);
  const std::size_t partitions = static_cast<std::size_t>(std::max(log_.partition_count(), 1));
  std::size_t expected = 0;
  for (const AppendRequest& record : records) expected += record.to_every_partition ? partitions : 1;
  if (!appended.is_ok() || appended->size() != expected) {
    const std::string why = appended.is_ok() ? "the log returned " + std::to_string(appended->size()) +
                                                   " positions for " + std::to_string(expected) + " records"
                                             : appended.status().to_string();
    return Status::error(Status::Code::unavailable, "could not append to the log: " + why);
  }
  out.events.resize(records.size());
  auto next = appended->begin();
  for (std::size_t i = 0; i < records.size(); ++i) {
    const auto count = static_cast<std::ptrdiff_t>(records[i].to_every_partition ? partitions : 1);
    out.events[i].positions.assign(next, next + count);
    next += count;
  }
  return appended;
}

// Each partition is committed in offset order, so waiting first for the last position of each
// partition leaves every other outcome ready to read at once.
void Submitter::wait_for_outcomes(Submitted& out) const {
  out.waited = true;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(options_.wait_timeout_ms);
  const auto left_ms = [&] {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    return static_cast<int>(std::clamp<int64_t>(left.count(), 0, INT32_MAX));
  };
  const auto wait_one = [&](LogPosition position) {
    if (!wait_) return OutcomeWait{OutcomeWait::State::expired, {}};
    return wait_(position, left_ms());
  };
  std::map<int32_t, LogPosition> last;
  for (const SubmittedEvent& event : out.events) {
    for (const LogPosition& p : event.positions) {
      auto [it, inserted] = last.emplace(p.partition.value, p);
      if (!inserted && it->second < p) it->second = p;
    }
  }
  for (const auto& [partition, position] : last) {
    if (wait_one(position).state == OutcomeWait::State::timed_out) break;  // the rest will time out too
  }
  for (SubmittedEvent& event : out.events) {
    for (const LogPosition& p : event.positions) event.outcomes.push_back(wait_one(p));
  }
}

}  // namespace tally::submit
