// Reads of the derived indexes of the store ("org_rejects", "org_signals"; projections/store.h) for
// the ViewReader (views.h: org_rejects, org_signals, early rejects). Internal to projections/.
// Each runs in the read transaction it is given. Errors: corruption (an undecodable entry, named
// by its database), LMDB errors.
#pragma once

#include <functional>
#include <string_view>

#include "projections/store.h"
#include "projections/views.h"

namespace tally::store {

// Calls visit(reject) for the "org_rejects" entries of `org` ("" : records with no readable org)
// at `from` or later, in position order, while it returns true.
Status scan_org_rejects(const ReadTxn& txn, const StoreEnv& env, std::string_view org, LogPosition from,
                        const std::function<bool(OrgReject& reject)>& visit);

// A page of ViewReader::org_rejects.
Result<RejectPage> read_org_rejects(const ReadTxn& txn, const StoreEnv& env, const RejectQuery& query);

// The early rejects of `org` (RejectPlacement::before_org) at `from` or later whose type (0: any)
// and occurred_at_ms in [from_ms, to_ms) match, while visit returns true.
Status scan_early_rejects(const ReadTxn& txn, const StoreEnv& env, std::string_view org, LogPosition from,
                          uint8_t body_type, int64_t from_ms, int64_t to_ms,
                          const std::function<bool(const HistoryEntry& entry)>& visit);

// A page of ViewReader::org_signals.
Result<SignalPage> read_org_signals(const ReadTxn& txn, const StoreEnv& env, const SignalQuery& query);

}  // namespace tally::store
