// The partitioned layout of a views directory (SPEC §13): one LMDB store (projections/store.h) per
// events partition, so a partition's views, offsets, outbox and chain head move between machines
// as one environment.
//
//   ROOT/layout     "tally.views.partitioned 1\npartitions N\n" (written once, atomically, 0600)
//   ROOT/p0000 …    the store of partition 0 … N-1 (projections/store.h; it projects only that
//                   partition, and every org it holds has it as home partition)
//
// CAVEATS
//   - A directory holding one store for every partition (ROOT/data.mdb: the layout before this
//     one) is not converted: the node refuses it (move it aside: the node folds the log anew).
//   - The partition count is fixed when the layout is written; it must be the log's.
// THREAD SAFETY: the functions are pure or touch only the files named.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "engine/status.h"
#include "engine/types.h"

namespace tally {

inline constexpr std::string_view partitioned_layout_file = "layout";
inline constexpr std::string_view partitioned_layout_magic = "tally.views.partitioned 1";

// ROOT/pNNNN (four digits at least: partitions_max is 1024).
std::string partition_store_dir(const std::string& root, PartitionId partition);

// The partition count the layout at `root` records.
// Errors: not_found (no layout file: not a partitioned directory, or not made yet); corruption
//   (the file is not a layout this build reads, with what it holds); io_error.
Result<int32_t> read_partitioned_layout(const std::string& root);

// Makes `root` (0700) a partitioned views directory of `partition_count` partitions, or checks
// that it already is one of that count.
// Errors: invalid_argument (partition_count out of range); conflict (the layout records another
//   count); invalid_argument (field "data dir") when `root` holds one store for every partition
//   (holds_single_store), with what to do; io_error.
Status write_partitioned_layout(const std::string& root, int32_t partition_count);

// True if `root` holds one store for all partitions (the earlier layout: ROOT/data.mdb).
bool holds_single_store(const std::string& root);

}  // namespace tally
