#include "projections/lmdb_ledger.h"

#include <algorithm>
#include <cassert>
#include <vector>

#include "engine/state_codec.h"
#include "projections/records.h"

namespace tally::store {

void LmdbLedger::begin(MDB_txn* txn, std::size_t records) {
  assert(txn_ == nullptr && txn != nullptr);
  txn_ = txn;
  keys_.reserve(records);  // about one new key per record: no rehash while folding
  if (!key_filter_off_ && (!key_filter_.built() || key_filter_.wants_rebuild())) build_key_filter(records);
  error_ = Status::ok();
}

void LmdbLedger::end(bool committed) {
  txn_ = nullptr;
  orgs_.clear();
  members_.clear();
  keys_.clear();
  purchases_.clear();
  if (!committed) partitions_.clear();
}

// Adds every key of the index (the committed state: this txn has written nothing yet).
void LmdbLedger::build_key_filter(std::size_t records) {
  key_filter_.clear();
  MDB_stat stat;
  if (int rc = mdb_stat(txn_, env_.dbi(Db::keys), &stat); rc != 0) return fail(lmdb_error("mdb_stat(keys)", rc));
  if (stat.ms_entries > key_filter_keys_max) {
    key_filter_off_ = true;
    return;
  }
  key_filter_.reset(2 * (stat.ms_entries + records));
  MDB_cursor* cursor = nullptr;
  if (int rc = mdb_cursor_open(txn_, env_.dbi(Db::keys), &cursor); rc != 0) {
    return fail(lmdb_error("mdb_cursor_open(keys)", rc));
  }
  MDB_val k, v;
  int rc = mdb_cursor_get(cursor, &k, &v, MDB_FIRST);
  for (; rc == 0; rc = mdb_cursor_get(cursor, &k, &v, MDB_NEXT)) key_filter_.add(from_val(k));
  mdb_cursor_close(cursor);
  if (rc != MDB_NOTFOUND) {
    key_filter_.clear();  // incomplete: never trust it
    fail(lmdb_error("mdb_cursor_get(keys)", rc));
  }
}

void LmdbLedger::fail(Status status) {
  if (error_.is_ok()) error_ = std::move(status);
}

namespace {
bool decode_value(std::string_view bytes, OrgState& out) { return decode(bytes, out); }
bool decode_value(std::string_view bytes, MemberState& out) { return decode(bytes, out); }
bool decode_value(std::string_view bytes, KeyRecord& out) { return decode(bytes, out); }
bool decode_value(std::string_view bytes, PurchaseRecord& out) { return decode(bytes, out); }
}  // namespace

template <typename T>
bool LmdbLedger::load(Db db, std::string_view key, T& out) {
  assert(txn_ != nullptr);
  MDB_val k = to_val(key);
  MDB_val v;
  const int rc = mdb_get(txn_, env_.dbi(db), &k, &v);
  if (rc == MDB_NOTFOUND) return false;
  if (rc != 0) {
    fail(lmdb_error(std::string("mdb_get(") + db_name(db) + ")", rc));
    return false;
  }
  if (!decode_value(from_val(v), out)) {
    fail(Status::error(Status::Code::corruption, std::string("undecodable record in \"") + db_name(db) +
                                                     "\" (store damaged or written by another version)"));
    return false;
  }
  return true;
}

OrgState* LmdbLedger::find_org(std::string_view org) {
  if (auto it = orgs_.find(org); it != orgs_.end()) return &it->second.state;
  OrgState state;
  if (!load(Db::orgs, org, state)) return nullptr;
  auto& entry = orgs_.emplace(std::string(org), Entry<OrgState>{state, state}).first->second;
  return &entry.state;
}

OrgState& LmdbLedger::create_org(std::string_view org) {
  auto [it, inserted] = orgs_.emplace(std::string(org), Entry<OrgState>{});
  assert(inserted);
  return it->second.state;
}

MemberState* LmdbLedger::find_member(std::string_view org, std::string_view member) {
  pair_key(scratch_, org, member);
  if (auto it = members_.find(std::string_view(scratch_)); it != members_.end()) return &it->second.state;
  MemberState state;
  if (!load(Db::members, scratch_, state)) return nullptr;
  return &members_.emplace(scratch_, Entry<MemberState>{state, state}).first->second.state;
}

MemberState& LmdbLedger::create_member(std::string_view org, std::string_view member) {
  pair_key(scratch_, org, member);
  auto [it, inserted] = members_.emplace(scratch_, Entry<MemberState>{});
  assert(inserted);
  return it->second.state;
}

const KeyRecord* LmdbLedger::find_key(std::string_view scope, std::string_view key) {
  pair_key(scratch_, scope, key);
  if (auto it = keys_.find(std::string_view(scratch_)); it != keys_.end()) return &it->second.record;
  if (key_filter_.built() && !key_filter_.maybe_contains(scratch_)) return nullptr;  // certainly new
  KeyRecord record;
  if (!load(Db::keys, scratch_, record)) return nullptr;
  return &keys_.emplace(scratch_, KeyEntry{record, false}).first->second.record;
}

void LmdbLedger::put_key(std::string_view scope, std::string_view key, const KeyRecord& record) {
  pair_key(scratch_, scope, key);
  auto it = keys_.find(std::string_view(scratch_));
  if (it == keys_.end()) it = keys_.emplace(scratch_, KeyEntry{}).first;
  it->second.record = record;
  it->second.dirty = true;
  if (key_filter_.built()) key_filter_.add(scratch_);
}

PurchaseRecord* LmdbLedger::find_purchase(std::string_view org, std::string_view key) {
  pair_key(scratch_, org, key);
  if (auto it = purchases_.find(std::string_view(scratch_)); it != purchases_.end()) return &it->second.state;
  PurchaseRecord record;
  if (!load(Db::purchases, scratch_, record)) return nullptr;
  return &purchases_.emplace(scratch_, Entry<PurchaseRecord>{record, record}).first->second.state;
}

void LmdbLedger::put_purchase(std::string_view org, std::string_view key, const PurchaseRecord& record) {
  pair_key(scratch_, org, key);
  auto it = purchases_.find(std::string_view(scratch_));
  if (it == purchases_.end()) it = purchases_.emplace(scratch_, Entry<PurchaseRecord>{}).first;
  it->second.state = record;  // `stored` stays what the store held, if anything
}

PartitionState& LmdbLedger::partition(PartitionId partition) {
  auto it = partitions_.find(partition.value);
  if (it != partitions_.end()) return it->second;
  PartitionState state;
  const auto key = partition_key(partition);
  MDB_val k{key.size(), const_cast<char*>(key.data())};
  MDB_val v;
  const int rc = mdb_get(txn_, env_.dbi(Db::partitions), &k, &v);
  if (rc == 0) {
    Offset next;
    if (!decode_partition(from_val(v), next, state)) {
      fail(Status::error(Status::Code::corruption,
                         "undecodable state of partition " + std::to_string(partition.value) + " in \"partitions\""));
      state = PartitionState{};
    }
  } else if (rc != MDB_NOTFOUND) {
    fail(lmdb_error("mdb_get(partitions)", rc));
  }
  return partitions_.emplace(partition.value, std::move(state)).first->second;
}

const PartitionState* LmdbLedger::cached_partition(PartitionId partition) const {
  auto it = partitions_.find(partition.value);
  return it == partitions_.end() ? nullptr : &it->second;
}

template <typename T>
int LmdbLedger::write_back(Db db, const Cache<T>& cache, std::string& failed_call) {
  // Only what changed, in key order: neighbouring puts touch neighbouring pages.
  std::vector<const typename Cache<T>::value_type*> entries;
  entries.reserve(cache.size());
  for (const auto& entry : cache) {
    if constexpr (std::is_same_v<T, KeyEntry>) {
      if (!entry.second.dirty) continue;
    } else {
      if (!entry.second.changed()) continue;
    }
    entries.push_back(&entry);
  }
  std::sort(entries.begin(), entries.end(), [](auto* a, auto* b) { return a->first < b->first; });
  const MDB_dbi dbi = env_.dbi(db);
  for (const auto* entry : entries) {
    if constexpr (std::is_same_v<T, KeyEntry>) {
      encoded_ = encode(entry->second.record);
    } else {
      encoded_ = encode(entry->second.state);
    }
    MDB_val k = to_val(entry->first);
    MDB_val v = to_val(encoded_);
    if (int rc = mdb_put(txn_, dbi, &k, &v, 0); rc != 0) {
      failed_call = std::string("mdb_put(") + db_name(db) + ")";
      return rc;
    }
  }
  return 0;
}

int LmdbLedger::flush(std::string& failed_call) {
  assert(txn_ != nullptr);
  if (int rc = write_back(Db::orgs, orgs_, failed_call); rc != 0) return rc;
  if (int rc = write_back(Db::members, members_, failed_call); rc != 0) return rc;
  if (int rc = write_back(Db::keys, keys_, failed_call); rc != 0) return rc;
  return write_back(Db::purchases, purchases_, failed_call);
}

}  // namespace tally::store
