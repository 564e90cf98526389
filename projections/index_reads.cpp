#include "projections/index_reads.h"

#include <algorithm>

#include "projections/records.h"
#include "projections/store_cursor.h"

namespace tally::store {

Status scan_org_rejects(const ReadTxn& txn, const StoreEnv& env, std::string_view org, LogPosition from,
                        const std::function<bool(OrgReject& reject)>& visit) {
  std::string prefix, start;
  org_prefix(prefix, org);
  org_position_key(start, org, from);
  Cursor cursor(txn, env.dbi(Db::org_rejects));
  OrgReject reject;
  for (bool ok = cursor.seek(start); ok && has_prefix(cursor.key(), prefix); ok = cursor.next()) {
    if (cursor.key().size() != prefix.size() + 12) return corrupt(Db::org_rejects);
    reject.entry = HistoryEntry{};
    if (!decode_org_reject(cursor.value(), reject.placement, reject.entry)) return corrupt(Db::org_rejects);
    if (!visit(reject)) return Status::ok();
  }
  return cursor.end_status("mdb_cursor_get(org_rejects)");
}

Result<RejectPage> read_org_rejects(const ReadTxn& txn, const StoreEnv& env, const RejectQuery& query) {
  const std::size_t limit = std::clamp<std::size_t>(query.limit, 1, org_rejects_page_max);
  RejectPage page;
  Status status = scan_org_rejects(txn, env, query.org_id, query.from, [&](OrgReject& reject) {
    if (page.rejects.size() == limit) {
      page.next = reject.entry.position;  // a further one exists: the next page starts here
      return false;
    }
    page.rejects.push_back(std::move(reject));
    return true;
  });
  if (!status.is_ok()) return status;
  return page;
}

Status scan_early_rejects(const ReadTxn& txn, const StoreEnv& env, std::string_view org, LogPosition from,
                          uint8_t body_type, int64_t from_ms, int64_t to_ms,
                          const std::function<bool(const HistoryEntry& entry)>& visit) {
  const std::string_view type = body_type == 0 ? std::string_view() : body_type_name(body_type);
  return scan_org_rejects(txn, env, org, from, [&](OrgReject& reject) {
    const HistoryEntry& e = reject.entry;
    if (reject.placement != RejectPlacement::before_org || (!type.empty() && e.type != type)) return true;
    if (e.occurred_at_ms < from_ms || e.occurred_at_ms >= to_ms) return true;
    return visit(e);
  });
}

Result<SignalPage> read_org_signals(const ReadTxn& txn, const StoreEnv& env, const SignalQuery& query) {
  const std::size_t limit = std::clamp<std::size_t>(query.limit, 1, org_signals_page_max);
  SignalPage page;
  if (query.after_sequence == UINT64_MAX) return page;
  std::string prefix, start;
  org_prefix(prefix, query.org_id);
  history_key(start, query.org_id, query.after_sequence + 1);
  Cursor cursor(txn, env.dbi(Db::org_signals));
  std::size_t scanned = 0;
  uint64_t last_scanned = query.after_sequence;
  for (bool ok = cursor.seek(start); ok && has_prefix(cursor.key(), prefix); ok = cursor.next()) {
    if (cursor.key().size() != prefix.size() + 8 || cursor.value().size() != 1) return corrupt(Db::org_signals);
    const uint64_t sequence = get_u64_be(cursor.key().substr(prefix.size()));
    if (page.signals.size() == limit || scanned == org_signals_scan_max) {
      page.next_after = last_scanned;  // more to read: go on after the last one read
      return page;
    }
    ++scanned;
    last_scanned = sequence;
    if (query.kind && static_cast<uint8_t>(cursor.value()[0]) != static_cast<uint8_t>(*query.kind)) continue;
    const auto key = outbox_key(sequence);
    std::string_view bytes, id, signal;
    if (int rc = txn.get(Db::outbox, std::string_view(key.data(), key.size()), bytes); rc != 0) {
      return rc == MDB_NOTFOUND ? corrupt(Db::org_signals) : lmdb_error("mdb_get(outbox)", rc);
    }
    if (!decode_outbox(bytes, id, signal)) return corrupt(Db::outbox);
    page.signals.push_back(OutboxEntry{sequence, std::string(id), std::string(signal)});
  }
  if (Status s = cursor.end_status("mdb_cursor_get(org_signals)"); !s.is_ok()) return s;
  return page;
}

}  // namespace tally::store
