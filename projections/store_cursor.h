// An LMDB cursor over one database of the store, closed on scope exit. Internal to projections/
// (the readers of view_reader.cpp and index_reads.cpp).
#pragma once

#include <string>
#include <string_view>

#include "projections/store.h"

namespace tally::store {

inline Status corrupt(Db db) {
  return Status::error(Status::Code::corruption, std::string("undecodable record in \"") + db_name(db) + "\"");
}

inline bool has_prefix(std::string_view s, std::string_view prefix) { return s.substr(0, prefix.size()) == prefix; }

// An LMDB cursor closed on scope exit.
class Cursor {
 public:
  Cursor(const ReadTxn& txn, MDB_dbi dbi) { rc_ = mdb_cursor_open(txn.get(), dbi, &cursor_); }
  ~Cursor() {
    if (cursor_) mdb_cursor_close(cursor_);
  }
  Cursor(const Cursor&) = delete;
  Cursor& operator=(const Cursor&) = delete;
  int open_rc() const { return rc_; }
  // Positions at the first key >= `key` (or the first key if empty); false at the end.
  bool seek(std::string_view key) {
    key_ = to_val(key);
    rc_ = mdb_cursor_get(cursor_, &key_, &value_, key.empty() ? MDB_FIRST : MDB_SET_RANGE);
    return rc_ == 0;
  }
  bool next() {
    rc_ = mdb_cursor_get(cursor_, &key_, &value_, MDB_NEXT);
    return rc_ == 0;
  }
  // Positions at the last key <= `key`; false if there is none.
  bool seek_last_at_or_before(std::string_view key) {
    key_ = to_val(key);
    rc_ = mdb_cursor_get(cursor_, &key_, &value_, MDB_SET_RANGE);
    if (rc_ == 0 && from_val(key_) == key) return true;
    if (rc_ != 0 && rc_ != MDB_NOTFOUND) return false;
    rc_ = mdb_cursor_get(cursor_, &key_, &value_, rc_ == 0 ? MDB_PREV : MDB_LAST);
    return rc_ == 0;
  }
  std::string_view key() const { return from_val(key_); }
  std::string_view value() const { return from_val(value_); }
  // ok at the end of the database, the LMDB error otherwise.
  Status end_status(const char* what) const {
    return rc_ == MDB_NOTFOUND || rc_ == 0 ? Status::ok() : store::lmdb_error(what, rc_);
  }

 private:
  MDB_cursor* cursor_ = nullptr;
  MDB_val key_{};
  MDB_val value_{};
  int rc_ = 0;
};

}  // namespace tally::store
