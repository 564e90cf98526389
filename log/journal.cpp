#include "log/journal.h"

#include <cassert>
#include <chrono>
#include <cstdio>
#include <random>
#include <set>

#include "engine/limits.h"
#include "log/journal_env.h"
#include "log/journal_format.h"

namespace tally {
namespace {

constexpr std::size_t journal_id_bytes = 36;                     // UUID text form
constexpr std::size_t journal_map_size_min_bytes = 64 * 1024;

bool valid_topic_name(std::string_view name) {
  if (name.empty() || name.size() > journal_topic_name_bytes_max) return false;
  for (const char c : name) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
                    c == '_' || c == '-';
    if (!ok) return false;
  }
  return true;
}

// A random (version 4) UUID. std::random_device reads the kernel's entropy source on Linux.
std::string new_journal_id() {
  std::random_device device;
  unsigned char bytes[16];
  for (std::size_t i = 0; i < sizeof bytes; i += 4) {
    const uint32_t word = device();
    for (std::size_t j = 0; j < 4; ++j) bytes[i + j] = static_cast<unsigned char>(word >> (8 * j));
  }
  bytes[6] = static_cast<unsigned char>((bytes[6] & 0x0f) | 0x40);
  bytes[8] = static_cast<unsigned char>((bytes[8] & 0x3f) | 0x80);
  char text[journal_id_bytes + 1];
  std::snprintf(text, sizeof text, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", bytes[0],
                bytes[1], bytes[2], bytes[3], bytes[4], bytes[5], bytes[6], bytes[7], bytes[8], bytes[9], bytes[10],
                bytes[11], bytes[12], bytes[13], bytes[14], bytes[15]);
  return std::string(text, journal_id_bytes);
}

Status validate_options(const JournalOptions& options) {
  if (options.topics.size() > journal_topics_max) {
    return Status::invalid("topics", "at most " + std::to_string(journal_topics_max) + " topics");
  }
  std::set<std::string> names;
  for (std::size_t i = 0; i < options.topics.size(); ++i) {
    const JournalTopic& topic = options.topics[i];
    const std::string field = "topics[" + std::to_string(i) + "]";
    if (!valid_topic_name(topic.name)) {
      return Status::invalid(field + ".name", "a topic name is 1.." + std::to_string(journal_topic_name_bytes_max) +
                                                   " bytes of [A-Za-z0-9._-], got \"" + topic.name + "\"");
    }
    if (!names.insert(topic.name).second) return Status::invalid(field + ".name", "topic " + topic.name + " listed twice");
    if (topic.partitions < 1 || topic.partitions > limits::partitions_max) {
      return Status::invalid(field + ".partitions", "must be 1.." + std::to_string(limits::partitions_max) + ", got " +
                                                        std::to_string(topic.partitions));
    }
  }
  if (options.map_size_bytes < journal_map_size_min_bytes) {
    return Status::invalid("map_size_bytes", "must be at least " + std::to_string(journal_map_size_min_bytes));
  }
  if (options.map_size_max_bytes < options.map_size_bytes) {
    return Status::invalid("map_size_max_bytes", "must not be below map_size_bytes");
  }
  return Status::ok();
}

// Reads, and on a new journal writes, the meta database; creates missing topics.
class MetaSetup {
 public:
  // `map_full` is null for a read-only journal: nothing is created then.
  MetaSetup(MDB_txn* txn, JournalEnv& env, bool* map_full) : txn_(txn), env_(env), map_full_(map_full) {}

  Status run(const JournalOptions& options, std::string& id) {
    MDB_val version;
    int rc = get(journal_format::meta_format_version, version);
    if (rc == MDB_NOTFOUND) {
      if (map_full_ == nullptr) {
        return Status::error(Status::Code::not_found, "journal " + env_.dir() + " has no format version yet");
      }
      Status fresh = create_journal();
      if (!fresh.is_ok()) return fresh;
      rc = get(journal_format::meta_format_version, version);
    }
    if (rc != MDB_SUCCESS) return lmdb_error("journal: mdb_get", rc);
    if (version.mv_size != 4) return corrupt("format_version has " + std::to_string(version.mv_size) + " bytes");
    const uint32_t stored = journal_format::get_u32(static_cast<const char*>(version.mv_data));
    if (stored != journal_format_version) return wrong_version(stored);
    MDB_val id_value;
    if ((rc = get(journal_format::meta_journal_id, id_value)) != MDB_SUCCESS) {
      return rc == MDB_NOTFOUND ? corrupt("journal_id missing") : lmdb_error("journal: mdb_get", rc);
    }
    if (id_value.mv_size != journal_id_bytes) return corrupt("journal_id has the wrong length");
    id.assign(static_cast<const char*>(id_value.mv_data), id_value.mv_size);
    for (std::size_t i = 0; i < options.topics.size(); ++i) {
      Status topic = ensure_topic(options.topics[i], i);
      if (!topic.is_ok()) return topic;
    }
    return Status::ok();
  }

 private:
  int get(std::string_view key, MDB_val& value) {
    MDB_val k{key.size(), const_cast<char*>(key.data())};
    return mdb_get(txn_, env_.meta_dbi(), &k, &value);
  }

  Status put(std::string_view key, std::string_view value) {
    assert(map_full_ != nullptr);
    MDB_val k{key.size(), const_cast<char*>(key.data())};
    MDB_val v{value.size(), const_cast<char*>(value.data())};
    const int rc = mdb_put(txn_, env_.meta_dbi(), &k, &v, 0);
    *map_full_ = *map_full_ || rc == MDB_MAP_FULL;
    return rc == MDB_SUCCESS ? Status::ok() : lmdb_error("journal: mdb_put", rc);
  }

  Status corrupt(const std::string& what) {
    return Status::error(Status::Code::corruption, "journal " + env_.dir() + ": damaged meta: " + what);
  }

  Status wrong_version(uint32_t stored) {
    std::string why = "journal " + env_.dir() + " has format version " + std::to_string(stored) +
                      "; this build reads version " + std::to_string(journal_format_version);
    if (stored == 1) {
      why += " (version 1 records carry no append time, which the fold needs: read this journal with the build "
             "that wrote it, and start a new journal with this one)";
    }
    return Status::error(Status::Code::corruption, std::move(why));
  }

  Status create_journal() {
    // Records without meta would be a journal whose meta was lost, not a new one.
    MDB_stat stat;
    const int rc = mdb_stat(txn_, env_.records_dbi(), &stat);
    if (rc != MDB_SUCCESS) return lmdb_error("journal: mdb_stat", rc);
    if (stat.ms_entries != 0) return corrupt("format_version missing but records present");
    char version[4];
    journal_format::put_u32(version, journal_format_version);
    Status status = put(journal_format::meta_format_version, std::string_view(version, 4));
    if (status.is_ok()) status = put(journal_format::meta_journal_id, new_journal_id());
    return status;
  }

  // The highest topic id in use (0 if none).
  Result<uint32_t> max_topic_id() {
    MDB_cursor* cursor = nullptr;
    int rc = mdb_cursor_open(txn_, env_.meta_dbi(), &cursor);
    if (rc != MDB_SUCCESS) return lmdb_error("journal: mdb_cursor_open", rc);
    uint32_t max_id = 0;
    const std::string_view prefix = journal_format::meta_topic_prefix;
    MDB_val k{prefix.size(), const_cast<char*>(prefix.data())};
    MDB_val v;
    for (rc = mdb_cursor_get(cursor, &k, &v, MDB_SET_RANGE); rc == MDB_SUCCESS;
         rc = mdb_cursor_get(cursor, &k, &v, MDB_NEXT)) {
      const std::string_view key(static_cast<const char*>(k.mv_data), k.mv_size);
      if (!key.starts_with(prefix)) break;
      if (v.mv_size != journal_format::topic_meta_bytes) {
        mdb_cursor_close(cursor);
        return corrupt("topic entry " + std::string(key));
      }
      max_id = std::max(max_id, journal_format::get_u32(static_cast<const char*>(v.mv_data)));
    }
    mdb_cursor_close(cursor);
    if (rc != MDB_SUCCESS && rc != MDB_NOTFOUND) return lmdb_error("journal: mdb_cursor_get", rc);
    return max_id;
  }

  Status ensure_topic(const JournalTopic& topic, std::size_t index) {
    const std::string key = journal_format::topic_meta_key(topic.name);
    MDB_val existing;
    const int rc = get(key, existing);
    if (rc == MDB_SUCCESS) {
      if (existing.mv_size != journal_format::topic_meta_bytes) return corrupt("topic entry " + topic.name);
      const uint32_t stored = journal_format::get_u32(static_cast<const char*>(existing.mv_data) + 4);
      if (stored != static_cast<uint32_t>(topic.partitions)) {
        return Status::invalid("topics[" + std::to_string(index) + "].partitions",
                               "topic " + topic.name + " of journal " + env_.dir() + " has " + std::to_string(stored) +
                                   " partitions, not " + std::to_string(topic.partitions) +
                                   " (a partition count is fixed when the topic is created)");
      }
      return Status::ok();
    }
    if (rc != MDB_NOTFOUND) return lmdb_error("journal: mdb_get", rc);
    if (map_full_ == nullptr) {
      return Status::error(Status::Code::not_found, "journal " + env_.dir() + " has no topic \"" + topic.name + "\"");
    }
    auto max_id = max_topic_id();
    if (!max_id.is_ok()) return max_id.status();
    char value[journal_format::topic_meta_bytes];
    journal_format::put_u32(value, max_id.value() + 1);
    journal_format::put_u32(value + 4, static_cast<uint32_t>(topic.partitions));
    return put(key, std::string_view(value, sizeof value));
  }

  MDB_txn* txn_;
  JournalEnv& env_;
  bool* map_full_;
};

int64_t system_clock_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace

JournalOptions journal_options(int32_t events_partitions, int32_t signals_partitions) {
  JournalOptions options;
  options.topics = {{std::string(journal_events_topic), events_partitions},
                    {std::string(journal_signals_topic), signals_partitions}};
  return options;
}

Journal::Journal(std::shared_ptr<JournalEnv> env, std::string dir, std::string id, std::function<int64_t()> clock,
                 bool read_only)
    : env_(std::move(env)), clock_(std::move(clock)), read_only_(read_only), dir_(std::move(dir)), id_(std::move(id)) {}

Journal::~Journal() = default;

Result<std::unique_ptr<Journal>> Journal::open(const std::string& dir, const JournalOptions& options) {
  Status valid = validate_options(options);
  if (!valid.is_ok()) return valid;
  if (dir.empty()) return Status::invalid("dir", "a journal directory is required");
  auto env = JournalEnv::acquire(dir, options);
  if (!env.is_ok()) return env.status();
  std::string id;
  JournalEnv& shared = *env.value();
  Status setup = options.read_only ? shared.read([&](MDB_txn* txn) {
    return MetaSetup(txn, shared, nullptr).run(options, id);
  })
                                   : shared.write([&](MDB_txn* txn, bool& map_full) {
                                       id.clear();
                                       return MetaSetup(txn, shared, &map_full).run(options, id);
                                     });
  if (!setup.is_ok()) return setup;
  std::function<int64_t()> clock = options.clock ? options.clock : system_clock_ms;
  return std::unique_ptr<Journal>(
      new Journal(std::move(env.value()), dir, std::move(id), std::move(clock), options.read_only));
}

Result<int32_t> Journal::partition_count(std::string_view topic) const {
  auto info = env_->find_topic(topic);
  if (!info.is_ok()) return info.status();
  return info->partitions;
}

Result<std::unique_ptr<LogWriter>> Journal::writer(std::string_view topic) const {
  auto info = env_->find_topic(topic);
  if (!info.is_ok()) return info.status();
  if (read_only_) return Status::error(Status::Code::unavailable, "journal " + dir_ + " is open read-only");
  return make_journal_writer(env_, std::move(info.value()), clock_);
}

Result<std::unique_ptr<LogReader>> Journal::reader(std::string_view topic) const {
  auto info = env_->find_topic(topic);
  if (!info.is_ok()) return info.status();
  std::string identity = "journal:" + id_ + "/" + std::string(topic);
  return make_journal_reader(env_, std::move(info.value()), std::move(identity));
}

}  // namespace tally
