#include "relay/outbox_emitter.h"

#include <algorithm>
#include <cstdio>
#include <span>
#include <vector>

#include "relay/signal_record.h"

namespace tally::connectors {
namespace {

void report(const OutboxEmitterOptions& options, const Status& status) {
  if (options.on_error) {
    options.on_error(status);
  } else {
    std::fprintf(stderr, "tally emitter: %s\n", status.to_string().c_str());
  }
}

}  // namespace

Result<std::unique_ptr<OutboxEmitter>> OutboxEmitter::open(ViewReader& views, LogWriter& signals,
                                                           OutboxEmitterOptions options) {
  if (options.page_entries == 0 || options.page_entries > emitter_page_entries_max) {
    return Status::invalid("page_entries", "must be 1.." + std::to_string(emitter_page_entries_max));
  }
  if (!options.record_sent) return Status::invalid("record_sent", "is required");
  auto stats = views.stats();
  if (!stats.is_ok()) return stats.status();
  const uint64_t sent = stats->outbox_sent;
  return std::unique_ptr<OutboxEmitter>(new OutboxEmitter(views, signals, std::move(options), sent));
}

Result<std::size_t> OutboxEmitter::run_once() {
  const uint64_t after = sent_.load();
  auto page = views_.outbox(after, options_.page_entries);
  if (!page.is_ok()) return page.status();
  if (page->empty()) return std::size_t{0};
  std::vector<AppendRequest> requests;
  requests.reserve(page->size());
  uint64_t expected = after + 1;
  for (const OutboxEntry& entry : page.value()) {
    // The outbox is dense: a gap means the views are not the ones this progress belongs to.
    if (entry.sequence != expected) {
      return Status::error(Status::Code::corruption, "outbox sequence " + std::to_string(entry.sequence) +
                                                         " where " + std::to_string(expected) + " was expected");
    }
    ++expected;
    auto signal = decode_signal_record(entry.bytes);
    if (!signal.is_ok()) {
      return Status::error(Status::Code::corruption,
                           "outbox entry " + std::to_string(entry.sequence) + ": " + signal.status().message());
    }
    requests.push_back(AppendRequest{signal->org_id, entry.bytes, false});
  }
  auto appended = signals_.append(std::span<const AppendRequest>(requests));
  if (!appended.is_ok()) return appended.status();
  if (options_.fault_hook) options_.fault_hook(fault_emitter_after_append);
  const uint64_t last = page->back().sequence;
  if (Status s = options_.record_sent(last); !s.is_ok()) return s;
  sent_.store(last);
  return page->size();
}

void OutboxEmitter::run() {
  int64_t backoff_ms = emitter_retry_backoff_ms_initial;
  while (!waker_.stopped()) {
    auto sent = run_once();
    if (!sent.is_ok()) {
      report(options_, sent.status());
      if (!waker_.sleep_for(backoff_ms)) return;
      backoff_ms = std::min(backoff_ms * 2, emitter_retry_backoff_ms_max);
      continue;
    }
    backoff_ms = emitter_retry_backoff_ms_initial;
    if (sent.value() > 0) continue;  // more may be waiting
    if (!waker_.wait_for(emitter_idle_check_ms)) return;
  }
}

}  // namespace tally::connectors
