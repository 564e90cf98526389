// `tally journal check`: reads every stored record of a journal and lists what is damaged, without
// changing anything (SPEC §10). Open the journal with JournalOptions::read_only first: the check
// then cannot write, whatever it finds.
//
// What counts as damage (each reported once, with its place):
//   - a frame whose lengths do not add up (shorter than its header, a key length past its end):
//     what a reader returns as LogRecord::damage and the projector rejects as damaged_record;
//   - offsets missing from a partition (they are dense from 0: a hole means records were lost);
//   - a stored key that is not a record key of this format, or names a topic the meta does not
//     list, or a partition past the topic's count (such records are never read).
// Record values (the events) are not decoded: that is the fold's business, and an undecodable
// event is an ordinary reject, not damage of the journal.
//
// It walks the records in key order in read transactions of at most journal_check_records_per_txn
// records, so a check of a live journal does not pin old pages for long.
#pragma once

#include <cstdint>
#include <functional>
#include <string>

#include "engine/status.h"
#include "engine/types.h"
#include "log/journal.h"

namespace tally {

inline constexpr std::size_t journal_check_records_per_txn = 65'536;

struct JournalDamage {
  std::string topic;       // empty when the record's topic is not in the meta
  LogPosition position;    // partition and offset -1 when the stored key itself is malformed
  std::string what;        // "key length 300 past the end of the 40-byte frame"
};

struct JournalCheckSummary {
  std::size_t topics = 0;
  std::size_t partitions = 0;  // of all topics
  uint64_t records = 0;        // stored records, damaged ones included
  uint64_t damaged = 0;        // damage reports (a run of missing offsets counts once)
};

// Checks the journal `journal` (see above), calling `on_damage` for each damage in key order.
// Errors: corruption (damaged meta), io_error (LMDB). Damage found is not an error.
Result<JournalCheckSummary> check_journal(const Journal& journal,
                                          const std::function<void(const JournalDamage&)>& on_damage);

}  // namespace tally
