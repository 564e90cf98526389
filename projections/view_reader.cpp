// ViewReader (projections/views.h) over the LMDB store (projections/store.h).
#include <algorithm>
#include <tuple>

#include "engine/calendar.h"
#include "engine/state_codec.h"
#include "projections/index_reads.h"
#include "projections/partitioned_layout.h"
#include "projections/partitioned_views.h"
#include "projections/records.h"
#include "projections/store.h"
#include "projections/store_cursor.h"
#include "projections/view_digests.h"
#include "projections/views.h"

namespace tally {
namespace {

using store::corrupt;
using store::Cursor;
using store::has_prefix;
using store::Db;
using store::from_val;
using store::ReadTxn;
using store::to_val;

inline constexpr std::size_t history_page_entries_max = 10'000;

class LmdbViewReader final : public ViewReader {
 public:
  explicit LmdbViewReader(std::shared_ptr<store::StoreEnv> env) : env_(std::move(env)) {}

  Result<std::optional<OrgView>> org(OrgIdView org_id) override {
    auto txn = ReadTxn::begin(*env_);
    if (!txn.is_ok()) return txn.status();
    std::string_view bytes;
    const int rc = txn->get(Db::orgs, org_id.str(), bytes);
    if (rc == MDB_NOTFOUND) return std::optional<OrgView>();
    if (rc != 0) return store::lmdb_error("mdb_get(orgs)", rc);
    OrgView view{OrgId(org_id), {}};
    if (!decode(bytes, view.state)) return corrupt(Db::orgs);
    return std::optional<OrgView>(std::move(view));
  }

  Result<std::vector<OrgId>> org_ids() override {
    auto txn = ReadTxn::begin(*env_);
    if (!txn.is_ok()) return txn.status();
    Cursor cursor(txn.value(), env_->dbi(Db::orgs));
    std::vector<OrgId> ids;
    // The keys are ids the fold validated before it stored them.
    for (bool ok = cursor.seek({}); ok; ok = cursor.next()) ids.push_back(OrgId::trusted(cursor.key()));
    if (Status s = cursor.end_status("mdb_cursor_get(orgs)"); !s.is_ok()) return s;
    return ids;
  }

  Result<std::vector<MemberView>> members(OrgIdView org_id) override {
    auto txn = ReadTxn::begin(*env_);
    if (!txn.is_ok()) return txn.status();
    std::string prefix;
    store::org_prefix(prefix, org_id);
    Cursor cursor(txn.value(), env_->dbi(Db::members));
    std::vector<MemberView> members;
    for (bool ok = cursor.seek(prefix); ok && has_prefix(cursor.key(), prefix); ok = cursor.next()) {
      MemberView& view = members.emplace_back();
      view.member_id = MemberId::trusted(cursor.key().substr(prefix.size()));  // validated when stored
      if (!decode(cursor.value(), view.state)) return corrupt(Db::members);
    }
    if (Status s = cursor.end_status("mdb_cursor_get(members)"); !s.is_ok()) return s;
    return members;
  }

  Result<HistoryPage> history(const HistoryQuery& query) override {
    const std::size_t limit = std::min(query.limit, history_page_entries_max);
    const uint8_t type = query.type.empty() ? 0 : store::body_type_from_name(query.type);
    if (!query.type.empty() && type == 0) return Status::invalid("type", "unknown event type \"" + query.type + "\"");
    auto txn = ReadTxn::begin(*env_);  // one txn: the early rejects and the history of one batch
    if (!txn.is_ok()) return txn.status();
    HistoryPage page;
    if (query.early_from) {
      Status status = store::scan_early_rejects(txn.value(), *env_, query.org_id.str(), *query.early_from, type,
                                                query.from_ms, query.to_ms, [&](const HistoryEntry& entry) {
                                                  if (page.entries.size() == limit) {
                                                    page.next_early = entry.position;
                                                    return false;
                                                  }
                                                  page.entries.push_back(entry);
                                                  return true;
                                                });
      if (!status.is_ok() || page.next_early) return status.is_ok() ? Result<HistoryPage>(std::move(page)) : status;
    }
    const uint64_t from_sequence = query.early_from ? 0 : query.after_sequence;
    Status status = scan_history(txn.value(), query.org_id, from_sequence, [&](uint64_t sequence, std::string_view bytes) {
      uint8_t body_type = 0;
      int64_t occurred_at_ms = 0;
      if (!store::peek_history(bytes, body_type, occurred_at_ms)) return -1;
      if ((type != 0 && body_type != type) || occurred_at_ms < query.from_ms || occurred_at_ms >= query.to_ms) return 1;
      if (page.entries.size() == limit) {
        page.next_sequence = sequence;  // a further match exists: the next page starts here
        return 0;
      }
      if (!store::decode_history(bytes, sequence, page.entries.emplace_back())) return -1;
      return 1;
    });
    if (!status.is_ok()) return status;
    return page;
  }

  Status for_each_history(OrgIdView org_id, int64_t from_ms, int64_t to_ms,
                          const std::function<bool(const HistoryEntry&)>& visit) override {
    auto txn = ReadTxn::begin(*env_);
    if (!txn.is_ok()) return txn.status();
    HistoryEntry entry;
    return scan_history(txn.value(), org_id, 0, [&](uint64_t sequence, std::string_view bytes) {
      uint8_t body_type = 0;
      int64_t occurred_at_ms = 0;
      if (!store::peek_history(bytes, body_type, occurred_at_ms)) return -1;
      if (occurred_at_ms < from_ms || occurred_at_ms >= to_ms) return 1;
      if (!store::decode_history(bytes, sequence, entry)) return -1;
      return visit(entry) ? 1 : 0;
    });
  }

  Status for_each_early_reject(OrgIdView org_id, int64_t from_ms, int64_t to_ms,
                               const std::function<bool(const HistoryEntry&)>& visit) override {
    auto txn = ReadTxn::begin(*env_);
    if (!txn.is_ok()) return txn.status();
    return store::scan_early_rejects(txn.value(), *env_, org_id.str(), LogPosition{}, 0, from_ms, to_ms, visit);
  }

  Result<RejectPage> org_rejects(const RejectQuery& query) override {
    auto txn = ReadTxn::begin(*env_);
    if (!txn.is_ok()) return txn.status();
    return store::read_org_rejects(txn.value(), *env_, query);
  }

  Result<SignalPage> org_signals(const SignalQuery& query) override {
    auto txn = ReadTxn::begin(*env_);
    if (!txn.is_ok()) return txn.status();
    return store::read_org_signals(txn.value(), *env_, query);
  }

  Result<std::vector<UsageRollup>> usage(OrgIdView org_id, int64_t from_ms, int64_t to_ms) override {
    std::vector<UsageRollup> rollups;
    if (to_ms <= from_ms) return rollups;
    const int64_t first_day = utc_day(from_ms);
    const int64_t last_day = utc_day(to_ms - 1);
    auto txn = ReadTxn::begin(*env_);
    if (!txn.is_ok()) return txn.status();
    // Cells are keyed by day first: one seek per day that holds any cell, skipping empty days.
    std::string prefix;
    Cursor cursor(txn.value(), env_->dbi(Db::usage));
    for (int64_t day = first_day; day <= last_day;) {
      store::usage_day_prefix(prefix, org_id, day);
      if (!cursor.seek(prefix)) break;
      if (cursor.key().size() < store::usage_key_day_bytes) return corrupt(Db::usage);
      if (const int64_t at = store::usage_key_day(cursor.key()); at != day) {
        day = at;  // no cell of the org that day; `at` is the next day with any cell
        continue;
      }
      for (bool ok = true; ok && has_prefix(cursor.key(), prefix); ok = cursor.next()) {
        UsageRollup& rollup = rollups.emplace_back();
        if (!store::decode_usage(cursor.value(), rollup)) return corrupt(Db::usage);
        rollup.day = day;
      }
      ++day;
    }
    if (Status s = cursor.end_status("mdb_cursor_get(usage)"); !s.is_ok()) return s;
    std::sort(rollups.begin(), rollups.end(), [](const UsageRollup& a, const UsageRollup& b) {
      return std::tie(a.day, a.model, a.member_id, a.workspace, a.project, a.agent_id, a.provider, a.billing_path) <
             std::tie(b.day, b.model, b.member_id, b.workspace, b.project, b.agent_id, b.provider, b.billing_path);
    });
    return rollups;
  }

  Result<std::vector<RejectEntry>> rejects(std::size_t limit, std::optional<LogPosition> after) override {
    limit = std::min(limit, rejects_page_entries_max);
    auto txn = ReadTxn::begin(*env_);
    if (!txn.is_ok()) return txn.status();
    Cursor cursor(txn.value(), env_->dbi(Db::rejects));
    std::vector<RejectEntry> rejects;
    std::array<char, 12> from{};
    if (after) from = store::position_key(*after);
    bool ok = cursor.seek(after ? std::string_view(from.data(), from.size()) : std::string_view());
    if (ok && after && cursor.key() == std::string_view(from.data(), from.size())) ok = cursor.next();
    for (; ok && rejects.size() < limit; ok = cursor.next()) {
      if (cursor.key().size() != 12) return corrupt(Db::rejects);
      RejectEntry& entry = rejects.emplace_back();
      entry.position = store::key_position(cursor.key());
      if (!store::decode_reject(cursor.value(), entry)) return corrupt(Db::rejects);
    }
    if (Status s = cursor.end_status("mdb_cursor_get(rejects)"); !s.is_ok()) return s;
    return rejects;
  }

  Result<std::vector<OutboxEntry>> outbox(uint64_t after_sequence, std::size_t limit) override {
    limit = std::min(limit, outbox_page_entries_max);
    auto txn = ReadTxn::begin(*env_);
    if (!txn.is_ok()) return txn.status();
    Cursor cursor(txn.value(), env_->dbi(Db::outbox));
    std::vector<OutboxEntry> entries;
    if (after_sequence == UINT64_MAX) return entries;
    const auto start = store::outbox_key(after_sequence + 1);
    for (bool ok = cursor.seek(std::string_view(start.data(), start.size())); ok && entries.size() < limit;
         ok = cursor.next()) {
      std::string_view id, bytes;
      if (cursor.key().size() != 8 || !store::decode_outbox(cursor.value(), id, bytes)) return corrupt(Db::outbox);
      entries.push_back(OutboxEntry{store::get_u64_be(cursor.key()), std::string(id), std::string(bytes)});
    }
    if (Status s = cursor.end_status("mdb_cursor_get(outbox)"); !s.is_ok()) return s;
    return entries;
  }

  Result<std::vector<PartitionView>> partitions() override {
    auto txn = ReadTxn::begin(*env_);
    if (!txn.is_ok()) return txn.status();
    Cursor cursor(txn.value(), env_->dbi(Db::partitions));
    std::vector<PartitionView> views;
    for (bool ok = cursor.seek({}); ok; ok = cursor.next()) {
      PartitionState state;
      ChainHead chain;
      PartitionView& view = views.emplace_back();
      if (cursor.key().size() != 4 || !store::decode_partition(cursor.value(), view.next_offset, chain, state)) {
        return corrupt(Db::partitions);
      }
      view.partition = PartitionId{static_cast<int32_t>(store::get_u32_be(cursor.key()))};
      view.chain = chain.head;
      view.records = chain.records;
      view.clock_ms = state.clock_ms;
      view.rate_card_version = state.rate_card.version;
      view.holds_active = !state.hold_expiries.empty();
      view.rate_card = std::move(state.rate_card);
    }
    if (Status s = cursor.end_status("mdb_cursor_get(partitions)"); !s.is_ok()) return s;
    return views;
  }

  Result<std::vector<ChainMark>> chain_marks(PartitionId partition, Offset from, std::size_t limit) override {
    auto txn = ReadTxn::begin(*env_);
    if (!txn.is_ok()) return txn.status();
    std::vector<ChainMark> marks;
    Cursor cursor(txn.value(), env_->dbi(Db::chain));
    const auto start = store::position_key(LogPosition{partition, from});
    // The chunk holding `from` starts at or before it.
    bool ok = cursor.seek_last_at_or_before(std::string_view(start.data(), start.size()));
    if (!ok || cursor.key().size() != 12 || store::key_position(cursor.key()).partition != partition) {
      ok = cursor.seek(std::string_view(start.data(), start.size()));
    }
    for (; ok && marks.size() < limit; ok = cursor.next()) {
      if (cursor.key().size() != 12) return corrupt(Db::chain);
      const LogPosition first = store::key_position(cursor.key());
      if (first.partition != partition) break;
      store::ChainChunkReader reader(cursor.value(), first.offset);
      ChainMark mark;
      while (marks.size() < limit && reader.next(mark.offset, mark.mark)) {
        if (mark.offset >= from) marks.push_back(mark);
      }
      if (reader.malformed()) return corrupt(Db::chain);
    }
    if (Status s = cursor.end_status("mdb_cursor_get(chain)"); !s.is_ok()) return s;
    return marks;
  }

  Result<ProjectionStats> stats() override {
    auto txn = ReadTxn::begin(*env_);
    if (!txn.is_ok()) return txn.status();
    ProjectionStats stats;
    std::string_view bytes;
    if (txn->get(Db::meta, store::meta_stats, bytes) == 0) {
      store::StoredStats stored;
      if (!store::decode_stats(bytes, stored)) return corrupt(Db::meta);
      stats.batches = stored.batches;
      for (std::size_t i = 0; i < 4; ++i) stats.outcomes[outcome_name(static_cast<Outcome>(i))] = stored.outcomes[i];
      stats.hold_late = stored.hold_late;
    }
    if (txn->get(Db::meta, store::meta_outbox_sent, bytes) == 0 && bytes.size() == 8) {
      stats.outbox_sent = store::get_u64_be(bytes);
    }
    return stats;
  }

  Result<std::optional<PaymentPurchase>> purchase_by_payment(std::string_view payment_ref) override {
    if (payment_ref.empty() || payment_ref.size() > store::payment_ref_indexed_bytes_max) return std::optional<PaymentPurchase>();
    auto txn = ReadTxn::begin(*env_);
    if (!txn.is_ok()) return txn.status();
    std::string_view bytes;
    int rc = txn->get(Db::payments, payment_ref, bytes);
    if (rc == MDB_NOTFOUND) return std::optional<PaymentPurchase>();
    if (rc != 0) return store::lmdb_error("mdb_get(payments)", rc);
    PaymentPurchase payment;
    if (!store::decode_payment(bytes, payment)) return corrupt(Db::payments);
    std::string purchase_key;
    store::pair_key(purchase_key, payment.org_id, payment.purchase_key);
    rc = txn->get(Db::purchases, purchase_key, bytes);
    if (rc != 0 && rc != MDB_NOTFOUND) return store::lmdb_error("mdb_get(purchases)", rc);
    if (rc == 0) {  // absent only in a damaged store: the payment still names its purchase
      PurchaseRecord record;
      if (!decode(bytes, record)) return corrupt(Db::purchases);
      payment.credits_micros = record.credits_micros;
      payment.refunded_micros = record.refunded_micros;
    }
    return std::optional<PaymentPurchase>(std::move(payment));
  }

  Result<std::vector<Grant>> closed_grants(OrgIdView org_id) override {
    auto txn = ReadTxn::begin(*env_);
    if (!txn.is_ok()) return txn.status();
    std::string prefix;
    store::org_prefix(prefix, org_id);
    Cursor cursor(txn.value(), env_->dbi(Db::grants));
    std::vector<Grant> grants;
    for (bool ok = cursor.seek(prefix); ok && has_prefix(cursor.key(), prefix); ok = cursor.next()) {
      if (!decode(cursor.value(), grants.emplace_back())) return corrupt(Db::grants);
    }
    if (Status s = cursor.end_status("mdb_cursor_get(grants)"); !s.is_ok()) return s;
    std::sort(grants.begin(), grants.end(), [](const Grant& a, const Grant& b) { return a.offset < b.offset; });
    return grants;
  }

  Result<std::vector<ViewStorage>> storage() override {
    auto txn = ReadTxn::begin(*env_);
    if (!txn.is_ok()) return txn.status();
    std::vector<ViewStorage> views;
    for (int i = 0; i < store::db_count; ++i) {
      const Db db = static_cast<Db>(i);
      MDB_stat stat;
      if (int rc = mdb_stat(txn->get(), env_->dbi(db), &stat); rc != 0) return store::lmdb_error("mdb_stat", rc);
      views.push_back(ViewStorage{store::db_name(db), stat.ms_entries,
                                  stat.ms_branch_pages + stat.ms_leaf_pages + stat.ms_overflow_pages, stat.ms_psize});
    }
    return views;
  }

  Result<std::map<std::string, Digest128>> digests() override { return store::view_digests({env_.get()}); }

 private:
  // Calls f(sequence, bytes) for history entries of `org_id` from `from_sequence` on while f
  // returns 1; 0 stops, -1 reports corruption.
  template <typename F>
  Status scan_history(const ReadTxn& txn, OrgIdView org_id, uint64_t from_sequence, F&& f) {
    std::string prefix, start;
    store::org_prefix(prefix, org_id);
    store::history_key(start, org_id, from_sequence);
    Cursor cursor(txn, env_->dbi(Db::history));
    // The chunk holding from_sequence starts at or before it: the last key <= start, if it is
    // this org's; otherwise the org's first chunk after it.
    bool ok = cursor.seek_last_at_or_before(start);
    if (!ok || !has_prefix(cursor.key(), prefix)) ok = cursor.seek(start);
    for (; ok && has_prefix(cursor.key(), prefix); ok = cursor.next()) {
      if (cursor.key().size() != prefix.size() + 8) return corrupt(Db::history);
      uint64_t sequence = store::get_u64_be(cursor.key().substr(prefix.size()));
      store::FramedReader chunk(cursor.value());
      for (std::string_view bytes; chunk.next(bytes); ++sequence) {
        if (sequence < from_sequence) continue;
        const int step = f(sequence, bytes);
        if (step < 0) return corrupt(Db::history);
        if (step == 0) return Status::ok();
      }
      if (chunk.malformed()) return corrupt(Db::history);
    }
    return cursor.end_status("mdb_cursor_get(history)");
  }

  std::shared_ptr<store::StoreEnv> env_;
};

}  // namespace

std::unique_ptr<ViewReader> store_view_reader(std::shared_ptr<store::StoreEnv> env) {
  return std::unique_ptr<ViewReader>(new LmdbViewReader(std::move(env)));
}

Result<std::unique_ptr<ViewReader>> ViewReader::open(const std::string& data_dir) {
  // The layout file decides: a partitioned directory, or (none) one store.
  Result<int32_t> partitions = read_partitioned_layout(data_dir);
  if (partitions.is_ok()) return open_partitioned_views(data_dir, partitions.value());
  if (partitions.status().code() != Status::Code::not_found) return partitions.status();
  auto env = store::StoreEnv::open(data_dir, store::StoreEnv::Mode::read_only, 0);
  if (!env.is_ok()) return env.status();
  return store_view_reader(env.value());
}

}  // namespace tally
