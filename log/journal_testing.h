// Test-only helpers for the embedded journal. Not for production code: they break the journal's
// promise that a record never changes once appended.
#pragma once

#include <cstddef>
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

}  // namespace tally
