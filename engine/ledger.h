// Ledger: the state the fold reads and writes, behind an interface so the same fold runs over
// memory (tests, bench: engine/memory_ledger.h) and over LMDB (projections/).
//
// Contract for implementations:
//  - Pointers and references returned stay valid until the caller's batch ends (the projector
//    writes back every entry it handed out at commit; memory maps never move their nodes).
//  - find_* returns nullptr when absent; create_* REQUIRES absence.
//  - Ids are views (engine/ids.h): valid, owned by the caller for the call only.
//  - Not thread-safe: one fold thread per ledger.
#pragma once

#include <string_view>

#include "engine/ids.h"
#include "engine/state.h"
#include "engine/types.h"

namespace tally {

// Which part of a coming org or member lookup a hint starts loading (engine/fold.h:
// prefetch_states_of): where the lookup begins (given some records ahead), or what it will find
// (given a few records later, once the first is in cache).
enum class PrefetchStage { slot, entry };

class Ledger {
 public:
  virtual ~Ledger() = default;
  virtual OrgState* find_org(OrgIdView org) = 0;
  virtual OrgState& create_org(OrgIdView org) = 0;
  virtual MemberState* find_member(OrgIdView org, MemberIdView member) = 0;
  virtual MemberState& create_member(OrgIdView org, MemberIdView member) = 0;
  // Keys are scoped: an org id, or "#<partition>" for global events of that partition.
  virtual const KeyRecord* find_key(std::string_view scope, std::string_view key) = 0;
  virtual void put_key(std::string_view scope, std::string_view key, const KeyRecord& record) = 0;
  // A hint that find_key(scope, key) is coming soon (engine/fold.h: prefetch_key_of). No effect
  // on any result; the default does nothing.
  virtual void prefetch_key(std::string_view /*scope*/, std::string_view /*key*/) {}
  // Hints that find_org(org) and find_member(org, member) are coming soon. No effect on any
  // result; the defaults do nothing. Asked only while wants_state_hints() (the states have
  // outgrown the caches): reading a record for a hint costs more than a lookup that hits.
  virtual bool wants_state_hints() const { return false; }
  virtual void prefetch_org(std::string_view /*org*/, PrefetchStage /*stage*/) {}
  virtual void prefetch_member(std::string_view /*org*/, std::string_view /*member*/, PrefetchStage /*stage*/) {}
  virtual PurchaseRecord* find_purchase(OrgIdView org, std::string_view key) = 0;
  virtual void put_purchase(OrgIdView org, std::string_view key, const PurchaseRecord& record) = 0;
  // SPEC §12: grants that left their org's active list (OrgState::grants) with nothing left. They
  // never change once closed. find_closed_grant returns nullptr for a grant never made or still
  // active; put_closed_grant REQUIRES the grant is not stored yet.
  virtual const Grant* find_closed_grant(OrgIdView org, std::string_view grant_id) = 0;
  virtual void put_closed_grant(OrgIdView org, const Grant& grant) = 0;
  // The state of one partition; created empty on first use.
  virtual PartitionState& partition(PartitionId partition) = 0;
};

}  // namespace tally
