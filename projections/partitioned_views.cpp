// ViewReader (projections/views.h) over a partitioned views directory (projections/
// partitioned_layout.h): one store per events partition, read as one store folding the same log.
//
// Why each call can be answered from the partition stores: an org lives in its home partition
// only, so its state, members, history, usage, grants, early rejects and signals are all in that
// partition's store; records keyed by log position ("rejects", "org_rejects") are in the store of
// their partition, and position order is partition order first, so walking the stores in
// partition order gives the single store's order.
#include <algorithm>
#include <iterator>

#include "engine/assert.h"
#include "engine/limits.h"
#include "engine/partitioner.h"
#include "projections/partitioned_layout.h"
#include "projections/partitioned_views.h"
#include "projections/view_digests.h"

namespace tally {
namespace {

// Entries a merged outbox page reads from one store at a time, at least (it reads more when a
// page wants more of each partition).
inline constexpr std::size_t outbox_merge_fetch_entries_min = 64;

class PartitionedViewReader final : public ViewReader {
 public:
  PartitionedViewReader(std::vector<std::shared_ptr<store::StoreEnv>> envs,
                        std::vector<std::unique_ptr<ViewReader>> readers)
      : envs_(std::move(envs)), readers_(std::move(readers)) {
    TALLY_ASSERT(!readers_.empty() && readers_.size() == envs_.size(), "one reader per partition store");
  }

  Result<std::optional<OrgView>> org(OrgIdView org_id) override { return home(org_id).org(org_id); }

  Result<std::vector<OrgId>> org_ids() override {
    std::vector<OrgId> ids;
    for (const auto& reader : readers_) {
      auto part = reader->org_ids();
      if (!part.is_ok()) return part.status();
      ids.insert(ids.end(), std::make_move_iterator(part->begin()), std::make_move_iterator(part->end()));
    }
    std::sort(ids.begin(), ids.end());  // byte order of the id, as the "orgs" keys of one store
    return ids;
  }

  Result<std::vector<MemberView>> members(OrgIdView org_id) override { return home(org_id).members(org_id); }

  Result<HistoryPage> history(const HistoryQuery& query) override { return home(query.org_id).history(query); }

  Status for_each_history(OrgIdView org_id, int64_t from_ms, int64_t to_ms,
                          const std::function<bool(const HistoryEntry&)>& visit) override {
    return home(org_id).for_each_history(org_id, from_ms, to_ms, visit);
  }

  Result<std::vector<UsageRollup>> usage(OrgIdView org_id, int64_t from_ms, int64_t to_ms) override {
    return home(org_id).usage(org_id, from_ms, to_ms);
  }

  Result<std::vector<Grant>> closed_grants(OrgIdView org_id) override { return home(org_id).closed_grants(org_id); }

  // Early rejects are folded in the org's home partition (a record elsewhere is other_partition).
  Status for_each_early_reject(OrgIdView org_id, int64_t from_ms, int64_t to_ms,
                               const std::function<bool(const HistoryEntry&)>& visit) override {
    return home(org_id).for_each_early_reject(org_id, from_ms, to_ms, visit);
  }

  Result<std::vector<RejectEntry>> rejects(std::size_t limit, std::optional<LogPosition> after) override {
    limit = std::min(limit, rejects_page_entries_max);
    std::vector<RejectEntry> rejects;
    for (int32_t p = after ? first_partition(*after) : 0; p < partition_count() && rejects.size() < limit; ++p) {
      auto part = reader(p).rejects(limit - rejects.size(), after);
      if (!part.is_ok()) return part.status();
      rejects.insert(rejects.end(), std::make_move_iterator(part->begin()), std::make_move_iterator(part->end()));
    }
    return rejects;
  }

  // Not only the home partition's: an org's wrong_partition records (other_partition) are in the
  // stores of the partitions they were appended to.
  Result<RejectPage> org_rejects(const RejectQuery& query) override {
    const std::size_t limit = std::clamp<std::size_t>(query.limit, 1, org_rejects_page_max);
    RejectPage page;
    RejectQuery part_query = query;
    for (int32_t p = first_partition(query.from); p < partition_count(); ++p) {
      const bool full = page.rejects.size() == limit;
      part_query.limit = full ? 1 : limit - page.rejects.size();  // full: is there a next one?
      auto part = reader(p).org_rejects(part_query);
      if (!part.is_ok()) return part.status();
      if (full) {
        if (part->rejects.empty()) continue;
        page.next = part->rejects.front().entry.position;
        return page;
      }
      std::move(part->rejects.begin(), part->rejects.end(), std::back_inserter(page.rejects));
      if (part->next) {
        page.next = part->next;
        return page;
      }
    }
    return page;
  }

  Result<SignalPage> org_signals(const SignalQuery& query) override {
    if (query.after_sequence == UINT64_MAX) return SignalPage{};
    const PartitionId p = home_partition(query.org_id);
    SignalQuery local = query;
    local.after_sequence = partitioned_outbox_local_after(query.after_sequence, p, partition_count());
    auto page = reader(p.value).org_signals(local);
    if (!page.is_ok()) return page.status();
    for (OutboxEntry& entry : page->signals) entry.sequence = merged_sequence(entry.sequence, p);
    if (page->next_after) page->next_after = merged_sequence(*page->next_after, p);
    return page;
  }

  Result<std::vector<OutboxEntry>> outbox(uint64_t after_sequence, std::size_t limit) override;

  Result<std::vector<PartitionView>> partitions() override {
    std::vector<PartitionView> views;
    for (const auto& reader : readers_) {
      auto part = reader->partitions();
      if (!part.is_ok()) return part.status();
      views.insert(views.end(), std::make_move_iterator(part->begin()), std::make_move_iterator(part->end()));
    }
    return views;
  }

  Result<std::vector<ChainMark>> chain_marks(PartitionId partition, Offset from, std::size_t limit) override {
    if (partition.value < 0 || partition.value >= partition_count()) return std::vector<ChainMark>();
    return reader(partition.value).chain_marks(partition, from, limit);
  }

  Result<ProjectionStats> stats() override {
    ProjectionStats stats;
    for (const auto& reader : readers_) {
      auto part = reader->stats();
      if (!part.is_ok()) return part.status();
      stats.batches += part->batches;
      for (const auto& [name, count] : part->outcomes) stats.outcomes[name] += count;
      stats.hold_late += part->hold_late;
      stats.outbox_sent += part->outbox_sent;  // each store's sent entries (its sequences are dense)
    }
    return stats;
  }

  Result<std::map<std::string, Digest128>> digests() override {
    std::vector<store::StoreEnv*> envs;
    for (const auto& env : envs_) envs.push_back(env.get());
    return store::view_digests(envs);
  }

  // Payment refs are globally unique in practice; were one used in two partitions, the lowest
  // partition's purchase is the one found.
  Result<std::optional<PaymentPurchase>> purchase_by_payment(std::string_view payment_ref) override {
    for (const auto& reader : readers_) {
      auto found = reader->purchase_by_payment(payment_ref);
      if (!found.is_ok() || found->has_value()) return found;
    }
    return std::optional<PaymentPurchase>();
  }

  Result<std::vector<ViewStorage>> storage() override {
    std::vector<ViewStorage> views;
    for (const auto& reader : readers_) {
      auto part = reader->storage();
      if (!part.is_ok()) return part.status();
      if (views.empty()) {
        views = std::move(part.value());
        continue;
      }
      TALLY_ASSERT(part->size() == views.size(), "every store has the same views");
      for (std::size_t i = 0; i < views.size(); ++i) {
        views[i].entries += part.value()[i].entries;
        views[i].pages += part.value()[i].pages;
      }
    }
    return views;
  }

 private:
  int32_t partition_count() const { return static_cast<int32_t>(readers_.size()); }
  ViewReader& reader(int32_t partition) { return *readers_[static_cast<std::size_t>(partition)]; }
  // An empty id names no org: any store answers "none" for it.
  PartitionId home_partition(OrgIdView org_id) const {
    return PartitionId{org_id.empty() ? 0 : partition_for_key(org_id.str(), partition_count())};
  }
  ViewReader& home(OrgIdView org_id) { return reader(home_partition(org_id).value); }
  // The first partition holding positions at or after `from`.
  static int32_t first_partition(LogPosition from) { return std::max<int32_t>(0, from.partition.value); }
  uint64_t merged_sequence(uint64_t local_sequence, PartitionId partition) const {
    return partitioned_outbox_sequence(local_sequence, partition, partition_count());
  }

  std::vector<std::shared_ptr<store::StoreEnv>> envs_;
  std::vector<std::unique_ptr<ViewReader>> readers_;  // index = partition
};

// A k-way merge of the stores' outboxes by merged sequence, each store read a few entries at a
// time (a page wants about limit / partitions of each).
Result<std::vector<OutboxEntry>> PartitionedViewReader::outbox(uint64_t after_sequence, std::size_t limit) {
  limit = std::min(limit, outbox_page_entries_max);
  std::vector<OutboxEntry> entries;
  if (limit == 0 || after_sequence == UINT64_MAX) return entries;
  const std::size_t partitions = readers_.size();
  const std::size_t fetch = std::min(limit, std::max(outbox_merge_fetch_entries_min, limit / partitions + 1));
  struct Source {
    std::vector<OutboxEntry> buffer;  // sequences made merged
    std::size_t next = 0;
    uint64_t local_after = 0;
    bool more = true;  // the store may hold entries after the buffer's
  };
  std::vector<Source> sources(partitions);
  const auto refill = [&](std::size_t p) -> Status {
    Source& source = sources[p];
    auto page = readers_[p]->outbox(source.local_after, fetch);
    if (!page.is_ok()) return page.status();
    source.buffer = std::move(page.value());
    source.next = 0;
    source.more = source.buffer.size() == fetch;
    if (!source.buffer.empty()) source.local_after = source.buffer.back().sequence;
    const PartitionId partition{static_cast<int32_t>(p)};
    for (OutboxEntry& entry : source.buffer) entry.sequence = merged_sequence(entry.sequence, partition);
    return Status::ok();
  };
  std::vector<std::size_t> heap;  // partitions with a buffered entry
  const auto after = [&](std::size_t a, std::size_t b) {
    return sources[a].buffer[sources[a].next].sequence > sources[b].buffer[sources[b].next].sequence;
  };
  for (std::size_t p = 0; p < partitions; ++p) {
    sources[p].local_after =
        partitioned_outbox_local_after(after_sequence, PartitionId{static_cast<int32_t>(p)}, partition_count());
    if (Status s = refill(p); !s.is_ok()) return s;
    if (!sources[p].buffer.empty()) heap.push_back(p);
  }
  std::make_heap(heap.begin(), heap.end(), after);
  while (entries.size() < limit && !heap.empty()) {
    std::pop_heap(heap.begin(), heap.end(), after);
    const std::size_t p = heap.back();
    Source& source = sources[p];
    entries.push_back(std::move(source.buffer[source.next++]));
    if (source.next == source.buffer.size() && source.more && entries.size() < limit) {
      if (Status s = refill(p); !s.is_ok()) return s;
    }
    if (source.next < source.buffer.size()) {
      std::push_heap(heap.begin(), heap.end(), after);
    } else {
      heap.pop_back();
    }
  }
  return entries;
}

}  // namespace

Result<std::unique_ptr<ViewReader>> open_partitioned_views(const std::string& root, int32_t partition_count) {
  TALLY_ASSERT(partition_count >= 1 && partition_count <= limits::partitions_max, "a layout's partition count");
  std::vector<std::shared_ptr<store::StoreEnv>> envs;
  std::vector<std::unique_ptr<ViewReader>> readers;
  for (int32_t p = 0; p < partition_count; ++p) {
    auto env = store::StoreEnv::open(partition_store_dir(root, PartitionId{p}), store::StoreEnv::Mode::read_only, 0);
    if (!env.is_ok()) return env.status();
    envs.push_back(env.value());
    readers.push_back(store_view_reader(env.value()));
  }
  return std::unique_ptr<ViewReader>(new PartitionedViewReader(std::move(envs), std::move(readers)));
}

}  // namespace tally
