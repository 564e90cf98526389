// MemoryLedger: the whole fold state in memory. For tests, the bench and the demo; the projector
// keeps the same state in LMDB. Node-based maps: pointers stay valid for the ledger's life.
// Not thread-safe.
#pragma once

#include <map>
#include <string>
#include <unordered_map>

#include "engine/id_table.h"
#include "engine/key_index.h"
#include "engine/ledger.h"

namespace tally {

class MemoryLedger final : public Ledger {
 public:
  OrgState* find_org(OrgIdView org) override;
  OrgState& create_org(OrgIdView org) override;
  MemberState* find_member(OrgIdView org, MemberIdView member) override;
  MemberState& create_member(OrgIdView org, MemberIdView member) override;
  const KeyRecord* find_key(std::string_view scope, std::string_view key) override;
  void put_key(std::string_view scope, std::string_view key, const KeyRecord& record) override;
  void prefetch_key(std::string_view scope, std::string_view key) override { keys_.prefetch(keys_.digest(scope, key)); }
  PurchaseRecord* find_purchase(OrgIdView org, std::string_view key) override;
  void put_purchase(OrgIdView org, std::string_view key, const PurchaseRecord& record) override;
  const Grant* find_closed_grant(OrgIdView org, std::string_view grant_id) override;
  void put_closed_grant(OrgIdView org, const Grant& grant) override;
  PartitionState& partition(PartitionId partition) override;
  bool wants_state_hints() const override { return orgs_.is_large() || members_.is_large(); }
  void prefetch_org(std::string_view org, PrefetchStage stage) override;
  void prefetch_member(std::string_view org, std::string_view member, PrefetchStage stage) override;

  // Ordered copies for tests and digests (the tables themselves are hashed for speed).
  std::map<std::string, OrgState, std::less<>> orgs() const;
  std::map<std::string, MemberState, std::less<>> members() const;
  const std::map<int32_t, PartitionState>& partitions() const { return partitions_; }
  std::size_t key_count() const { return keys_.size(); }
  // Sizes the idempotency index for `keys` keys (e.g. the records of a log about to be folded), so
  // it never rehashes on the way.
  void reserve_keys(std::size_t keys) { keys_.reserve(keys); }
  // "org\0grant id" -> the closed grant, ordered (tests and digests).
  std::map<std::string, Grant, std::less<>> closed_grants() const {
    return {closed_grants_.begin(), closed_grants_.end()};
  }

  // "org\0member": the key of members().
  static std::string member_key(std::string_view org, std::string_view member);

 private:
  // A pair key ("org\0member", "org\0purchase key") looked up as its two parts, so a lookup
  // builds no string (ids never contain NUL).
  struct Pair {
    std::string_view first;
    std::string_view second;
  };
  // Hash and equality with heterogeneous lookup (string_view, Pair), so finding allocates and
  // copies nothing. A stored pair key hashes as its two parts, to agree with Pair.
  struct Hash {
    using is_transparent = void;
    std::size_t operator()(std::string_view s) const;
  };
  struct PairHash {
    using is_transparent = void;
    std::size_t operator()(Pair pair) const;
    std::size_t operator()(const std::string& joined) const;
  };
  struct Equal {
    using is_transparent = void;
    bool operator()(std::string_view a, std::string_view b) const { return a == b; }
    bool operator()(const std::string& joined, Pair pair) const;
    bool operator()(Pair pair, const std::string& joined) const { return (*this)(joined, pair); }
  };
  template <typename V>
  using HashMap = std::unordered_map<std::string, V, Hash, Equal>;
  template <typename V>
  using PairMap = std::unordered_map<std::string, V, PairHash, Equal>;
  IdTable<OrgState> orgs_;
  IdTable<MemberState> members_;  // by "org\0member"
  std::string member_scratch_;
  // Idempotency keys by the 128-bit digest of (scope, key): no allocation per event.
  KeyIndex keys_;
  PairMap<PurchaseRecord> purchases_;
  PairMap<Grant> closed_grants_;
  std::map<int32_t, PartitionState> partitions_;
};

}  // namespace tally
