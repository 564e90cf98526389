#include "log/journal_testing.h"

#include <string>

#include "log/journal.h"
#include "log/journal_env.h"
#include "log/journal_format.h"

namespace tally {

namespace {

Result<std::shared_ptr<JournalEnv>> existing_env(const std::string& dir) {
  JournalOptions options;
  options.create_if_missing = false;
  return JournalEnv::acquire(dir, options);
}

}  // namespace

Status journal_hold_writes_for_test(const std::string& dir, const std::function<void()>& while_held) {
  auto env = existing_env(dir);
  if (!env.is_ok()) return env.status();
  return env.value()->write([&](MDB_txn*, bool&) {
    while_held();
    return Status::ok();
  });
}

std::size_t journal_queued_appends_for_test(const std::string& dir) {
  auto env = existing_env(dir);
  return env.is_ok() ? env.value()->queued_writes() : 0;
}

Result<uint64_t> journal_commits_for_test(const std::string& dir) {
  auto env = existing_env(dir);
  if (!env.is_ok()) return env.status();
  return env.value()->last_txnid();
}

Status journal_edit_frame_for_test(const std::string& dir, std::string_view topic, PartitionId partition,
                                   Offset offset, const std::function<Status(std::string& frame)>& edit) {
  JournalOptions options;
  options.create_if_missing = false;
  auto env = JournalEnv::acquire(dir, options);
  if (!env.is_ok()) return env.status();
  auto info = env.value()->find_topic(topic);
  if (!info.is_ok()) return info.status();
  if (partition.value < 0 || partition.value >= info->partitions || offset.value < 0) {
    return Status::error(Status::Code::not_found, "no record " + LogPosition{partition, offset}.to_string());
  }
  JournalEnv& shared = *env.value();
  return shared.write([&](MDB_txn* txn, bool& map_full) -> Status {
    auto key = journal_format::record_key(info->id, partition.value, offset.value);
    MDB_val k{key.size(), key.data()};
    MDB_val v;
    int rc = mdb_get(txn, shared.records_dbi(), &k, &v);
    if (rc == MDB_NOTFOUND) {
      return Status::error(Status::Code::not_found, "no record " + LogPosition{partition, offset}.to_string() +
                                                        " in topic " + std::string(topic));
    }
    if (rc != MDB_SUCCESS) return lmdb_error("journal: mdb_get", rc);
    std::string frame(static_cast<const char*>(v.mv_data), v.mv_size);
    if (Status edited = edit(frame); !edited.is_ok()) return edited;
    MDB_val changed{frame.size(), frame.data()};
    rc = mdb_put(txn, shared.records_dbi(), &k, &changed, 0);
    map_full = rc == MDB_MAP_FULL;
    return rc == MDB_SUCCESS ? Status::ok() : lmdb_error("journal: mdb_put", rc);
  });
}

Status journal_tamper_for_test(const std::string& dir, std::string_view topic, PartitionId partition, Offset offset,
                               std::size_t byte_index) {
  return journal_edit_frame_for_test(dir, topic, partition, offset, [&](std::string& frame) -> Status {
    const auto record = journal_format::decode_record_value(frame);
    if (!record) return Status::error(Status::Code::corruption, "journal: record is damaged already");
    if (byte_index >= record->value.size()) {
      return Status::invalid("byte_index", std::to_string(byte_index) + " is past the " +
                                               std::to_string(record->value.size()) + "-byte value");
    }
    const std::size_t at = frame.size() - record->value.size() + byte_index;
    frame[at] = static_cast<char>(~static_cast<unsigned char>(frame[at]));
    return Status::ok();
  });
}

Status journal_damage_key_length_for_test(const std::string& dir, std::string_view topic, PartitionId partition,
                                          Offset offset, std::size_t past_end) {
  return journal_edit_frame_for_test(dir, topic, partition, offset, [&](std::string& frame) -> Status {
    if (frame.size() < journal_format::frame_header_bytes) {
      return Status::error(Status::Code::corruption, "journal: frame is damaged already");
    }
    const std::size_t declared = frame.size() - journal_format::frame_header_bytes + past_end;
    if (declared > 0xffff) return Status::invalid("past_end", "the key length would not fit in 16 bits");
    journal_format::put_u16(frame.data() + journal_format::frame_key_length_at, static_cast<uint16_t>(declared));
    return Status::ok();
  });
}

Status journal_set_format_version_for_test(const std::string& dir, uint32_t version) {
  JournalOptions options;
  options.create_if_missing = false;
  auto env = JournalEnv::acquire(dir, options);
  if (!env.is_ok()) return env.status();
  JournalEnv& shared = *env.value();
  return shared.write([&](MDB_txn* txn, bool& map_full) -> Status {
    char bytes[4];
    journal_format::put_u32(bytes, version);
    MDB_val k = lmdb::to_val(journal_format::meta_format_version);
    MDB_val v{sizeof bytes, bytes};
    const int rc = mdb_put(txn, shared.meta_dbi(), &k, &v, 0);
    map_full = rc == MDB_MAP_FULL;
    return rc == MDB_SUCCESS ? Status::ok() : lmdb_error("journal: mdb_put", rc);
  });
}

}  // namespace tally
