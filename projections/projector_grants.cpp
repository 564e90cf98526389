// The projector's history entries of grant expiries (SPEC §12).
#include <string>

#include "projections/projector_impl.h"

namespace tally {

// An expiry is no event of its own: its entry sits at the position of the record whose time
// reached it, in the expired grant's org. The event's own org's grants expire before its effect,
// so their entries come before the event's entry (and say the balance before it).
void Projector::Impl::record_expired_grants(LogPosition position, BatchOutput& out, bool before_event) {
  for (const FoldResult::ExpiredGrant& expired : result.expired_grants) {
    if (expired.before_event != before_event) continue;
    store::HistoryFields* f = add_clock_entry(position, out, expired.org_id, expired.grant_id,
                                              "expires_at_ms " + std::to_string(expired.expires_at_ms));
    if (f == nullptr) continue;
    f->body_type = store::grant_expired_body_type;
    f->amount_micros = -expired.expired_micros;
    f->balance_after_micros = expired.balance_after_micros;
  }
}

}  // namespace tally
