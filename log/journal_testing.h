// Test-only helpers for the embedded journal. Not for production code: they break the journal's
// promise that a record never changes once appended.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

#include "engine/status.h"
#include "engine/types.h"

namespace tally {

// Overwrites byte `byte_index` of the value of record (partition, offset) of `topic` in the journal
// in `dir` with its bitwise complement, in one durable write transaction, so that an audit can be
// shown to notice. The journal may be open in this or another process.
// Errors: not_found (no journal, topic or record); invalid_argument (byte_index past the value);
// io_error.
Status journal_tamper_for_test(const std::string& dir, std::string_view topic, PartitionId partition, Offset offset,
                               std::size_t byte_index);

// Replaces the stored frame of record (partition, offset) of `topic` (log/journal.h, LAYOUT: append
// time, key length, key, value) with what `edit` makes of it, in one durable write transaction:
// the way to make damaged frames. `edit` may run more than once (after map growth); it gets the
// stored frame each time. Errors: as journal_tamper_for_test, and those `edit` returns.
Status journal_edit_frame_for_test(const std::string& dir, std::string_view topic, PartitionId partition,
                                   Offset offset, const std::function<Status(std::string& frame)>& edit);

// Makes the frame of (partition, offset) declare a key `past_end` bytes longer than the frame
// holds after its header: "key length past the end", the damage a torn or tampered frame shows.
Status journal_damage_key_length_for_test(const std::string& dir, std::string_view topic, PartitionId partition,
                                          Offset offset, std::size_t past_end = 7);

// Runs `while_held` inside a write transaction of the journal in `dir` as this process has it
// open, so that this process's appends wait meanwhile (they queue for the next group commit).
// Nothing is written. Errors: not_found (no journal), io_error.
Status journal_hold_writes_for_test(const std::string& dir, const std::function<void()>& while_held);

// Appends of this process waiting for the next group commit of the journal in `dir` (0 if it is
// not open here).
std::size_t journal_queued_appends_for_test(const std::string& dir);

// LMDB's last committed transaction id of the journal in `dir`: the commits made so far.
// Errors: not_found (no journal), io_error.
Result<uint64_t> journal_commits_for_test(const std::string& dir);

// Overwrites the journal's stored format version (to show how a journal of another version is
// refused). The journal must not be open in this process.
Status journal_set_format_version_for_test(const std::string& dir, uint32_t version);

}  // namespace tally
