// The LMDB shell shared by the embedded journal (log/journal*) and the projection store
// (projections/store*): one environment per directory per process, the lock that keeps map
// resizing away from open transactions, read and write transactions that clean up after
// themselves, and LMDB return codes as Status.
//
// CAVEATS (read these first)
//   - LMDB forbids opening one environment twice in a process (its locks are per process: closing
//     the second handle would drop the first one's). Every environment is opened through
//     acquire_env(), which hands back the one already open in this process. After fork() the
//     child must not use an environment inherited from the parent: acquire_env() notices the new
//     pid and opens a fresh one.
//   - Changing the map size requires that no transaction of this process is active. Every
//     transaction of this process runs with Env::map_mutex() held shared; set_map_size() holds it
//     exclusive. A thread holding a transaction must never call set_map_size() (it would wait for
//     itself).
//   - Only lmdb/, log/journal* and projections/ include lmdb.h (tests/layout_test.py checks it).
//
// THREAD SAFETY: Env and the registry are thread-safe. A ReadTxn or Txn belongs to one thread
// at a time.
#pragma once

#include <lmdb.h>

#include <cstddef>
#include <functional>
#include <memory>
#include <shared_mutex>
#include <string>
#include <string_view>

#include "engine/status.h"

namespace tally::lmdb {

// How often a transaction is begun again after MDB_MAP_RESIZED (another process grew the map; we
// adopt its size and retry). Growth doubles the map, so more than this is not growth but a fault.
inline constexpr int map_resized_retries_max = 48;

// "call: MDB_MAP_FULL: Environment mapsize limit reached" as a Status: corruption for
// MDB_CORRUPTED, MDB_PAGE_NOTFOUND, MDB_VERSION_MISMATCH and MDB_INVALID, io_error otherwise.
// REQUIRES: rc != MDB_SUCCESS.
Status lmdb_error(std::string_view call, int rc);

// Creates directory `dir` and its missing parents, each with mode 0700: the data dirs of a ledger
// are for their owner only (SPEC §10). Directories that exist keep their mode. The files of an
// environment are created with EnvOptions::file_mode (0600).
// Errors: io_error naming the path and the errno text (also when `dir` exists and is a file).
Status create_private_dirs(const std::string& dir);

inline MDB_val to_val(std::string_view s) { return MDB_val{s.size(), const_cast<char*>(s.data())}; }
inline std::string_view from_val(const MDB_val& v) { return {static_cast<const char*>(v.mv_data), v.mv_size}; }

struct EnvOptions {
  unsigned dbs_max = 0;
  unsigned readers_max = 0;                 // reader slots, all processes
  std::size_t map_size_bytes = 0;           // 0: the size the file already has
  bool read_only = false;                   // MDB_RDONLY
  mdb_mode_t file_mode = 0600;
};

// One open MDB_env. The journal and the store derive their environments from it.
class Env {
 public:
  virtual ~Env();  // mdb_env_close
  Env(const Env&) = delete;
  Env& operator=(const Env&) = delete;

  MDB_env* get() const { return env_; }
  // The canonical directory.
  const std::string& dir() const { return dir_; }
  std::size_t map_size() const;
  // Held shared by every transaction of this process, exclusive by set_map_size().
  std::shared_mutex& map_mutex() { return map_mutex_; }
  // Sets the map size; 0 adopts the size another process grew the file to. Waits for this
  // process's transactions to end (see CAVEATS). Errors: io_error.
  Status set_map_size(std::size_t bytes);

 protected:
  explicit Env(std::string canonical_dir) : dir_(std::move(canonical_dir)) {}
  // mdb_env_create, the limits and map size of `options`, mdb_env_open with MDB_NOTLS (read
  // transactions belong to transaction objects, not threads: a thread may hold several and one
  // may move between threads), and mdb_reader_check (slots of killed processes would pin old
  // pages forever). Errors: io_error naming the call. REQUIRES: called once.
  Status open_env(const EnvOptions& options);

 private:
  MDB_env* env_ = nullptr;
  std::string dir_;
  std::shared_mutex map_mutex_;
};

// The per-process registry. Under its lock, calls `open` with the environment this process
// already has for `canonical_dir` (nullptr if none is open, or it was opened before a fork) and
// registers what `open` returns. The registry holds environments weakly: the last user closes one.
// Errors: those of `open`.
using EnvOpener = std::function<Result<std::shared_ptr<Env>>(const std::shared_ptr<Env>& open_here)>;
Result<std::shared_ptr<Env>> acquire_env(const std::string& canonical_dir, const EnvOpener& open);

// acquire_env() for one kind of environment (JournalEnv, StoreEnv). An environment of another
// kind open on the same directory is an invalid_argument: a journal and a store each need a
// directory of their own. `open` gets the environment of kind T already open here, or nullptr.
template <class T>
Result<std::shared_ptr<T>> acquire(const std::string& canonical_dir,
                                   const std::function<Result<std::shared_ptr<T>>(std::shared_ptr<T>)>& open) {
  auto acquired = acquire_env(canonical_dir, [&](const std::shared_ptr<Env>& here) -> Result<std::shared_ptr<Env>> {
    std::shared_ptr<T> same_kind = std::dynamic_pointer_cast<T>(here);
    if (here && !same_kind) {
      return Status::invalid("dir", canonical_dir + " is open in this process as another kind of LMDB environment "
                                                    "(a journal and a store each need a directory of their own)");
    }
    auto opened = open(std::move(same_kind));
    if (!opened.is_ok()) return opened.status();
    return std::shared_ptr<Env>(std::move(opened.value()));
  });
  if (!acquired.is_ok()) return acquired.status();
  return std::static_pointer_cast<T>(std::move(acquired.value()));
}

// A read-only transaction holding env.map_mutex() shared. It adopts a map grown by another process
// (MDB_MAP_RESIZED) before it begins. Move-only; aborted on destruction.
class ReadTxn {
 public:
  // Errors: io_error (the LMDB call and its error text).
  static Result<ReadTxn> begin(Env& env);
  ReadTxn(ReadTxn&& other) noexcept;
  ReadTxn& operator=(ReadTxn&&) = delete;
  ~ReadTxn();
  MDB_txn* get() const { return txn_; }
  // mdb_get: MDB_SUCCESS (value points into the map until the transaction ends), MDB_NOTFOUND or
  // another LMDB error code.
  int get(MDB_dbi dbi, std::string_view key, std::string_view& value) const;

 private:
  ReadTxn(std::shared_lock<std::shared_mutex> lock, MDB_txn* txn) : lock_(std::move(lock)), txn_(txn) {}
  std::shared_lock<std::shared_mutex> lock_;
  MDB_txn* txn_;
};

// A transaction begun by the caller (a write transaction, unless flags say MDB_RDONLY): aborted on
// destruction unless committed. It takes no lock of its own and does not retry: the caller holds
// env.map_mutex() shared when another thread of the process may resize the map, and decides what
// MDB_MAP_RESIZED and MDB_MAP_FULL mean for it.
class Txn {
 public:
  Txn() = default;
  ~Txn() { abort(); }
  Txn(const Txn&) = delete;
  Txn& operator=(const Txn&) = delete;

  // mdb_txn_begin; returns its code (MDB_SUCCESS, MDB_MAP_RESIZED, …). REQUIRES: not active.
  int begin(MDB_env* env, unsigned flags = 0);
  // mdb_txn_commit; returns its code. The transaction ends whatever the outcome.
  // REQUIRES: active.
  int commit();
  // Ends the transaction without committing. No-op when not active.
  void abort();
  MDB_txn* get() const { return txn_; }

 private:
  MDB_txn* txn_ = nullptr;
};

}  // namespace tally::lmdb
