#include "projections/view_digests.h"

#include <algorithm>
#include <memory>

#include "engine/assert.h"
#include "engine/state_codec.h"
#include "projections/records.h"
#include "projections/store_cursor.h"

namespace tally::store {
namespace {

// Streaming digest of one view: chain over (key, value) in the order given.
class ViewDigest {
 public:
  void add(std::string_view key, std::string_view value) {
    builder_.clear();
    builder_.add_digest(running_).add(key).add(value);
    running_ = builder_.finish();
    ++entries_;
  }
  Digest128 finish() const {
    DigestBuilder d;
    d.add_digest(running_).add_int(static_cast<int64_t>(entries_));
    return d.finish();
  }

 private:
  DigestBuilder builder_;
  Digest128 running_;
  uint64_t entries_ = 0;
};

// The records of chunks, one by one with the key each would have on its own (store.h), so that
// digests do not depend on where batches ended. False if the chunk is malformed.
bool for_each_in_history_chunk(std::string_view key, std::string_view chunk, ViewDigest& digest) {
  if (key.size() < 9 || key[key.size() - 9] != '\0') return false;
  const std::string_view org = key.substr(0, key.size() - 9);
  uint64_t sequence = get_u64_be(key.substr(key.size() - 8));
  std::string entry_key;
  FramedReader reader(chunk);
  for (std::string_view bytes; reader.next(bytes); ++sequence) {
    history_key(entry_key, org, sequence);
    digest.add(entry_key, bytes);
  }
  return !reader.malformed();
}

bool for_each_in_keys_chunk(std::string_view key, std::string_view chunk, ViewDigest& digest) {
  if (key.size() != 12) return false;
  LogPosition position = key_position(key);
  FramedReader reader(chunk);
  for (std::string_view bytes, entry; reader.next(bytes);) {
    if (!split_key_record(bytes, position.offset, entry)) return false;
    const auto entry_key = position_key(position);
    digest.add(std::string_view(entry_key.data(), entry_key.size()), entry);
  }
  return !reader.malformed();
}

// The records of one "chain" chunk, each under its own position key with its mark as the value.
bool for_each_in_chain_chunk(std::string_view key, std::string_view chunk, ViewDigest& digest) {
  if (key.size() != 12) return false;
  LogPosition position = key_position(key);
  ChainChunkReader reader(chunk, position.offset);
  for (uint64_t mark = 0; reader.next(position.offset, mark);) {
    const auto entry_key = position_key(position);
    std::string value;
    ByteWriter(value).u64(mark);
    digest.add(std::string_view(entry_key.data(), entry_key.size()), value);
  }
  return !reader.malformed();
}

// One entry (a chunk of a chunked view) into the view's digest; false if it does not decode.
bool add_entry(Db db, std::string_view key, std::string_view value, ViewDigest& digest) {
  switch (db) {
    case Db::history: return for_each_in_history_chunk(key, value, digest);
    case Db::keys: return for_each_in_keys_chunk(key, value, digest);
    case Db::chain: return for_each_in_chain_chunk(key, value, digest);
    default: digest.add(key, value); return true;
  }
}

// The digest of `db` over the stores: their entries merged by key (a min-heap of one cursor per
// store). A chunk's records sort between its key and the store's next key, and no other store
// holds a key in between (the records of an org, and of a partition, are all in one store), so
// merging by chunk key merges record by record too.
Result<Digest128> digest_view(Db db, const std::vector<ReadTxn>& txns, const std::vector<StoreEnv*>& envs) {
  std::vector<std::unique_ptr<Cursor>> cursors;
  std::vector<std::size_t> heap;  // indexes of cursors positioned on an entry
  cursors.reserve(envs.size());
  for (std::size_t i = 0; i < envs.size(); ++i) {
    Cursor& cursor = *cursors.emplace_back(std::make_unique<Cursor>(txns[i], envs[i]->dbi(db)));
    if (cursor.seek({})) {
      heap.push_back(i);
    } else if (Status s = cursor.end_status("mdb_cursor_get"); !s.is_ok()) {
      return s;
    }
  }
  const auto after = [&](std::size_t a, std::size_t b) { return cursors[a]->key() > cursors[b]->key(); };
  std::make_heap(heap.begin(), heap.end(), after);
  ViewDigest digest;
  while (!heap.empty()) {
    std::pop_heap(heap.begin(), heap.end(), after);
    const std::size_t i = heap.back();
    Cursor& cursor = *cursors[i];
    if (heap.size() > 1 && cursors[heap.front()]->key() == cursor.key()) {
      return Status::error(Status::Code::corruption, std::string("a key of \"") + db_name(db) +
                                                         "\" is in two stores (stores of different directories?)");
    }
    if (!add_entry(db, cursor.key(), cursor.value(), digest)) return corrupt(db);
    if (cursor.next()) {
      std::push_heap(heap.begin(), heap.end(), after);
    } else {
      if (Status s = cursor.end_status("mdb_cursor_get"); !s.is_ok()) return s;
      heap.pop_back();
    }
  }
  return digest.finish();
}

// Outbox: per partition, in emission order (sequence numbers depend on interleaving, and on how
// partitions are spread over stores).
Result<Digest128> digest_outbox(const std::vector<ReadTxn>& txns, const std::vector<StoreEnv*>& envs) {
  std::map<int64_t, ViewDigest> per_partition;
  for (std::size_t i = 0; i < envs.size(); ++i) {
    Cursor cursor(txns[i], envs[i]->dbi(Db::outbox));
    for (bool ok = cursor.seek({}); ok; ok = cursor.next()) {
      std::string_view id, bytes;
      if (!decode_outbox(cursor.value(), id, bytes)) return corrupt(Db::outbox);
      const std::size_t colon = id.find(':');
      int64_t partition = 0;
      for (char c : id.substr(0, colon)) partition = partition * 10 + (c - '0');
      per_partition[partition].add(id, bytes);
    }
    if (Status s = cursor.end_status("mdb_cursor_get(outbox)"); !s.is_ok()) return s;
  }
  DigestBuilder d;
  for (const auto& [partition, digest] : per_partition) d.add_int(partition).add_digest(digest.finish());
  return d.finish();
}

}  // namespace

Result<std::map<std::string, Digest128>> view_digests(const std::vector<StoreEnv*>& envs) {
  TALLY_ASSERT(!envs.empty(), "digests of no store");
  std::vector<ReadTxn> txns;
  txns.reserve(envs.size());
  for (StoreEnv* env : envs) {
    auto txn = ReadTxn::begin(*env);
    if (!txn.is_ok()) return txn.status();
    txns.push_back(std::move(txn.value()));
  }
  std::map<std::string, Digest128> digests;
  for (Db db : {Db::orgs, Db::members, Db::keys, Db::purchases, Db::history, Db::usage, Db::rejects, Db::partitions,
                Db::chain, Db::grants}) {
    auto digest = digest_view(db, txns, envs);
    if (!digest.is_ok()) return digest.status();
    digests[db_name(db)] = digest.value();
  }
  auto outbox = digest_outbox(txns, envs);
  if (!outbox.is_ok()) return outbox.status();
  digests["outbox"] = outbox.value();
  DigestBuilder all;
  for (const auto& [name, digest] : digests) all.add(name).add_digest(digest);
  digests["all"] = all.finish();
  return digests;
}

}  // namespace tally::store
