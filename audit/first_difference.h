// Verify's search for the first differing record of a partition (audit/verify.h, HOW A
// DIFFERENCE IS FOUND AND NAMED, steps 3 and 4): the first record whose chain mark differs between
// the live views and a replay, described from what both keep of it (history entries, rejects).
// Used by audit/verify.cpp. THREAD SAFETY: one call at a time per ViewReader pair.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "engine/status.h"
#include "engine/types.h"
#include "projections/views.h"

namespace tally::audit {

inline constexpr std::size_t verify_history_page_entries = 10'000;  // entries per history read
inline constexpr std::size_t verify_rejects_compared_max = 100'000;  // ViewReader::rejects page cap
inline constexpr std::size_t verify_chain_page_marks = 100'000;     // ViewReader::chain_marks page

// The first record of a partition whose chain breaks: the altered, inserted or first missing one.
struct FirstDifference {
  LogPosition position;
  std::string org_id;           // as the live views recorded it (else as the log gives it now)
  std::string idempotency_key;  // likewise; empty if neither side could decode the record
  std::string live;             // what the live views recorded there, or "nothing"
  std::string replayed;         // what folding the log as it is now records there, or "nothing"
  bool views_agree = false;     // both record the same: the alteration is in bytes no view keeps
};

// For every partition of `differing`: where its chain first breaks and what the live views and
// the replay record there (no entry for a partition whose views hold no difference at all).
// `live_next` and `replay_end` (index = partition) bound what each side folded.
// Errors: those of the ViewReader calls.
Result<std::map<int32_t, FirstDifference>> locate_first_differences(ViewReader& live, ViewReader& replayed,
                                                                    const std::set<int32_t>& differing,
                                                                    const std::vector<Offset>& live_next,
                                                                    const std::vector<Offset>& replay_end);

// Keys, org ids and details come from the log and may hold any bytes (an altered record most of
// all): printable ASCII passes, everything else is shown as \xNN so a report never garbles a terminal.
std::string printable(std::string_view bytes);

}  // namespace tally::audit
