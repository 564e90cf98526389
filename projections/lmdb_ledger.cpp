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
  if (auto it = orgs_.find(org); it != orgs_.end()) return &it->second;
  OrgState state;
  if (!load(Db::orgs, org, state)) return nullptr;
  return &orgs_.emplace(std::string(org), std::move(state)).first->second;
}

OrgState& LmdbLedger::create_org(std::string_view org) {
  auto [it, inserted] = orgs_.emplace(std::string(org), OrgState{});
  assert(inserted);
  return it->second;
}

MemberState* LmdbLedger::find_member(std::string_view org, std::string_view member) {
  pair_key(scratch_, org, member);
  if (auto it = members_.find(std::string_view(scratch_)); it != members_.end()) return &it->second;
  MemberState state;
  if (!load(Db::members, scratch_, state)) return nullptr;
  return &members_.emplace(scratch_, std::move(state)).first->second;
}

MemberState& LmdbLedger::create_member(std::string_view org, std::string_view member) {
  pair_key(scratch_, org, member);
  auto [it, inserted] = members_.emplace(scratch_, MemberState{});
  assert(inserted);
  return it->second;
}

const KeyRecord* LmdbLedger::find_key(std::string_view scope, std::string_view key) {
  pair_key(scratch_, scope, key);
  if (auto it = keys_.find(std::string_view(scratch_)); it != keys_.end()) return &it->second.record;
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
}

PurchaseRecord* LmdbLedger::find_purchase(std::string_view org, std::string_view key) {
  pair_key(scratch_, org, key);
  if (auto it = purchases_.find(std::string_view(scratch_)); it != purchases_.end()) return &it->second;
  PurchaseRecord record;
  if (!load(Db::purchases, scratch_, record)) return nullptr;
  return &purchases_.emplace(scratch_, record).first->second;
}

void LmdbLedger::put_purchase(std::string_view org, std::string_view key, const PurchaseRecord& record) {
  pair_key(scratch_, org, key);
  purchases_[scratch_] = record;
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

namespace {
const std::string& encoded_value(const OrgState& v, std::string& buffer) { return buffer = encode(v); }
const std::string& encoded_value(const MemberState& v, std::string& buffer) { return buffer = encode(v); }
const std::string& encoded_value(const PurchaseRecord& v, std::string& buffer) { return buffer = encode(v); }
}  // namespace

template <typename T>
int LmdbLedger::write_back(Db db, const Cache<T>& cache, bool only_dirty, std::string& failed_call) {
  // Key order: neighbouring puts touch neighbouring pages.
  std::vector<const typename Cache<T>::value_type*> entries;
  entries.reserve(cache.size());
  for (const auto& entry : cache) {
    if constexpr (std::is_same_v<T, KeyEntry>) {
      if (only_dirty && !entry.second.dirty) continue;
    }
    entries.push_back(&entry);
  }
  std::sort(entries.begin(), entries.end(), [](auto* a, auto* b) { return a->first < b->first; });
  const MDB_dbi dbi = env_.dbi(db);
  for (const auto* entry : entries) {
    const std::string* bytes = nullptr;
    if constexpr (std::is_same_v<T, KeyEntry>) {
      encoded_ = encode(entry->second.record);
      bytes = &encoded_;
    } else {
      bytes = &encoded_value(entry->second, encoded_);
    }
    MDB_val k = to_val(entry->first);
    MDB_val v = to_val(*bytes);
    if (int rc = mdb_put(txn_, dbi, &k, &v, 0); rc != 0) {
      failed_call = std::string("mdb_put(") + db_name(db) + ")";
      return rc;
    }
  }
  return 0;
}

int LmdbLedger::flush(std::string& failed_call) {
  assert(txn_ != nullptr);
  if (int rc = write_back(Db::orgs, orgs_, false, failed_call); rc != 0) return rc;
  if (int rc = write_back(Db::members, members_, false, failed_call); rc != 0) return rc;
  if (int rc = write_back(Db::keys, keys_, true, failed_call); rc != 0) return rc;
  return write_back(Db::purchases, purchases_, false, failed_call);
}

}  // namespace tally::store
