// The readers behind ViewReader::open (projections/views.h): one store (view_reader.cpp), or the
// stores of a partitioned views directory (partitioned_views.cpp, projections/partitioned_layout.h)
// read as if they were one. Internal to projections/: callers use ViewReader::open, which picks
// the reader by the directory's layout.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "engine/status.h"
#include "projections/store.h"
#include "projections/views.h"

namespace tally {

// A ViewReader over the one store `env` (opened read-only).
std::unique_ptr<ViewReader> store_view_reader(std::shared_ptr<store::StoreEnv> env);

// A ViewReader over the partitioned views directory `root` of `partition_count` partitions (as
// read_partitioned_layout gave it): every partition's store opened read-only, each call answered
// as one store folding the same log would answer it (views.h says where the outbox sequences
// differ).
// Errors: not_found (a partition's store is not created yet: its projector has not run), and
//   those of StoreEnv::open (corruption, invalid_argument, io_error).
// REQUIRES: 1 <= partition_count <= limits::partitions_max.
Result<std::unique_ptr<ViewReader>> open_partitioned_views(const std::string& root, int32_t partition_count);

}  // namespace tally
