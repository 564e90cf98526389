// Every limit of the ledger, as a named constant with its unit last (TigerBeetle style).
#pragma once

#include <cstddef>
#include <cstdint>

namespace tally::limits {

inline constexpr std::size_t event_bytes_max = 64 * 1024;      // one encoded event record
inline constexpr std::size_t idempotency_key_bytes_max = 255;
inline constexpr std::size_t org_id_bytes_max = 128;           // member ids too
inline constexpr std::size_t text_field_bytes_max = 1024;      // reasons, messages, refs, models
inline constexpr std::size_t rate_card_entries_max = 4096;     // models + sandbox classes
inline constexpr int32_t bundles_max = 10;
inline constexpr int32_t basis_points_max = 1'000'000;         // 100×
inline constexpr int64_t micros_per_credit = 1'000'000;
inline constexpr int64_t tokens_per_price_unit = 1'000'000;    // prices are per 1M tokens
inline constexpr int64_t seconds_per_hour = 3600;
inline constexpr int32_t partitions_max = 1024;
// How far an event's occurred_at_ms may run ahead of the log's append time (SPEC §2): the fold
// rejects a later one (clock_skew), and the HTTP edge refuses it against the server's clock before
// appending. So no producer moves a partition's clock (month rollovers, member limits) further
// into the future than this.
inline constexpr int64_t future_skew_max_ms = 300'000;
inline constexpr std::size_t workspace_billing_settings_max = 256;  // per org: (workspace, project) settings
// SPEC §11: a hold lives 1 s .. 24 h from its event's time (placed or extended).
inline constexpr int64_t hold_ttl_min_ms = 1'000;
inline constexpr int64_t hold_ttl_max_ms = 86'400'000;
// Active holds per org: they live in the org's state (engine/state.h), which the fold reads and
// writes on each of the org's events, and admission sums a member's holds. A place beyond it is
// rejected (too_many_holds); 4096 covers thousands of agents in flight per org.
inline constexpr std::size_t holds_active_per_org_max = 4096;
// SPEC §12: grant_expiring is emitted when the partition clock comes this close to a grant's expiry.
inline constexpr int64_t grant_warning_ms = 7 * 86'400'000;

}  // namespace tally::limits
