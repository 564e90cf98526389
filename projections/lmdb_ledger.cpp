#include "projections/lmdb_ledger.h"

#include <algorithm>
#include <cassert>
#include <vector>

#include "engine/assert.h"
#include "engine/state_codec.h"
#include "projections/records.h"

namespace tally::store {

void LmdbLedger::begin(MDB_txn* txn, std::size_t records) {
  assert(txn_ == nullptr && txn != nullptr);
  txn_ = txn;
  if (!key_index_loaded_) {
    load_key_index();
    key_locator_.reserve(key_locator_.size() + expected_new_keys_);
    expected_new_keys_ = 0;
  }
  key_locator_.reserve(key_locator_.size() + records);  // about one new key per record: no growth while folding
}

void LmdbLedger::take_changes(Changes& out) {
  assert(txn_ != nullptr);
  states_examined_ = touched_orgs_.size() + touched_members_.size();
  take_states<OrgState>(touched_orgs_, out.orgs);
  take_states<MemberState>(touched_members_, out.members);
  take_purchases(out.purchases);
  take_keys(out.keys);
  take_closed_grants(out.grants);
  hand_out<OrgState>(touched_orgs_);
  hand_out<MemberState>(touched_members_);
  handed_out_purchases_.clear();
  for (auto& [key, entry] : purchases_) handed_out_purchases_.emplace(key, entry.state);
  purchases_.clear();
  handed_out_grants_ = std::move(closed_grants_);
  closed_grants_.clear();
  loaded_grants_.clear();
  txn_ = nullptr;
}

void LmdbLedger::reset() {
  txn_ = nullptr;
  error_ = Status::ok();
  memo_valid_ = false;
  orgs_.clear();
  members_.clear();
  touched_orgs_.clear();
  touched_members_.clear();
  purchases_.clear();
  handed_out_purchases_.clear();
  closed_grants_.clear();
  handed_out_grants_.clear();
  loaded_grants_.clear();
  partitions_.clear();
  key_locator_.clear();
  key_index_loaded_ = false;
  key_chunk_keys_.clear();
  batch_key_chunks_.clear();
  open_key_chunks_.clear();
  handed_out_key_chunks_.clear();
  batch_chunks_first_ = handed_out_chunks_first_ = 1;
}

// Reads every committed chunk of keys into the locator (this txn has written nothing yet).
void LmdbLedger::load_key_index() {
  key_locator_.clear();
  key_chunk_keys_.clear();
  MDB_stat stat;
  if (int rc = mdb_stat(txn_, env_.dbi(Db::keys), &stat); rc != 0) return fail(lmdb_error("mdb_stat(keys)", rc));
  // About 45 bytes per key in a chunk: a first guess, the locator grows if it is short.
  key_locator_.reserve(static_cast<std::size_t>(stat.ms_psize) * (stat.ms_leaf_pages + stat.ms_overflow_pages) / 45);
  key_chunk_keys_.reserve(stat.ms_entries);
  MDB_cursor* cursor = nullptr;
  if (int rc = mdb_cursor_open(txn_, env_.dbi(Db::keys), &cursor); rc != 0) {
    return fail(lmdb_error("mdb_cursor_open(keys)", rc));
  }
  MDB_val k, v;
  int rc = mdb_cursor_get(cursor, &k, &v, MDB_FIRST);
  for (; rc == 0; rc = mdb_cursor_get(cursor, &k, &v, MDB_NEXT)) {
    if (k.mv_size != 12 || key_chunk_keys_.size() + 1 >= UINT32_MAX) {
      rc = MDB_CORRUPTED;
      break;
    }
    const auto chunk = static_cast<KeyLocator::Chunk>(key_chunk_keys_.size() + 1);
    key_chunk_keys_.emplace_back();
    std::copy_n(static_cast<const char*>(k.mv_data), 12, key_chunk_keys_.back().begin());
    FramedReader records(from_val(v));
    std::string_view record_bytes, entry;
    Offset offset;
    Digest128 key;
    KeyRecord record;
    bool decoded = true;
    while (decoded && records.next(record_bytes)) {
      decoded = split_key_record(record_bytes, offset, entry) && decode_key_entry(entry, key, record);
      if (decoded) key_locator_.insert(key, chunk);
    }
    if (!decoded || records.malformed()) {
      rc = MDB_CORRUPTED;
      break;
    }
  }
  mdb_cursor_close(cursor);
  batch_chunks_first_ = handed_out_chunks_first_ = static_cast<KeyLocator::Chunk>(key_chunk_keys_.size() + 1);
  if (rc != MDB_NOTFOUND) {
    key_locator_.clear();  // incomplete: never trust it
    key_chunk_keys_.clear();
    return fail(rc == MDB_CORRUPTED ? Status::error(Status::Code::corruption,
                                                    "undecodable record in \"keys\" (store damaged or written by "
                                                    "another version)")
                                    : lmdb_error("mdb_cursor_get(keys)", rc));
  }
  key_index_loaded_ = true;
}

void LmdbLedger::fail(Status status) {
  if (error_.is_ok()) error_ = std::move(status);
}

namespace {
bool decode_value(std::string_view bytes, OrgState& out) { return decode(bytes, out); }
bool decode_value(std::string_view bytes, MemberState& out) { return decode(bytes, out); }
bool decode_value(std::string_view bytes, PurchaseRecord& out) { return decode(bytes, out); }
bool decode_value(std::string_view bytes, Grant& out) { return decode(bytes, out); }
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

template <typename T>
T& LmdbLedger::touch(typename StateTable<T>::Entry& entry, Touched<T>& touched) {
  if (!entry.value.touched) {
    entry.value.touched = true;
    touched.push_back(&entry);
  }
  return entry.value.state;
}

OrgState* LmdbLedger::find_org(OrgIdView org) {
  const uint64_t hash = id_hash(org.str());
  if (auto* entry = orgs_.find(org.str(), hash)) return &touch<OrgState>(*entry, touched_orgs_);
  OrgState state;
  if (!load(Db::orgs, org.str(), state)) return nullptr;
  auto& entry = orgs_.insert(std::string(org.str()), hash, Entry<OrgState>{state, state});
  touched_orgs_.push_back(&entry);
  return &entry.value.state;
}

OrgState& LmdbLedger::create_org(OrgIdView org) {
  const uint64_t hash = id_hash(org.str());
  TALLY_ASSERT(orgs_.find(org.str(), hash) == nullptr, "create_* REQUIRES absence");
  auto& entry = orgs_.insert(std::string(org.str()), hash, Entry<OrgState>{});
  touched_orgs_.push_back(&entry);
  return entry.value.state;
}

MemberState* LmdbLedger::find_member(OrgIdView org, MemberIdView member) {
  pair_key(scratch_, org, member);
  const uint64_t hash = id_hash(scratch_);
  if (auto* entry = members_.find(scratch_, hash)) return &touch<MemberState>(*entry, touched_members_);
  MemberState state;
  if (!load(Db::members, scratch_, state)) return nullptr;
  auto& entry = members_.insert(scratch_, hash, Entry<MemberState>{state, state});
  touched_members_.push_back(&entry);
  return &entry.value.state;
}

MemberState& LmdbLedger::create_member(OrgIdView org, MemberIdView member) {
  pair_key(scratch_, org, member);
  const uint64_t hash = id_hash(scratch_);
  TALLY_ASSERT(members_.find(scratch_, hash) == nullptr, "create_* REQUIRES absence");
  auto& entry = members_.insert(scratch_, hash, Entry<MemberState>{});
  touched_members_.push_back(&entry);
  return entry.value.state;
}

void LmdbLedger::prefetch_org(std::string_view org, PrefetchStage stage) {
  const uint64_t hash = id_hash(org);
  stage == PrefetchStage::slot ? orgs_.prefetch_slot(hash) : orgs_.prefetch_entry(hash);
}

void LmdbLedger::prefetch_member(std::string_view org, std::string_view member, PrefetchStage stage) {
  pair_key(hint_scratch_, org, member);
  const uint64_t hash = id_hash(hint_scratch_);
  stage == PrefetchStage::slot ? members_.prefetch_slot(hash) : members_.prefetch_entry(hash);
}

Digest128 LmdbLedger::key_digest(std::string_view scope, std::string_view key) {
  // Same views (address and size), same bytes: both point into the record being applied.
  if (memo_valid_ && memo_scope_.data() == scope.data() && memo_scope_.size() == scope.size() &&
      memo_key_.data() == key.data() && memo_key_.size() == key.size()) {
    return memo_digest_;
  }
  memo_valid_ = true;
  memo_scope_ = scope;
  memo_key_ = key;
  memo_digest_ = idempotency_digest(digest_scratch_, scope, key);
  return memo_digest_;
}

const KeyRecord* LmdbLedger::find_key(std::string_view scope, std::string_view key) {
  const Digest128 digest = key_digest(scope, key);
  const bool found = key_locator_.find(digest, [&](KeyLocator::Chunk chunk) {
    const std::string_view records = key_chunk(chunk);
    return !records.empty() && find_in_chunk(records, digest);
  });
  return found ? &found_key_ : nullptr;
}

std::string_view LmdbLedger::key_chunk(KeyLocator::Chunk chunk) {
  if (chunk >= batch_chunks_first_) return batch_key_chunks_[chunk - batch_chunks_first_].records;
  if (chunk >= handed_out_chunks_first_) return handed_out_key_chunks_[chunk - handed_out_chunks_first_];
  const auto& key = key_chunk_keys_[chunk - 1];
  MDB_val k{key.size(), const_cast<char*>(key.data())};
  MDB_val v;
  if (const int rc = mdb_get(txn_, env_.dbi(Db::keys), &k, &v); rc != 0) {
    // The locator names only chunks the store holds: absent is damage too.
    fail(rc == MDB_NOTFOUND ? Status::error(Status::Code::corruption, "a chunk of \"keys\" is missing from the store")
                            : lmdb_error("mdb_get(keys)", rc));
    return {};
  }
  return from_val(v);
}

bool LmdbLedger::find_in_chunk(std::string_view chunk, const Digest128& key) {
  FramedReader records(chunk);
  std::string_view record_bytes, entry;
  Offset offset;
  Digest128 digest;
  bool decoded = true;
  while (decoded && records.next(record_bytes)) {
    decoded = split_key_record(record_bytes, offset, entry) && decode_key_entry(entry, digest, found_key_);
    if (decoded && digest == key) return true;
  }
  if (!decoded || records.malformed()) {
    fail(Status::error(Status::Code::corruption,
                       "undecodable record in \"keys\" (store damaged or written by another version)"));
  }
  return false;
}

void LmdbLedger::prefetch_key(std::string_view scope, std::string_view key) {
  key_locator_.prefetch(idempotency_digest(digest_scratch_, scope, key));
}

LmdbLedger::KeyChunk& LmdbLedger::open_key_chunk(std::size_t bytes) {
  const int32_t partition = position_.partition.value;
  auto open = std::find_if(open_key_chunks_.begin(), open_key_chunks_.end(),
                           [&](const auto& entry) { return entry.first == partition; });
  if (open != open_key_chunks_.end()) {
    KeyChunk& chunk = batch_key_chunks_[open->second];
    if (chunk.records.size() + bytes <= keys_chunk_bytes_max) return chunk;
  }
  TALLY_ASSERT(key_chunk_keys_.size() + 1 < UINT32_MAX, "at most 2^32 - 2 chunks of keys");
  const std::size_t index = batch_key_chunks_.size();
  batch_key_chunks_.push_back(KeyChunk{position_key(position_), {}});
  key_chunk_keys_.push_back(batch_key_chunks_.back().key);
  if (open != open_key_chunks_.end()) {
    open->second = index;
  } else {
    open_key_chunks_.emplace_back(partition, index);
  }
  return batch_key_chunks_.back();
}

void LmdbLedger::put_key(std::string_view scope, std::string_view key, const KeyRecord& record) {
  const Digest128 digest = key_digest(scope, key);
  encoded_.clear();
  append_key_record(encoded_, position_.offset, digest, record);
  KeyChunk& chunk = open_key_chunk(encoded_.size());
  chunk.records.append(encoded_);
  key_locator_.insert(digest, static_cast<KeyLocator::Chunk>(batch_chunks_first_ + (&chunk - batch_key_chunks_.data())));
}

PurchaseRecord* LmdbLedger::find_purchase(OrgIdView org, std::string_view key) {
  pair_key(scratch_, org, key);
  if (auto it = purchases_.find(std::string_view(scratch_)); it != purchases_.end()) return &it->second.state;
  PurchaseRecord record;
  if (auto it = handed_out_purchases_.find(std::string_view(scratch_)); it != handed_out_purchases_.end()) {
    record = it->second;
  } else if (!load(Db::purchases, scratch_, record)) {
    return nullptr;
  }
  return &purchases_.emplace(scratch_, Entry<PurchaseRecord>{record, record}).first->second.state;
}

void LmdbLedger::put_purchase(OrgIdView org, std::string_view key, const PurchaseRecord& record) {
  pair_key(scratch_, org, key);
  auto it = purchases_.find(std::string_view(scratch_));
  if (it == purchases_.end()) it = purchases_.emplace(scratch_, Entry<PurchaseRecord>{}).first;
  it->second.state = record;  // `stored` stays what the store held, if anything
}

const Grant* LmdbLedger::find_closed_grant(OrgIdView org, std::string_view grant_id) {
  pair_key(scratch_, org, grant_id);
  for (const Cache<Grant>* cache : {&closed_grants_, &handed_out_grants_, &loaded_grants_}) {
    if (auto it = cache->find(std::string_view(scratch_)); it != cache->end()) return &it->second;
  }
  Grant grant;
  if (!load(Db::grants, scratch_, grant)) return nullptr;
  return &loaded_grants_.emplace(scratch_, std::move(grant)).first->second;
}

void LmdbLedger::put_closed_grant(OrgIdView org, const Grant& grant) {
  pair_key(scratch_, org, grant.id);
  const bool inserted = closed_grants_.emplace(scratch_, grant).second;
  TALLY_ASSERT(inserted, "a grant closes once");
}

void LmdbLedger::take_closed_grants(PutBuffer& out) {
  std::vector<const Cache<Grant>::value_type*> entries;
  entries.reserve(closed_grants_.size());
  for (const auto& entry : closed_grants_) entries.push_back(&entry);
  std::sort(entries.begin(), entries.end(), [](auto* a, auto* b) { return a->first < b->first; });
  for (const auto* entry : entries) out.add(entry->first, encode(entry->second));
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
    ChainHead chain;  // the writer's (projector_impl.h), not the fold's
    if (!decode_partition(from_val(v), next, chain, state)) {
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
void LmdbLedger::take_states(const Touched<T>& touched, PutBuffer& out) {
  // Only what changed, in key order: neighbouring puts touch neighbouring pages.
  std::vector<const typename StateTable<T>::Entry*> entries;
  entries.reserve(touched.size());
  for (const auto* entry : touched) {
    if (entry->value.changed()) entries.push_back(entry);
  }
  std::sort(entries.begin(), entries.end(), [](auto* a, auto* b) { return a->id < b->id; });
  for (const auto* entry : entries) out.add(entry->id, encode(entry->value.state));
}

// The batch's purchases (the cache holds no others), changed ones in key order.
void LmdbLedger::take_purchases(PutBuffer& out) {
  std::vector<const Cache<Entry<PurchaseRecord>>::value_type*> entries;
  for (const auto& entry : purchases_) {
    if (entry.second.changed()) entries.push_back(&entry);
  }
  std::sort(entries.begin(), entries.end(), [](auto* a, auto* b) { return a->first < b->first; });
  for (const auto* entry : entries) out.add(entry->first, encode(entry->second.state));
}

template <typename T>
void LmdbLedger::hand_out(Touched<T>& touched) {
  for (auto* entry : touched) {
    Entry<T>& e = entry->value;
    if (e.changed()) e.stored = e.state;
    e.touched = false;
  }
  touched.clear();
}

// The batch's chunks, in key order; they stay readable (numbered as they were) until the next batch
// is handed out.
void LmdbLedger::take_keys(PutBuffer& out) {
  std::vector<const KeyChunk*> chunks;
  chunks.reserve(batch_key_chunks_.size());
  for (const KeyChunk& chunk : batch_key_chunks_) chunks.push_back(&chunk);
  std::sort(chunks.begin(), chunks.end(), [](const KeyChunk* a, const KeyChunk* b) { return a->key < b->key; });
  for (const KeyChunk* chunk : chunks) out.add(std::string_view(chunk->key.data(), chunk->key.size()), chunk->records);
  handed_out_key_chunks_.clear();
  for (KeyChunk& chunk : batch_key_chunks_) handed_out_key_chunks_.push_back(std::move(chunk.records));
  batch_key_chunks_.clear();
  open_key_chunks_.clear();
  handed_out_chunks_first_ = batch_chunks_first_;
  batch_chunks_first_ = static_cast<KeyLocator::Chunk>(key_chunk_keys_.size() + 1);
}

}  // namespace tally::store
