// The digests of the views (ViewReader::digests, projections/views.h) over one store or over the
// stores of a partitioned views directory (projections/partitioned_layout.h). Internal to
// projections/ (the readers of view_reader.cpp and partitioned_views.cpp).
//
// Each view's digest chains its (key, value) pairs in key order, the chunked views ("history",
// "keys", "chain") record by record under the key each record would have on its own
// (projections/store.h), so a digest does not depend on where batches ended; "outbox" is digested
// per partition in emission order. Over several stores the pairs of each view are merged by key:
// stores holding the same records between them give the digests of one store holding them all.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "engine/digest.h"
#include "engine/status.h"
#include "projections/store.h"

namespace tally::store {

// Digest of every digested view of `envs` (name -> digest) and of all of them ("all"), each store
// read in one read transaction of its own.
// REQUIRES: !envs.empty(); no key of a digested view is in two of the stores, and every
//   partition's outbox entries are in one store (true of one store, and of the stores of a
//   partitioned directory: each holds its own partition's records and orgs).
// Errors: corruption (an undecodable chunk, or a key held by two stores, named by its view);
//   LMDB errors.
Result<std::map<std::string, Digest128>> view_digests(const std::vector<StoreEnv*>& envs);

}  // namespace tally::store
