#include "projections/store.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cassert>
#include <cerrno>
#include <cstring>
#include <filesystem>

#include "projections/records.h"
#include "engine/digest.h"
#include "engine/state_codec.h"
#include "projections/records.h"

namespace tally::store {
namespace {

std::size_t page_rounded(std::size_t bytes) {
  const auto page = static_cast<std::size_t>(sysconf(_SC_PAGESIZE));
  return (bytes + page - 1) / page * page;
}

// store_format_version as stored in "meta".
std::string version_bytes() {
  std::string bytes;
  put_u32_be(bytes, store_format_version);
  return bytes;
}

}  // namespace

const char* db_name(Db db) {
  switch (db) {
    case Db::meta: return "meta";
    case Db::orgs: return "orgs";
    case Db::members: return "members";
    case Db::keys: return "keys";
    case Db::purchases: return "purchases";
    case Db::history: return "history";
    case Db::usage: return "usage";
    case Db::outbox: return "outbox";
    case Db::rejects: return "rejects";
    case Db::partitions: return "partitions";
    case Db::payments: return "payments";
    case Db::chain: return "chain";
    case Db::org_rejects: return "org_rejects";
    case Db::org_signals: return "org_signals";
    case Db::grants: return "grants";
  }
  return "unknown";
}

void put_u32_be(std::string& out, uint32_t v) {
  for (int i = 3; i >= 0; --i) out.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}
void put_u64_be(std::string& out, uint64_t v) {
  for (int i = 7; i >= 0; --i) out.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}
uint32_t get_u32_be(std::string_view in) {
  assert(in.size() >= 4);
  uint32_t v = 0;
  for (std::size_t i = 0; i < 4; ++i) v = (v << 8) | static_cast<uint8_t>(in[i]);
  return v;
}
uint64_t get_u64_be(std::string_view in) {
  assert(in.size() >= 8);
  uint64_t v = 0;
  for (std::size_t i = 0; i < 8; ++i) v = (v << 8) | static_cast<uint8_t>(in[i]);
  return v;
}

void pair_key(std::string& out, std::string_view a, std::string_view b) {
  out.clear();
  out.append(a).push_back('\0');
  out.append(b);
}

void org_prefix(std::string& out, std::string_view org) {
  out.clear();
  out.append(org).push_back('\0');
}

void history_key(std::string& out, std::string_view org, uint64_t sequence) {
  org_prefix(out, org);
  put_u64_be(out, sequence);
}

void org_position_key(std::string& out, std::string_view org, LogPosition position) {
  org_prefix(out, org);
  const auto key = position_key(position);
  out.append(key.data(), key.size());
}

namespace {
// Flipping the sign bit makes big-endian byte order the numeric order of signed days.
uint64_t ordered_day(int64_t day) { return static_cast<uint64_t>(day) ^ (uint64_t{1} << 63); }
}  // namespace

void usage_day_prefix(std::string& out, std::string_view org, int64_t day) {
  out.clear();
  put_u64_be(out, ordered_day(day));
  out.append(org).push_back('\0');
}

void usage_key(std::string& out, std::string_view org, int64_t day, const UsageCellNames& n, DigestBuilder& scratch) {
  usage_day_prefix(out, org, day);
  scratch.clear();
  scratch.add(n.model).add(n.member_id).add(n.workspace).add(n.project).add(n.agent_id).add(n.provider).add(n.billing_path);
  const Digest128 digest = scratch.finish();
  for (uint64_t word : {digest.high, digest.low}) put_u64_be(out, word);
}

int64_t usage_key_day(std::string_view key) {
  assert(key.size() >= usage_key_day_bytes);
  return static_cast<int64_t>(get_u64_be(key.substr(0, usage_key_day_bytes)) ^ (uint64_t{1} << 63));
}

std::array<char, 8> outbox_key(uint64_t sequence) {
  std::array<char, 8> key;
  for (std::size_t i = 0; i < 8; ++i) key[i] = static_cast<char>((sequence >> (56 - 8 * i)) & 0xff);
  return key;
}

std::array<char, 12> position_key(LogPosition position) {
  std::array<char, 12> key;
  const auto p = static_cast<uint32_t>(position.partition.value);
  const auto o = static_cast<uint64_t>(position.offset.value);
  for (std::size_t i = 0; i < 4; ++i) key[i] = static_cast<char>((p >> (24 - 8 * i)) & 0xff);
  for (std::size_t i = 0; i < 8; ++i) key[4 + i] = static_cast<char>((o >> (56 - 8 * i)) & 0xff);
  return key;
}

LogPosition key_position(std::string_view key) {
  assert(key.size() == 12);
  return LogPosition{PartitionId{static_cast<int32_t>(get_u32_be(key))},
                     Offset{static_cast<int64_t>(get_u64_be(key.substr(4)))}};
}

void encode_key_entry(std::string& out, const Digest128& key, const KeyRecord& record) {
  out.clear();
  ByteWriter(out).u64(key.low).u64(key.high);
  out.append(encode(record));
}

bool decode_key_entry(std::string_view bytes, Digest128& key, KeyRecord& record) {
  if (bytes.size() < 16) return false;
  ByteReader r(bytes.substr(0, 16));
  return r.u64(key.low) && r.u64(key.high) && (key.low != 0 || key.high != 0) && decode(bytes.substr(16), record);
}

void append_key_record(std::string& chunk, Offset offset, const Digest128& key, const KeyRecord& record) {
  // Fixed size, built in place: the projector appends one per event.
  char bytes[24 + encoded_key_record_bytes];
  put_le64(bytes, static_cast<uint64_t>(offset.value));
  put_le64(bytes + 8, key.low);
  put_le64(bytes + 16, key.high);
  encode_to(bytes + 24, record);
  append_framed(chunk, std::string_view(bytes, sizeof bytes));
}

bool split_key_record(std::string_view record, Offset& offset, std::string_view& entry) {
  if (record.size() < 8) return false;
  ByteReader r(record.substr(0, 8));
  if (!r.i64(offset.value) || offset.value < 0) return false;
  entry = record.substr(8);
  return true;
}

std::array<char, 4> partition_key(PartitionId partition) {
  std::array<char, 4> key;
  const auto p = static_cast<uint32_t>(partition.value);
  for (std::size_t i = 0; i < 4; ++i) key[i] = static_cast<char>((p >> (24 - 8 * i)) & 0xff);
  return key;
}

// ---- StoreEnv

Result<std::shared_ptr<StoreEnv>> StoreEnv::open(const std::string& dir, Mode mode, std::size_t map_size_bytes) {
  std::error_code ec;
  if (mode == Mode::read_write) {
    if (Status made = lmdb::create_private_dirs(dir); !made.is_ok()) return made;
  } else if (!std::filesystem::exists(std::filesystem::path(dir) / "data.mdb", ec)) {
    return Status::error(Status::Code::not_found, "no projection store in " + dir + " (no projector has run there)");
  }
  const std::string canonical = std::filesystem::canonical(dir, ec).string();
  if (ec) return Status::error(Status::Code::io_error, "resolve " + dir + ": " + ec.message());

  // One environment per directory per process (LMDB forbids two); the last user closes it.
  return lmdb::acquire<StoreEnv>(canonical, [&](std::shared_ptr<StoreEnv> here) -> Result<std::shared_ptr<StoreEnv>> {
    if (here) {
      if (mode == Mode::read_write && here->read_only()) {
        return Status::error(Status::Code::unavailable,
                             "the store in " + dir + " is open read-only in this process; open the projector first");
      }
      return here;
    }
    std::shared_ptr<StoreEnv> env(new StoreEnv(canonical, mode));
    if (Status s = env->open_env(map_size_bytes); !s.is_ok()) return s;
    if (Status s = env->open_databases(); !s.is_ok()) return s;
    return env;
  });
}

Status StoreEnv::open_env(std::size_t map_size_bytes) {
  lmdb::EnvOptions options;
  options.dbs_max = db_count;
  options.readers_max = readers_max;
  options.read_only = mode_ == Mode::read_only;
  if (mode_ == Mode::read_write) options.map_size_bytes = page_rounded(std::max(map_size_bytes, map_size_min_bytes));
  options.file_mode = 0600;  // ledger data: owner only (SPEC §10)
  return lmdb::Env::open_env(options);
}

// A store of another format version says so, whichever database it lacks.
Status StoreEnv::wrong_version(std::string_view bytes) const {
  const uint32_t version = bytes.size() == 4 ? get_u32_be(bytes) : 0;
  return Status::error(Status::Code::corruption,
                       "store in " + dir() + " has format version " + std::to_string(version) +
                           "; this build reads version " + std::to_string(store_format_version) +
                           " (replay the log into a fresh data dir)");
}

Status StoreEnv::open_databases() {
  const bool rw = mode_ == Mode::read_write;
  lmdb::Txn txn;  // aborted on every early return
  if (int rc = txn.begin(get(), rw ? 0u : MDB_RDONLY); rc != 0) return lmdb_error("mdb_txn_begin", rc);
  MDB_dbi meta = 0;
  if (Status s = check_store_kind(txn.get(), meta); !s.is_ok()) return s;
  for (int i = 0; i < db_count; ++i) {
    const Db db = static_cast<Db>(i);
    int rc = mdb_dbi_open(txn.get(), db_name(db), rw ? MDB_CREATE : 0u, &dbis_[static_cast<std::size_t>(i)]);
    if (rc == MDB_NOTFOUND) {  // read-only, so "meta" is open
      MDB_val version_key = to_val(meta_format_version);
      MDB_val version;
      if (mdb_get(txn.get(), meta, &version_key, &version) == 0 && from_val(version) != version_bytes()) {
        return wrong_version(from_val(version));
      }
      return Status::error(Status::Code::corruption, std::string("store in ") + dir() + " has no database \"" +
                                                         db_name(db) + "\" (not a projection store, or damaged)");
    }
    if (rc != 0) return lmdb_error(std::string("mdb_dbi_open(") + db_name(db) + ")", rc);
  }
  if (Status s = check_format_version(txn.get()); !s.is_ok()) return s;
  if (int rc = txn.commit(); rc != 0) return lmdb_error("mdb_txn_commit(open)", rc);
  return Status::ok();
}

// Whose environment is this? A fresh one has no "meta"; ours says so in "store_kind" (a journal
// also has a "meta", and must never get views written into it).
Status StoreEnv::check_store_kind(MDB_txn* txn, MDB_dbi& meta) const {
  const int meta_rc = mdb_dbi_open(txn, db_name(Db::meta), 0, &meta);
  const bool fresh = meta_rc == MDB_NOTFOUND;
  if (meta_rc != 0 && !fresh) return lmdb_error("mdb_dbi_open(meta)", meta_rc);
  if (fresh && mode_ == Mode::read_only) {
    return Status::error(Status::Code::not_found, "no projection store in " + dir() + " yet");
  }
  if (fresh) return Status::ok();
  MDB_val kind_key = to_val(meta_store_kind);
  MDB_val kind;
  const int rc = mdb_get(txn, meta, &kind_key, &kind);
  if (rc != 0 || from_val(kind) != store_kind) {
    return Status::error(Status::Code::invalid_argument,
                         dir() + " holds an LMDB environment that is not a Tally projection store "
                                 "(a journal?); give the projector a directory of its own");
  }
  return Status::ok();
}

// Format version: written by the first writer, checked by everyone.
Status StoreEnv::check_format_version(MDB_txn* txn) const {
  MDB_val key = to_val(meta_format_version);
  MDB_val value;
  int rc = mdb_get(txn, dbis_[0], &key, &value);
  if (rc == MDB_NOTFOUND && mode_ == Mode::read_write) {
    const std::string bytes = version_bytes();
    MDB_val v = to_val(bytes);
    rc = mdb_put(txn, dbis_[0], &key, &v, 0);
    MDB_val kind_key = to_val(meta_store_kind);
    MDB_val kind = to_val(store_kind);
    if (rc == 0) rc = mdb_put(txn, dbis_[0], &kind_key, &kind, 0);
    return rc == 0 ? Status::ok() : lmdb_error("mdb_put(meta format_version)", rc);
  }
  if (rc == MDB_NOTFOUND) {
    return Status::error(Status::Code::not_found, "no projection store in " + dir() + " (no format version yet)");
  }
  if (rc != 0) return lmdb_error("mdb_get(meta format_version)", rc);
  return from_val(value) == version_bytes() ? Status::ok() : wrong_version(from_val(value));
}

Status StoreEnv::set_map_size(std::size_t bytes) {
  assert(mode_ == Mode::read_write);
  return lmdb::Env::set_map_size(page_rounded(bytes));
}

// ---- ReadTxn

Result<ReadTxn> ReadTxn::begin(StoreEnv& env) {
  auto txn = lmdb::ReadTxn::begin(env);
  if (!txn.is_ok()) return txn.status();
  return ReadTxn(env, std::move(txn.value()));
}

}  // namespace tally::store
