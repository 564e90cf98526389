// Bench support shared by projector_bench and replay_bench (not linked into the product, not a
// test): the two bench workloads, their cached journals, and the probes the benches print
// (distinct idempotency keys, LMDB bytes in use, anonymous memory of the process).
//
// CAVEATS (read these first)
//   - A journal is generated once into /tmp and reused while DIR/bench-complete says it is whole.
//     Generation and key counting run in a CHILD process (fork): the generator keeps a mirror fold
//     of every key it made, and that memory must not count in the bench process's anonymous memory.
//     So ensure_journal() and key_table() must be called before this process opens any LMDB
//     environment or starts a thread (fork copies only the calling thread).
//   - lmdb_used_bytes() opens the environment read-only without its lock file: call it when this
//     process does not have that environment open (LMDB forbids two opens in one process).
//   - anon_bytes() is Linux only (/proc/self/status).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "engine/status.h"
#include "projections/testkit.h"

namespace tally::bench {

enum class Workload {
  mix,        // 1,000 orgs x 5 members, 90% usage: the bench's historical mix
  many_orgs,  // 10,000 orgs x 5 members, the same mix (issue 19): org and member lookups at scale
};

// "mix" or "many-orgs" (the --workload flag). Errors: invalid_argument naming the flag.
Result<Workload> parse_workload(const std::string& text);
// "" for mix, "_many_orgs" otherwise: the suffix of every figure of that workload.
const char* figure_suffix(Workload workload);
testkit::WorkloadOptions workload_options(Workload workload, uint64_t seed, int32_t partitions);
// /tmp/tally-bench-journal-N-S for the mix (the path both benches always used), and
// /tmp/tally-bench-journal-many-orgs-N-S for the other, so the two never collide.
std::string journal_dir(Workload workload, std::size_t events, uint64_t seed);

// Generates `events` events of `options` (WorkloadGenerator::generated(); a tick or a rate card is
// one event and a record in every partition) into the journal in `dir`, in a child process, unless
// DIR/bench-complete is there. Returns the journal's record count.
// Errors: io_error (the child failed; it printed why, or bench-complete is unreadable).
Result<uint64_t> ensure_journal(const std::string& dir, const testkit::WorkloadOptions& options, std::size_t events);

// Distinct idempotency keys the fold holds after each prefix of the journal, read in the order a
// LogReader polls it: `keys[i]` after `records_at[i]` records, every key_table_step_records and
// at the end (the last row is the whole journal). Counted by folding into MemoryLedger in a child
// process once, then cached in DIR/bench-keys.
inline constexpr uint64_t key_table_step_records = 50'000;
struct KeyTable {
  std::vector<uint64_t> records_at;
  std::vector<uint64_t> keys;
  uint64_t total_keys() const { return keys.empty() ? 0 : keys.back(); }
  // Keys after `records` records (the row at or before it).
  uint64_t keys_after(uint64_t records) const;
};
// Errors: io_error (the child failed, or the cache file is unreadable).
Result<KeyTable> key_table(const std::string& journal_dir);

// Bytes an LMDB environment uses: (me_last_pgno + 1) x page size from mdb_env_info, i.e. every
// page ever allocated, free pages awaiting reuse included (what the file holds; the map size is
// only a reservation). REQUIRES: this process does not have `dir` open (see CAVEATS).
// Errors: io_error naming the LMDB call.
Result<uint64_t> lmdb_used_bytes(const std::string& dir);

// Anonymous resident memory of this process: RssAnon of /proc/self/status (heap, thread stacks,
// anonymous maps; LMDB's file-backed maps are RssFile and do not count). Errors: io_error.
Result<uint64_t> anon_bytes();

}  // namespace tally::bench
