// Folding and committing one batch: the hot path of the projector.
#include <algorithm>
#include <chrono>

#include "engine/assert.h"
#include "engine/calendar.h"
#include "engine/fold_commerce.h"
#include "engine/history_text.h"
#include "engine/pricing.h"
#include "engine/signals.h"
#include "engine/state_codec.h"
#include "projections/projector_impl.h"
#include "tally/events_generated.h"

namespace tally {

using store::Db;
using store::from_val;
using store::to_val;

namespace {

inline constexpr std::size_t key_prefetch_distance = 8;  // records; one apply() takes about 1 µs

std::string_view view(const flatbuffers::String* s) { return s ? s->string_view() : std::string_view(); }

store::BillingPathCode billing_path_code(PaidBy paid_by) {
  switch (paid_by) {
    case PaidBy::credits: return store::BillingPathCode::credits;
    case PaidBy::byok: return store::BillingPathCode::byok;
    case PaidBy::invoiced: return store::BillingPathCode::invoiced;
  }
  return store::BillingPathCode::none;
}

// The body's own fields of a history entry, as the event catalogue shows them. A usage entry shows
// who paid: the path it asked for or its workspace is set to, resolved against the org (SPEC §14).
void body_fields(const fb::Envelope& e, const OrgState& org, store::HistoryFields& f) {
  HistoryText text;
  history_text(e, text);
  f.model = text.label;
  f.member_id = text.member_id;
  f.workspace = text.workspace;
  f.payment_ref = text.payment_ref;
  f.paid_minor = text.paid_minor;
  f.fee_minor = text.fee_minor;
  f.currency = text.currency;
  f.reason_text = text.reason_text;
  if (!text.billing_path) return;  // not a usage event, or one without its body (rejected)
  const fb::Usage* usage = e.body_as_Usage();
  f.billing_path = billing_path_code(paid_by(org, usage ? requested_billing_path(org, *usage) : *text.billing_path));
}

// The fields of the history entry of a record of `org` (its balance after the fold): views into the
// record, except `detail`, which the caller sets.
void history_fields_of(const fb::Envelope& e, const FoldResult& r, const OrgState& org, LogPosition position,
                       store::HistoryFields& f) {
  f = store::HistoryFields{};
  f.body_type = static_cast<uint8_t>(e.body_type());
  f.idempotency_key = view(e.idempotency_key());
  f.outcome = r.outcome;
  f.reason = r.reason;
  f.amount_micros = r.amount_micros;
  f.balance_after_micros = org.balance_micros;
  f.occurred_at_ms = e.occurred_at_ms();
  f.position = position;
  f.rate_card_version = r.rate_card_version;
  f.tracked_cost_micros = r.tracked_cost_micros;
  f.debited_micros = r.debited_micros;
  body_fields(e, org, f);
}

}  // namespace

void BatchOutput::clear() {
  states.clear();
  history.clear();
  rejects.clear();
  org_rejects.clear();
  outbox.clear();
  org_signals.clear();
  outcome_count = 0;
  partitions.clear();
  chain.clear();
  chain_heads.clear();
  chained = false;
  usage.clear();
  payments.clear();
  history_count = 0;  // `arena` and `batch` hold the collected records: not cleared here
  outbox_added = 0;
  records = 0;
  fold_us = 0;
}

Status Projector::Impl::fold_batch() {
  BatchOutput& out = outputs[filling];
  out.clear();
  out.started_at = std::chrono::steady_clock::now();
  out.records = out.batch.size();
  batch_touched.assign(static_cast<std::size_t>(partition_count), false);
  {
    // A read txn: lookups that miss the ledger's caches need nothing the writer has not committed.
    auto txn = store::ReadTxn::begin(*env);
    if (!txn.is_ok()) return txn.status();
    ledger.begin(txn->get(), out.batch.size());
    const auto value_of = [&](const BatchRecord& record) {
      return std::string_view(out.arena).substr(record.value_offset, record.value_size);
    };
    for (std::size_t i = 0; i < out.batch.size(); ++i) {
      // Lookups that miss the caches, started ahead: the key index's and, once the org and member
      // states outgrow the caches, theirs (in two steps: engine/fold.h).
      const auto hinted = [&](std::size_t at) { return at < out.batch.size() && out.batch[at].damage_size == 0; };
      if (hinted(i + 2 * key_prefetch_distance)) {
        prefetch_states_of(ledger, value_of(out.batch[i + 2 * key_prefetch_distance]), PrefetchStage::slot);
      }
      if (hinted(i + key_prefetch_distance)) {
        const BatchRecord& ahead = out.batch[i + key_prefetch_distance];
        prefetch_key_of(ledger, ahead.position, value_of(ahead), prefetch_scope);
        prefetch_states_of(ledger, value_of(ahead), PrefetchStage::entry);
      }
      BatchRecord& record = out.batch[i];
      const auto p = static_cast<std::size_t>(record.position.partition.value);
      // Never fold a record twice, whatever the reader redelivers.
      if (record.position.offset < folded_next[p]) continue;
      ledger.set_position(record.position);
      if (record.damage_size != 0) {
        fold_damaged(record, std::string_view(out.arena).substr(record.damage_offset, record.damage_size));
      } else {
        apply(ledger, RecordContext{record.position, record.appended_at_ms, partition_count}, value_of(record), result);
      }
      record.folded = true;
      record.outcome = result.outcome;
      record.reason = result.reason;
      record_expired_grants(record.position, out, true);
      record_effects(record.position, out);
      record_expired_holds(record.position, out);
      record_expired_grants(record.position, out, false);
    }
    if (!ledger.error().is_ok()) return ledger.error();
    ledger.take_changes(out.states);
  }
  ++folded_stats.batches;
  for (std::size_t p = 0; p < batch_touched.size(); ++p) {
    if (!batch_touched[p]) continue;
    const PartitionState* state = ledger.cached_partition(PartitionId{static_cast<int32_t>(p)});
    TALLY_ASSERT(state != nullptr, "a partition folded in this batch is cached");
    const auto key = store::partition_key(PartitionId{static_cast<int32_t>(p)});
    out.partitions.add(std::string_view(key.data(), key.size()), encode(*state));
  }
  out.next = folded_next;
  out.outbox_next = folded_outbox_next;
  out.stats = folded_stats;
  out.fold_us = std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now() -
                                                                      out.started_at).count();
  return Status::ok();
}

// The fold sees a damaged record as an empty one (a validation reject that records no key; the
// chain takes its stored bytes, as for any record); its reason and detail then say what the log
// found. Empty bytes never decode, so nothing of the damaged bytes can apply, and its append time
// (which may be damaged too) is never read; the same log gives the same damage, so a replay gives
// the same reject.
void Projector::Impl::fold_damaged(const BatchRecord& record, std::string_view damage) {
  apply(ledger, RecordContext{record.position, record.appended_at_ms, partition_count}, std::string_view(), result);
  assert(result.outcome == Outcome::rejected && result.envelope == nullptr && result.org_id.empty());
  result.reason = RejectReason::damaged_record;
  result.detail.assign(damage);
}

WriteOutcome Projector::Impl::wait_writer() {
  WriteOutcome outcome = writer.wait();
  std::vector<CommittedBatch> committed;
  {
    std::lock_guard lock(mutex);
    committed.swap(to_announce);
  }
  if (options.on_commit) {
    for (const CommittedBatch& batch_done : committed) options.on_commit(batch_done);
  }
  return outcome;
}

Projector::Impl::~Impl() {
  // Before the members their jobs use.
  collector.stop();
  writer.stop();
}

void Projector::Impl::record_effects(LogPosition position, BatchOutput& out) {
  const FoldResult& r = result;
  const fb::Envelope* e = r.envelope;
  ++folded_stats.outcomes[static_cast<std::size_t>(r.outcome)];
  if (r.hold_late) ++folded_stats.hold_late;
  const auto p = static_cast<std::size_t>(position.partition.value);
  folded_next[p] = Offset{position.offset.value + 1};
  batch_touched[p] = true;
  record_outcome(position, out);
  const std::string_view key = e ? view(e->idempotency_key()) : std::string_view();

  if (r.outcome == Outcome::rejected) {
    const auto reject_key = store::position_key(position);
    store::encode_reject(value_scratch, r.org_id, key, r.reason, r.detail);
    out.rejects.add(std::string_view(reject_key.data(), reject_key.size()), value_scratch);
  }
  for (const Signal& signal : r.signals) {
    const uint64_t sequence = folded_outbox_next++;
    const auto outbox_key = store::outbox_key(sequence);
    store::encode_outbox(value_scratch, signal.id(), encode_signal(signal));
    out.outbox.add(std::string_view(outbox_key.data(), outbox_key.size()), value_scratch);
    ++out.outbox_added;
    store::history_key(history_key_of_index, signal.org_id.str(), sequence);
    const char kind = static_cast<char>(signal.kind);
    out.org_signals.add(history_key_of_index, std::string_view(&kind, 1));
  }
  OrgState* org = r.org_id.empty() || r.reason == RejectReason::wrong_partition ? nullptr : ledger.find_org(r.org_id);
  const bool in_history = org != nullptr && org->home_partition == position.partition;
  if (r.outcome == Outcome::rejected) record_org_reject(position, org, in_history, out);
  if (!in_history) return;

  // Encoded by the writer: the fields are views into the batch's records (aligned copies, so the
  // envelope is never the fold's own copy), the detail is copied.
  TALLY_ASSERT(out.arena.data() <= reinterpret_cast<const char*>(e) &&
                   reinterpret_cast<const char*>(e) < out.arena.data() + out.arena.size(),
               "a history entry's fields point into the batch's own records");
  if (out.history_count == out.histories.size()) out.histories.emplace_back();
  BatchOutput::PendingHistory& pending = out.histories[out.history_count++];
  pending.org_id = r.org_id;
  pending.sequence = org->history_entries++;
  pending.detail.assign(r.detail);
  pending.usage = nullptr;
  pending.expired = false;
  pending.fundings.clear();
  if (r.funding_count > 0) store::encode_fundings(pending.fundings, r.fundings());
  history_fields_of(*e, r, *org, position, pending.fields);
  if (r.outcome == Outcome::applied && e->body_type() == fb::Body::Usage) pending.usage = e->body_as_Usage();
}

// A history entry the partition clock made (hold_expired, grant_expired) in `org_id`'s history, at
// the position of the record whose time moved the clock; nullptr when the org does not live here.
store::HistoryFields* Projector::Impl::add_clock_entry(LogPosition position, BatchOutput& out, std::string_view org_id,
                                                       std::string_view key, std::string detail) {
  const PartitionState* partition = ledger.cached_partition(position.partition);
  TALLY_ASSERT(partition != nullptr, "the partition of a folded record is cached");
  OrgState* org = ledger.find_org(OrgIdView::trusted(org_id));  // the fold's own org id
  if (org == nullptr || org->home_partition != position.partition) return nullptr;
  if (out.history_count == out.histories.size()) out.histories.emplace_back();
  BatchOutput::PendingHistory& pending = out.histories[out.history_count++];
  pending.sequence = org->history_entries++;
  pending.usage = nullptr;
  pending.expired = true;
  pending.fundings.clear();
  pending.expired_org_id.assign(org_id);
  pending.expired_hold_id.assign(key);
  pending.detail = std::move(detail);
  store::HistoryFields& f = pending.fields;
  f = store::HistoryFields{};
  f.balance_after_micros = org->balance_micros;
  f.occurred_at_ms = partition->clock_ms;  // when the partition clock did it
  f.position = position;
  return &f;
}

// The `hold_expired` entries of the holds the partition clock released while folding this record:
// after the record's own entry (the fold applies an org's event, then advances the clock). An
// expiry leaves the balance as it is.
void Projector::Impl::record_expired_holds(LogPosition position, BatchOutput& out) {
  for (const FoldResult::ExpiredHold& expired : result.expired_holds) {
    store::HistoryFields* f = add_clock_entry(position, out, expired.org_id, expired.hold_id,
                                              "released_micros " + std::to_string(expired.released_micros.value()));
    if (f != nullptr) f->body_type = store::hold_expired_body_type;
  }
}

// What a waiter learns of the record: published after the batch commits (OutcomeBoard). A field
// added to RecordOutcome is filled here.
void Projector::Impl::record_outcome(LogPosition position, BatchOutput& out) {
  if (out.outcome_count == out.outcomes.size()) out.outcomes.emplace_back();
  RecordOutcome& outcome = out.outcomes[out.outcome_count++];
  outcome.position = position;
  outcome.outcome = result.outcome;
  outcome.reason = result.reason;
  outcome.detail.assign(result.detail);
  outcome.amount_micros = result.amount_micros;
  outcome.balance_after_micros = result.balance_after_micros;
  outcome.available_micros = result.available_micros;
  outcome.hold_granted_micros = result.hold_granted_micros;
  outcome.hold_expires_at_ms = result.hold_expires_at_ms;
}

// The "org_rejects" entry of a rejected record: under its org (or "" when no org can be read), with
// where it stands (RejectPlacement) and what could be read of it. Rejects are a few per cent of
// records, so they are encoded here, on the fold thread.
void Projector::Impl::record_org_reject(LogPosition position, const OrgState* org, bool in_history, BatchOutput& out) {
  const FoldResult& r = result;
  RejectPlacement placement = RejectPlacement::no_org;
  if (!r.org_id.empty()) {
    placement = in_history                                  ? RejectPlacement::in_history
                : r.reason == RejectReason::wrong_partition ? RejectPlacement::other_partition
                : org == nullptr                            ? RejectPlacement::before_org
                                                            : RejectPlacement::other_partition;
  }
  store::HistoryFields fields;
  if (r.envelope != nullptr) {
    static const OrgState no_org_state;
    history_fields_of(*r.envelope, r, org != nullptr ? *org : no_org_state, position, fields);
    if (org == nullptr) fields.balance_after_micros = Micros{};
  } else {
    fields.outcome = r.outcome;
    fields.reason = r.reason;
    fields.position = position;
  }
  fields.detail = r.detail;
  store::org_position_key(history_key_of_index, r.org_id.str(), position);
  store::encode_org_reject(value_scratch, placement, fields);
  out.org_rejects.add(history_key_of_index, value_scratch);
}

void Projector::Impl::encode_histories(BatchOutput& out) {
  if (!out.history.empty()) return;  // done by an earlier attempt of this batch
  for (std::size_t i = 0; i < out.history_count; ++i) {
    BatchOutput::PendingHistory& pending = out.histories[i];
    const store::HistoryFields& f = pending.fields;
    pending.fields.detail = pending.detail;
    pending.fields.fundings = pending.fundings;
    if (pending.expired) {  // views into its own copies: `histories` no longer moves
      pending.org_id = pending.expired_org_id;
      pending.fields.idempotency_key = pending.expired_hold_id;
    }
    store::history_key(history_key_scratch, pending.org_id, pending.sequence);
    write_scratch.clear();
    store::append_history(write_scratch, f);
    out.history.add(history_key_scratch, write_scratch);
    const auto body = static_cast<fb::Body>(f.body_type);
    if (f.outcome == Outcome::applied && (body == fb::Body::Purchase || body == fb::Body::AutoRefill) &&
        !f.payment_ref.empty() && f.payment_ref.size() <= store::payment_ref_indexed_bytes_max) {
      store::encode_payment(write_scratch, pending.org_id, f.idempotency_key, f.paid_minor, f.fee_minor);
      out.payments.add(f.payment_ref, write_scratch);
    }
    if (pending.usage == nullptr) continue;
    // The usage roll-up delta of an applied usage event.
    const fb::Usage& u = *pending.usage;
    const store::UsageCellNames names{f.model,    f.member_id, f.workspace, view(u.project()), view(u.agent_id()),
                                      view(u.provider()), store::billing_path_name(f.billing_path)};
    store::usage_key(usage_key_scratch, pending.org_id, utc_day(f.occurred_at_ms), names, usage_digest_scratch);
    UsageRollup delta;
    delta.events = 1;
    delta.debited_micros = f.debited_micros;
    delta.tracked_cost_micros = f.tracked_cost_micros;
    delta.input_tokens = u.input_tokens();
    delta.output_tokens = u.output_tokens();
    delta.cache_read_tokens = u.cache_read_tokens();
    delta.cache_write_tokens = u.cache_write_tokens();
    delta.seconds = u.seconds();
    store::encode_usage(usage_value_scratch, delta, names);
    out.usage.add(usage_key_scratch, usage_value_scratch);
  }
}

int Projector::Impl::write_batch(MDB_txn* txn, BatchOutput& out, std::string& failed_call) {
  auto put = [&](Db db, std::string_view key, std::string_view value, unsigned flags) {
    MDB_val k = to_val(key);
    MDB_val v = to_val(value);
    const int rc = mdb_put(txn, env->dbi(db), &k, &v, flags);
    if (rc != 0) failed_call = std::string("mdb_put(") + store::db_name(db) + ")";
    return rc;
  };
  auto put_all = [&](Db db, const PutBuffer& puts, unsigned flags) {
    return puts.for_each([&](auto k, auto v) { return put(db, k, v, flags); });
  };
  if (int rc = put_all(Db::orgs, out.states.orgs, 0); rc != 0) return rc;
  if (int rc = put_all(Db::members, out.states.members, 0); rc != 0) return rc;
  if (int rc = put_all(Db::keys, out.states.keys, 0); rc != 0) return rc;
  if (int rc = put_all(Db::purchases, out.states.purchases, 0); rc != 0) return rc;
  if (int rc = put_all(Db::grants, out.states.grants, 0); rc != 0) return rc;
  encode_histories(out);
  if (int rc = write_history(out, put); rc != 0) return rc;
  out.rejects.sort_by_key();
  if (int rc = put_all(Db::rejects, out.rejects, 0); rc != 0) return rc;
  out.org_rejects.sort_by_key();
  if (int rc = put_all(Db::org_rejects, out.org_rejects, 0); rc != 0) return rc;
  out.org_signals.sort_by_key();
  if (int rc = put_all(Db::org_signals, out.org_signals, 0); rc != 0) return rc;
  // Outbox sequences only grow: MDB_APPEND skips the key search.
  if (int rc = put_all(Db::outbox, out.outbox, MDB_APPEND); rc != 0) return rc;
  if (int rc = write_rollups(txn, out, failed_call); rc != 0) return rc;
  // The first purchase that names a payment keeps it (a later one is a different purchase, or a
  // replayed webhook that the fold applied under another key).
  out.payments.sort_by_key();
  if (int rc = out.payments.for_each([&](auto k, auto v) {
        const int put_rc = put(Db::payments, k, v, MDB_NOOVERWRITE);
        return put_rc == MDB_KEYEXIST ? 0 : put_rc;
      });
      rc != 0) {
    return rc;
  }
  if (int rc = write_chain(txn, out, failed_call); rc != 0) return rc;

  store::encode_stats(write_scratch, out.stats);
  if (int rc = put(Db::meta, store::meta_stats, write_scratch, 0); rc != 0) return rc;
  write_scratch.clear();
  store::put_u64_be(write_scratch, out.outbox_next);
  if (int rc = put(Db::meta, store::meta_outbox_next, write_scratch, 0); rc != 0) return rc;
  write_scratch.clear();
  store::put_u64_be(write_scratch, env->map_size());
  return put(Db::meta, store::meta_map_size, write_scratch, 0);
}

// The batch's history entries in key order, packed into one chunk per org (store.h): org \0 seq
// keys sort each org's entries together, in sequence order, and its sequences are consecutive.
template <typename Put>
int Projector::Impl::write_history(BatchOutput& out, Put& put) {
  PutBuffer& history = out.history;
  history.sort_by_key();
  history_chunk.clear();
  std::string_view chunk_key;  // of the chunk's first entry (into the PutBuffer's arena)
  // The head of a history key is its org id (org \0 sequence).
  int rc = history.for_each_sorted([&](std::string_view key, std::string_view value, PutBuffer::Run run) {
    if (!chunk_key.empty() && (!run.same_head || history_chunk.size() >= store::history_chunk_bytes_max)) {
      if (int rc = put(Db::history, chunk_key, history_chunk, 0); rc != 0) return rc;
      history_chunk.clear();
      chunk_key = {};
    }
    if (chunk_key.empty()) chunk_key = key;
    store::append_framed(history_chunk, value);
    return 0;
  });
  if (rc == 0 && !chunk_key.empty()) rc = put(Db::history, chunk_key, history_chunk, 0);
  return rc;
}

// Adds the batch's usage to the stored roll-up cells: its deltas sorted by cell (stable, so each
// cell sums them in log order), one cursor search per cell. A delta is encoded like a
// stored cell of one event (records.h), so a new cell of one delta is put as it is.
int Projector::Impl::write_rollups(MDB_txn* txn, BatchOutput& out, std::string& failed_call) {
  if (out.usage.empty()) return 0;
  out.usage.sort_by_key();
  MDB_cursor* cursor = nullptr;
  if (int rc = mdb_cursor_open(txn, env->dbi(Db::usage), &cursor); rc != 0) {
    failed_call = "mdb_cursor_open(usage)";
    return rc;
  }
  const auto decode = [&](std::string_view bytes, UsageRollup& into) {
    if (store::decode_usage(bytes, into)) return true;
    failed_call = "decode(usage delta)";
    return false;
  };
  // The cell being summed: its key, its first delta (encoded) and, once a second one came, the sum.
  std::string_view cell_key, first_delta;
  bool summed = false;
  UsageRollup sum, delta, stored;
  // Adds the cell's deltas to the stored cell. Most cells are new: the put is tried as an insert
  // first (one search), and only an existing cell is read, summed and replaced in place.
  const auto put_cell = [&]() {
    std::string_view value = first_delta;
    if (summed) {
      store::encode_usage(write_scratch, sum);
      value = write_scratch;
    }
    MDB_val k = to_val(cell_key);
    MDB_val v = to_val(value);
    int rc = mdb_cursor_put(cursor, &k, &v, MDB_NOOVERWRITE);
    if (rc != MDB_KEYEXIST) {
      if (rc != 0) failed_call = "mdb_cursor_put(usage)";
      return rc;
    }
    // `v` is the stored cell now, and the cursor is on it.
    if (!store::decode_usage(from_val(v), stored)) {
      failed_call = "decode(usage)";
      return MDB_CORRUPTED;
    }
    if (!summed && !decode(first_delta, sum)) return MDB_CORRUPTED;
    store::add_usage(stored, sum);
    store::encode_usage(write_scratch, stored);
    k = to_val(cell_key);
    v = to_val(write_scratch);
    if (rc = mdb_cursor_put(cursor, &k, &v, MDB_CURRENT); rc != 0) failed_call = "mdb_cursor_put(usage)";
    return rc;
  };
  int rc = out.usage.for_each_sorted([&](std::string_view key, std::string_view value, PutBuffer::Run run) {
    if (run.same_key) {
      if (!summed && !decode(first_delta, sum)) return MDB_CORRUPTED;
      summed = true;
      if (!decode(value, delta)) return MDB_CORRUPTED;
      store::add_usage(sum, delta);
      return 0;
    }
    if (!cell_key.empty()) {
      if (int put_rc = put_cell(); put_rc != 0) return put_rc;
    }
    cell_key = key;
    first_delta = value;
    summed = false;
    return 0;
  });
  if (rc == 0 && !cell_key.empty()) rc = put_cell();
  mdb_cursor_close(cursor);
  return rc;
}

}  // namespace tally
