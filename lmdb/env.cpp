#include "lmdb/env.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cassert>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <map>
#include <mutex>

namespace tally::lmdb {
namespace {

struct RegistryEntry {
  pid_t pid = 0;  // the process that opened it: a forked child must not touch the parent's
  std::weak_ptr<Env> env;
};

std::mutex registry_mutex;
std::map<std::string, RegistryEntry>& registry() {
  static auto* entries = new std::map<std::string, RegistryEntry>();  // never destroyed: no exit-order issues
  return *entries;
}

}  // namespace

Status lmdb_error(std::string_view call, int rc) {
  assert(rc != MDB_SUCCESS);
  std::string message = std::string(call) + ": " + mdb_strerror(rc);
  if (rc == MDB_CORRUPTED || rc == MDB_PAGE_NOTFOUND || rc == MDB_VERSION_MISMATCH || rc == MDB_INVALID) {
    return Status::error(Status::Code::corruption, std::move(message));
  }
  return Status::error(Status::Code::io_error, std::move(message));
}

Status create_private_dirs(const std::string& dir) {
  namespace fs = std::filesystem;
  if (dir.empty()) return Status::invalid("dir", "a directory is required");
  fs::path path;
  for (const fs::path& part : fs::path(dir)) {
    path /= part;
    if (part.empty() || part == "/" || part == "." || part == "..") continue;
    if (::mkdir(path.c_str(), 0700) == 0 || errno == EEXIST) continue;
    return Status::error(Status::Code::io_error,
                         "cannot create directory " + path.string() + ": " + std::strerror(errno));
  }
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) {
    return Status::error(Status::Code::io_error, "cannot create directory " + dir + ": a file of that name exists");
  }
  return Status::ok();
}

Result<std::shared_ptr<Env>> acquire_env(const std::string& canonical_dir, const EnvOpener& open) {
  std::lock_guard lock(registry_mutex);
  RegistryEntry& entry = registry()[canonical_dir];
  std::shared_ptr<Env> here = entry.pid == getpid() ? entry.env.lock() : nullptr;
  auto opened = open(here);
  if (!opened.is_ok()) return opened.status();
  if (opened.value() != here) entry = RegistryEntry{getpid(), opened.value()};
  return opened;
}

Env::~Env() {
  if (env_ != nullptr) mdb_env_close(env_);
}

Status Env::open_env(const EnvOptions& options) {
  assert(env_ == nullptr);
  if (int rc = mdb_env_create(&env_); rc != MDB_SUCCESS) {
    env_ = nullptr;
    return lmdb_error("mdb_env_create", rc);
  }
  if (int rc = mdb_env_set_maxdbs(env_, options.dbs_max); rc != MDB_SUCCESS) {
    return lmdb_error("mdb_env_set_maxdbs", rc);
  }
  if (int rc = mdb_env_set_maxreaders(env_, options.readers_max); rc != MDB_SUCCESS) {
    return lmdb_error("mdb_env_set_maxreaders", rc);
  }
  if (options.map_size_bytes > 0) {
    if (int rc = mdb_env_set_mapsize(env_, options.map_size_bytes); rc != MDB_SUCCESS) {
      return lmdb_error("mdb_env_set_mapsize", rc);
    }
  }
  const unsigned flags = MDB_NOTLS | (options.read_only ? MDB_RDONLY : 0u);
  if (int rc = mdb_env_open(env_, dir_.c_str(), flags, options.file_mode); rc != MDB_SUCCESS) {
    return lmdb_error("mdb_env_open(" + dir_ + ")", rc);
  }
  int dead_readers = 0;
  if (int rc = mdb_reader_check(env_, &dead_readers); rc != MDB_SUCCESS) return lmdb_error("mdb_reader_check", rc);
  return Status::ok();
}

std::size_t Env::map_size() const {
  MDB_envinfo info;
  mdb_env_info(env_, &info);
  return info.me_mapsize;
}

Status Env::set_map_size(std::size_t bytes) {
  std::unique_lock lock(map_mutex_);
  const int rc = mdb_env_set_mapsize(env_, bytes);
  return rc == MDB_SUCCESS ? Status::ok() : lmdb_error("mdb_env_set_mapsize", rc);
}

Result<ReadTxn> ReadTxn::begin(Env& env) {
  for (int attempt = 0;; ++attempt) {
    std::shared_lock lock(env.map_mutex());
    MDB_txn* txn = nullptr;
    const int rc = mdb_txn_begin(env.get(), nullptr, MDB_RDONLY, &txn);
    if (rc == MDB_SUCCESS) return ReadTxn(std::move(lock), txn);
    if (rc != MDB_MAP_RESIZED || attempt >= map_resized_retries_max) return lmdb_error("mdb_txn_begin(read)", rc);
    lock.unlock();
    // Another process grew the map: adopt its size (no transaction of ours may be active meanwhile).
    if (Status adopted = env.set_map_size(0); !adopted.is_ok()) return adopted;
  }
}

ReadTxn::ReadTxn(ReadTxn&& other) noexcept : lock_(std::move(other.lock_)), txn_(other.txn_) { other.txn_ = nullptr; }

ReadTxn::~ReadTxn() {
  if (txn_ != nullptr) mdb_txn_abort(txn_);
}

int ReadTxn::get(MDB_dbi dbi, std::string_view key, std::string_view& value) const {
  MDB_val k = to_val(key);
  MDB_val v;
  const int rc = mdb_get(txn_, dbi, &k, &v);
  if (rc == MDB_SUCCESS) value = from_val(v);
  return rc;
}

int Txn::begin(MDB_env* env, unsigned flags) {
  assert(txn_ == nullptr);
  const int rc = mdb_txn_begin(env, nullptr, flags, &txn_);
  if (rc != MDB_SUCCESS) txn_ = nullptr;
  return rc;
}

int Txn::commit() {
  assert(txn_ != nullptr);
  MDB_txn* txn = txn_;
  txn_ = nullptr;
  return mdb_txn_commit(txn);  // frees the transaction, committed or not
}

void Txn::abort() {
  if (txn_ == nullptr) return;
  mdb_txn_abort(txn_);
  txn_ = nullptr;
}

}  // namespace tally::lmdb
