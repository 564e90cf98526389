#include "log/journal_env.h"

#include <algorithm>
#include <cassert>
#include <filesystem>
#include <system_error>

#include "log/journal_format.h"

namespace tally {
namespace {

constexpr unsigned journal_dbs_max = 4;        // meta, records, room to grow
constexpr mdb_mode_t journal_file_mode = 0600;  // ledger data: owner only
// Retries of one write transaction after map growth; each doubles the map, so this bounds growth
// of a single batch, not of the journal.
constexpr int write_grow_retries_max = 48;

}  // namespace

Result<std::shared_ptr<JournalEnv>> JournalEnv::acquire(const std::string& dir, const JournalOptions& options) {
  namespace fs = std::filesystem;
  std::error_code ec;
  if (!fs::exists(fs::path(dir) / "data.mdb", ec)) {
    if (!options.create_if_missing || options.read_only) {
      return Status::error(Status::Code::not_found, "journal: no journal in directory " + dir);
    }
    if (Status made = lmdb::create_private_dirs(dir); !made.is_ok()) {
      return Status::error(made.code(), "journal: " + made.message());
    }
  }
  const fs::path canonical = fs::canonical(dir, ec);
  if (ec) return Status::error(Status::Code::io_error, "journal: cannot resolve directory " + dir + ": " + ec.message());
  // LMDB forbids opening one environment twice in a process: all Journals of a directory share it.
  return lmdb::acquire<JournalEnv>(canonical.string(), [&](std::shared_ptr<JournalEnv> here) {
    if (here && here->read_only_ && !options.read_only) {
      return Result<std::shared_ptr<JournalEnv>>(Status::error(
          Status::Code::unavailable, "journal " + canonical.string() + " is open read-only in this process"));
    }
    return here ? Result<std::shared_ptr<JournalEnv>>(std::move(here)) : create(canonical.string(), options);
  });
}

Result<std::shared_ptr<JournalEnv>> JournalEnv::create(const std::string& dir, const JournalOptions& options) {
  std::shared_ptr<JournalEnv> env(new JournalEnv(dir));
  env->map_size_max_bytes_ = options.map_size_max_bytes;
  env->read_only_ = options.read_only;
  lmdb::EnvOptions env_options;
  env_options.dbs_max = journal_dbs_max;
  env_options.readers_max = journal_readers_max;
  env_options.map_size_bytes = options.read_only ? 0 : options.map_size_bytes;
  env_options.read_only = options.read_only;
  env_options.file_mode = journal_file_mode;
  if (Status opened = env->open_env(env_options); !opened.is_ok()) {
    return Status::error(opened.code(), "journal: " + opened.message());
  }
  JournalEnv* raw = env.get();
  const auto open_dbs = [raw](MDB_txn* txn, unsigned flags) {
    int rc = mdb_dbi_open(txn, journal_format::meta_db_name.data(), flags, &raw->meta_dbi_);
    if (rc == MDB_SUCCESS) rc = mdb_dbi_open(txn, journal_format::records_db_name.data(), flags, &raw->records_dbi_);
    return rc;
  };
  if (options.read_only) {
    // Handles opened in a transaction are shared once it commits (a read-only one may commit).
    lmdb::Txn txn;
    int rc = txn.begin(env->get(), MDB_RDONLY);
    if (rc != MDB_SUCCESS) return lmdb_error("journal: mdb_txn_begin(read)", rc);
    rc = open_dbs(txn.get(), 0);
    if (rc == MDB_NOTFOUND) return Status::error(Status::Code::not_found, "journal: no journal in directory " + dir);
    if (rc != MDB_SUCCESS) return lmdb_error("journal: mdb_dbi_open", rc);
    if (rc = txn.commit(); rc != MDB_SUCCESS) return lmdb_error("journal: mdb_txn_commit(read)", rc);
    return env;
  }
  Status opened = env->write([&](MDB_txn* txn, bool& map_full) {
    const int rc = open_dbs(txn, MDB_CREATE);
    map_full = rc == MDB_MAP_FULL;
    return rc == MDB_SUCCESS ? Status::ok() : lmdb_error("journal: mdb_dbi_open", rc);
  });
  if (!opened.is_ok()) return opened;
  return env;
}

Status JournalEnv::write(const WriteBody& body) {
  if (read_only_) return Status::error(Status::Code::unavailable, "journal " + dir() + " is open read-only");
  std::lock_guard writer(write_mutex_);
  for (int attempt = 0;; ++attempt) {
    bool map_full = false;
    bool map_resized = false;
    {
      std::shared_lock map_lock(map_mutex());
      lmdb::Txn txn;
      int rc = txn.begin(get());
      if (rc == MDB_MAP_RESIZED) {
        map_resized = true;
      } else if (rc != MDB_SUCCESS) {
        return lmdb_error("journal: mdb_txn_begin", rc);
      } else {
        Status status = body(txn.get(), map_full);
        if (!status.is_ok()) {
          txn.abort();
          if (!map_full) return status;
        } else {
          rc = txn.commit();
          if (rc == MDB_MAP_FULL) {
            map_full = true;
          } else if (rc != MDB_SUCCESS) {
            return lmdb_error("journal: mdb_txn_commit", rc);
          } else {
            return Status::ok();
          }
        }
      }
    }
    if (attempt >= write_grow_retries_max) {
      return Status::error(Status::Code::io_error, "journal: write transaction still does not fit after growing the map");
    }
    // Another process grew the map past ours: size 0 adopts the size recorded in the file.
    Status grown = map_resized ? set_map_size(0) : grow_map();
    if (!grown.is_ok()) return grown;
  }
}

struct JournalEnv::GroupedWrite {
  const WriteBody* body = nullptr;
  std::size_t records = 0;
  Status status;
  bool done = false;  // under group_mutex_
  // Wakes this writer alone: its group is committed, or it is first in the queue and nobody leads.
  // (One condition for all woke every waiting writer at every commit, to find most not done.)
  std::condition_variable cv;
};

Status JournalEnv::write_grouped(const WriteBody& body, std::size_t records) {
  GroupedWrite mine{&body, records, Status::ok(), false, {}};
  std::unique_lock lock(group_mutex_);
  group_queue_.push_back(&mine);
  while (!mine.done) {
    if (group_leading_) {
      mine.cv.wait(lock);
      continue;
    }
    // Lead: take the queue (ours is in it unless an earlier leader took and finished it) up to
    // the record bound; whatever is left waits for the next leader.
    group_leading_ = true;
    std::vector<GroupedWrite*> group;
    std::size_t total = 0;
    std::size_t taken = 0;
    for (; taken < group_queue_.size(); ++taken) {
      const std::size_t next = group_queue_[taken]->records;
      if (taken > 0 && total + next > journal_append_records_max) break;
      total += next;
    }
    group.assign(group_queue_.begin(), group_queue_.begin() + static_cast<std::ptrdiff_t>(taken));
    group_queue_.erase(group_queue_.begin(), group_queue_.begin() + static_cast<std::ptrdiff_t>(taken));
    lock.unlock();
    commit_group(group);
    lock.lock();
    // Under the lock: a writer leaves (and its condition goes) only under it, once done.
    for (GroupedWrite* write : group) {
      write->done = true;
      if (write != &mine) write->cv.notify_one();
    }
    group_leading_ = false;
    if (!group_queue_.empty()) group_queue_.front()->cv.notify_one();  // leads the next group
  }
  return mine.status;
}

std::size_t JournalEnv::queued_writes() {
  std::lock_guard lock(group_mutex_);
  return group_queue_.size();
}

// One transaction for the whole group. If a body fails (not MDB_MAP_FULL: write() grows the map
// and runs them all again), the transaction is aborted and each body is committed on its own, so
// that the failure is its body's alone. Bodies start from scratch on every run (WriteBody).
void JournalEnv::commit_group(std::vector<GroupedWrite*>& group) {
  if (group.size() > 1) {
    Status together = write([&](MDB_txn* txn, bool& map_full) {
      for (GroupedWrite* write : group) {
        if (Status status = (*write->body)(txn, map_full); !status.is_ok()) return status;
      }
      return Status::ok();
    });
    if (together.is_ok()) {
      for (GroupedWrite* write : group) write->status = Status::ok();
      return;
    }
  }
  for (GroupedWrite* write : group) write->status = this->write(*write->body);
}

Status JournalEnv::grow_map() {
  std::unique_lock map_lock(map_mutex());
  MDB_envinfo info;
  int rc = mdb_env_info(get(), &info);
  if (rc != MDB_SUCCESS) return lmdb_error("journal: mdb_env_info", rc);
  if (info.me_mapsize >= map_size_max_bytes_) {
    return Status::error(Status::Code::too_large,
                         "journal: map is at its maximum of " + std::to_string(map_size_max_bytes_) +
                             " bytes (map_size_max_bytes) and the batch does not fit");
  }
  const std::size_t next = std::min(info.me_mapsize * 2, map_size_max_bytes_);
  rc = mdb_env_set_mapsize(get(), next);
  return rc == MDB_SUCCESS ? Status::ok() : lmdb_error("journal: mdb_env_set_mapsize", rc);
}

Status JournalEnv::read(const std::function<Status(MDB_txn* txn)>& body) {
  auto txn = lmdb::ReadTxn::begin(*this);
  if (!txn.is_ok()) return Status::error(txn.status().code(), "journal: " + txn.status().message());
  return body(txn->get());
}

Result<JournalTopicInfo> JournalEnv::find_topic(std::string_view name) {
  JournalTopicInfo info;
  info.name = std::string(name);
  Status status = read([&](MDB_txn* txn) {
    const std::string key = journal_format::topic_meta_key(name);
    MDB_val k{key.size(), const_cast<char*>(key.data())};
    MDB_val v;
    const int rc = mdb_get(txn, meta_dbi_, &k, &v);
    if (rc == MDB_NOTFOUND) {
      return Status::error(Status::Code::not_found, "journal " + dir() + " has no topic \"" + std::string(name) + "\"");
    }
    if (rc != MDB_SUCCESS) return lmdb_error("journal: mdb_get", rc);
    if (v.mv_size != journal_format::topic_meta_bytes) {
      return Status::error(Status::Code::corruption, "journal: damaged meta entry for topic " + std::string(name));
    }
    const char* bytes = static_cast<const char*>(v.mv_data);
    info.id = journal_format::get_u32(bytes);
    const uint32_t partitions = journal_format::get_u32(bytes + 4);
    if (partitions == 0 || partitions > 0x7fffffffu) {
      return Status::error(Status::Code::corruption, "journal: damaged partition count for topic " + std::string(name));
    }
    info.partitions = static_cast<int32_t>(partitions);
    return Status::ok();
  });
  if (!status.is_ok()) return status;
  return info;
}

uint64_t JournalEnv::append_sequence() {
  std::lock_guard lock(notify_mutex_);
  return append_sequence_;
}

void JournalEnv::notify_appended() {
  {
    std::lock_guard lock(notify_mutex_);
    ++append_sequence_;
  }
  notify_cv_.notify_all();
}

void JournalEnv::wait_for_append(uint64_t seen, std::chrono::steady_clock::time_point until) {
  std::unique_lock lock(notify_mutex_);
  notify_cv_.wait_until(lock, until, [&] { return append_sequence_ != seen; });
}

Result<uint64_t> JournalEnv::last_txnid() {
  std::shared_lock map_lock(map_mutex());
  MDB_envinfo info;
  const int rc = mdb_env_info(get(), &info);
  if (rc != MDB_SUCCESS) return lmdb_error("journal: mdb_env_info", rc);
  return static_cast<uint64_t>(info.me_last_txnid);
}

JournalReadTxn::~JournalReadTxn() {
  end();
  if (cursor_ != nullptr) mdb_cursor_close(cursor_);
  if (txn_ != nullptr) mdb_txn_abort(txn_);
}

Status JournalReadTxn::begin() {
  assert(!active_);
  for (int attempt = 0;; ++attempt) {
    lock_ = std::shared_lock(env_->map_mutex());
    const bool renewing = txn_ != nullptr;
    // A failed mdb_txn_begin leaves no handle; a failed mdb_txn_renew leaves the handle reset.
    int rc = renewing ? mdb_txn_renew(txn_) : mdb_txn_begin(env_->get(), nullptr, MDB_RDONLY, &txn_);
    if (rc == MDB_SUCCESS) {
      rc = cursor_ == nullptr ? mdb_cursor_open(txn_, env_->records_dbi(), &cursor_) : mdb_cursor_renew(txn_, cursor_);
      if (rc == MDB_SUCCESS) {
        active_ = true;
        return Status::ok();
      }
      mdb_txn_reset(txn_);
      lock_.unlock();
      return lmdb_error("journal: mdb_cursor_open", rc);
    }
    if (!renewing) txn_ = nullptr;
    lock_.unlock();
    if (rc != MDB_MAP_RESIZED || attempt >= lmdb::map_resized_retries_max) {
      return lmdb_error(renewing ? "journal: mdb_txn_renew" : "journal: mdb_txn_begin", rc);
    }
    Status adopted = env_->set_map_size(0);
    if (!adopted.is_ok()) return adopted;
  }
}

void JournalReadTxn::end() {
  if (!active_) return;
  mdb_txn_reset(txn_);
  lock_.unlock();
  active_ = false;
}

Result<JournalTail> journal_tail(MDB_cursor* cursor, uint32_t topic_id, int32_t partition) {
  // The first key past the partition, then one step back.
  auto next_partition = journal_format::record_key(topic_id, partition + 1, 0);
  MDB_val k{next_partition.size(), next_partition.data()};
  MDB_val v;
  int rc = mdb_cursor_get(cursor, &k, &v, MDB_SET_RANGE);
  if (rc == MDB_SUCCESS) {
    rc = mdb_cursor_get(cursor, &k, &v, MDB_PREV);
  } else if (rc == MDB_NOTFOUND) {
    rc = mdb_cursor_get(cursor, &k, &v, MDB_LAST);
  }
  if (rc == MDB_NOTFOUND) return JournalTail{};
  if (rc != MDB_SUCCESS) return lmdb_error("journal: mdb_cursor_get", rc);
  const auto key = journal_format::decode_record_key({static_cast<const char*>(k.mv_data), k.mv_size});
  if (!key || key->topic_id != topic_id || key->partition != partition) return JournalTail{};
  const auto stamp = journal_format::frame_appended_at({static_cast<const char*>(v.mv_data), v.mv_size});
  return JournalTail{key->offset + 1, stamp.value_or(INT64_MIN)};
}

Result<int64_t> journal_end_offset(MDB_cursor* cursor, uint32_t topic_id, int32_t partition) {
  auto tail = journal_tail(cursor, topic_id, partition);
  if (!tail.is_ok()) return tail.status();
  return tail->end_offset;
}

}  // namespace tally
