#include "log/journal_testing.h"

#include <string>

#include "log/journal.h"
#include "log/journal_env.h"
#include "log/journal_format.h"

namespace tally {

Status journal_tamper_for_test(const std::string& dir, std::string_view topic, PartitionId partition, Offset offset,
                               std::size_t byte_index) {
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
    std::string stored(static_cast<const char*>(v.mv_data), v.mv_size);
    const auto record = journal_format::decode_record_value(stored);
    if (!record) return Status::error(Status::Code::corruption, "journal: record is damaged already");
    if (byte_index >= record->value.size()) {
      return Status::invalid("byte_index", std::to_string(byte_index) + " is past the " +
                                               std::to_string(record->value.size()) + "-byte value");
    }
    const std::size_t at = stored.size() - record->value.size() + byte_index;
    stored[at] = static_cast<char>(~static_cast<unsigned char>(stored[at]));
    MDB_val changed{stored.size(), stored.data()};
    rc = mdb_put(txn, shared.records_dbi(), &k, &changed, 0);
    map_full = rc == MDB_MAP_FULL;
    return rc == MDB_SUCCESS ? Status::ok() : lmdb_error("journal: mdb_put", rc);
  });
}

}  // namespace tally
