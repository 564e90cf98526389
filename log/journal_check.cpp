#include "log/journal_check.h"

#include <map>
#include <optional>

#include "log/journal_env.h"
#include "log/journal_format.h"

namespace tally {
namespace {

constexpr std::size_t key_hex_bytes_max = 32;  // of a malformed key, in a report

struct TopicMeta {
  std::string name;
  int32_t partitions = 0;
};

std::string hex(std::string_view bytes) {
  static constexpr char digits[] = "0123456789abcdef";
  std::string out;
  for (const char c : bytes.substr(0, key_hex_bytes_max)) {
    out.push_back(digits[static_cast<unsigned char>(c) >> 4]);
    out.push_back(digits[static_cast<unsigned char>(c) & 0xf]);
  }
  return bytes.size() > key_hex_bytes_max ? out + "…" : out;
}

// Topic id -> name and partition count, from the meta's "topic:<name>" entries.
Result<std::map<uint32_t, TopicMeta>> read_topics(JournalEnv& env) {
  std::map<uint32_t, TopicMeta> topics;
  Status status = env.read([&](MDB_txn* txn) -> Status {
    MDB_cursor* cursor = nullptr;
    int rc = mdb_cursor_open(txn, env.meta_dbi(), &cursor);
    if (rc != MDB_SUCCESS) return lmdb_error("journal: mdb_cursor_open", rc);
    const std::string_view prefix = journal_format::meta_topic_prefix;
    MDB_val k = lmdb::to_val(prefix);
    MDB_val v;
    for (rc = mdb_cursor_get(cursor, &k, &v, MDB_SET_RANGE); rc == MDB_SUCCESS;
         rc = mdb_cursor_get(cursor, &k, &v, MDB_NEXT)) {
      const std::string_view key = lmdb::from_val(k);
      if (!key.starts_with(prefix)) break;
      if (v.mv_size != journal_format::topic_meta_bytes) {
        mdb_cursor_close(cursor);
        return Status::error(Status::Code::corruption,
                             "journal " + env.dir() + ": damaged meta entry " + std::string(key));
      }
      const char* bytes = static_cast<const char*>(v.mv_data);
      topics[journal_format::get_u32(bytes)] =
          TopicMeta{std::string(key.substr(prefix.size())), static_cast<int32_t>(journal_format::get_u32(bytes + 4))};
    }
    mdb_cursor_close(cursor);
    return rc == MDB_SUCCESS || rc == MDB_NOTFOUND ? Status::ok() : lmdb_error("journal: mdb_cursor_get", rc);
  });
  if (!status.is_ok()) return status;
  return topics;
}

// Judges the stored records one by one, in key order.
class Walk {
 public:
  Walk(const std::map<uint32_t, TopicMeta>& topics, const std::function<void(const JournalDamage&)>& on_damage,
       JournalCheckSummary& summary)
      : topics_(topics), on_damage_(on_damage), summary_(summary) {}

  void visit(std::string_view stored_key, std::string_view frame) {
    ++summary_.records;
    const auto key = journal_format::decode_record_key(stored_key);
    if (!key) {
      report("", LogPosition{PartitionId{-1}, Offset{-1}},
             "a stored key of " + std::to_string(stored_key.size()) + " bytes that is not a record key: " +
                 hex(stored_key));
      return;
    }
    const LogPosition position{PartitionId{key->partition}, Offset{key->offset}};
    const auto topic = topics_.find(key->topic_id);
    if (topic == topics_.end()) {
      report("", position, "a record of topic id " + std::to_string(key->topic_id) + ", which the meta does not list");
      return;
    }
    const TopicMeta& meta = topic->second;
    if (key->partition >= meta.partitions) {
      report(meta.name, position, "partition " + std::to_string(key->partition) + " is past the topic's " +
                                      std::to_string(meta.partitions) + " partitions");
      return;
    }
    const bool same_partition =
        previous_ && previous_->topic_id == key->topic_id && previous_->partition == key->partition;
    const int64_t expected = same_partition ? previous_->offset + 1 : 0;
    if (key->offset > expected) {
      report(meta.name, LogPosition{position.partition, Offset{expected}},
             "offsets " + std::to_string(expected) + ".." + std::to_string(key->offset - 1) + " are missing");
    }
    previous_ = key;
    if (!journal_format::decode_record_value(frame)) report(meta.name, position, journal_format::frame_damage(frame));
  }

 private:
  void report(const std::string& topic, LogPosition position, std::string what) {
    ++summary_.damaged;
    if (on_damage_) on_damage_(JournalDamage{topic, position, std::move(what)});
  }

  const std::map<uint32_t, TopicMeta>& topics_;
  const std::function<void(const JournalDamage&)>& on_damage_;
  JournalCheckSummary& summary_;
  std::optional<journal_format::DecodedKey> previous_;
};

// Visits up to journal_check_records_per_txn records after `resume` (from the first if empty) in
// one read transaction; sets `more` when it stopped at that limit, and `resume` to the last key
// visited.
Status walk_some(JournalEnv& env, Walk& walk, std::string& resume, bool& more) {
  more = false;
  return env.read([&](MDB_txn* txn) -> Status {
    MDB_cursor* cursor = nullptr;
    int rc = mdb_cursor_open(txn, env.records_dbi(), &cursor);
    if (rc != MDB_SUCCESS) return lmdb_error("journal: mdb_cursor_open", rc);
    MDB_val k = lmdb::to_val(resume);
    MDB_val v;
    if (resume.empty()) {
      rc = mdb_cursor_get(cursor, &k, &v, MDB_FIRST);
    } else {
      rc = mdb_cursor_get(cursor, &k, &v, MDB_SET_RANGE);
      if (rc == MDB_SUCCESS && lmdb::from_val(k) == resume) rc = mdb_cursor_get(cursor, &k, &v, MDB_NEXT);
    }
    for (std::size_t visited = 0; rc == MDB_SUCCESS; rc = mdb_cursor_get(cursor, &k, &v, MDB_NEXT)) {
      if (visited++ == journal_check_records_per_txn) {
        more = true;
        break;
      }
      walk.visit(lmdb::from_val(k), lmdb::from_val(v));
      resume.assign(lmdb::from_val(k));
    }
    mdb_cursor_close(cursor);
    return more || rc == MDB_NOTFOUND ? Status::ok() : lmdb_error("journal: mdb_cursor_get", rc);
  });
}

}  // namespace

Result<JournalCheckSummary> check_journal(const Journal& journal,
                                          const std::function<void(const JournalDamage&)>& on_damage) {
  JournalOptions options;
  options.create_if_missing = false;
  options.read_only = true;  // the environment this process already has open for `journal`
  auto env = JournalEnv::acquire(journal.dir(), options);
  if (!env.is_ok()) return env.status();
  auto topics = read_topics(*env.value());
  if (!topics.is_ok()) return topics.status();
  JournalCheckSummary summary;
  summary.topics = topics->size();
  for (const auto& [id, meta] : topics.value()) summary.partitions += static_cast<std::size_t>(meta.partitions);
  Walk walk(topics.value(), on_damage, summary);
  std::string resume;
  for (bool more = true; more;) {
    if (Status s = walk_some(*env.value(), walk, resume, more); !s.is_ok()) return s;
  }
  return summary;
}

}  // namespace tally
