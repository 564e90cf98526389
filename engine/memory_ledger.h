// MemoryLedger: the whole fold state in memory. For tests, the bench and the demo; the projector
// keeps the same state in LMDB. Node-based maps: pointers stay valid for the ledger's life.
// Not thread-safe.
#pragma once

#include <map>
#include <string>
#include <unordered_map>

#include "engine/ledger.h"

namespace tally {

class MemoryLedger final : public Ledger {
 public:
  OrgState* find_org(std::string_view org) override;
  OrgState& create_org(std::string_view org) override;
  MemberState* find_member(std::string_view org, std::string_view member) override;
  MemberState& create_member(std::string_view org, std::string_view member) override;
  const KeyRecord* find_key(std::string_view scope, std::string_view key) override;
  void put_key(std::string_view scope, std::string_view key, const KeyRecord& record) override;
  PurchaseRecord* find_purchase(std::string_view org, std::string_view key) override;
  void put_purchase(std::string_view org, std::string_view key, const PurchaseRecord& record) override;
  PartitionState& partition(PartitionId partition) override;

  // Ordered views for tests and digests.
  const std::map<std::string, OrgState, std::less<>>& orgs() const { return orgs_; }
  const std::map<std::string, MemberState, std::less<>>& members() const { return members_; }
  const std::map<int32_t, PartitionState>& partitions() const { return partitions_; }
  std::size_t key_count() const { return keys_.size(); }

  // "org\0member": the key of members().
  static std::string member_key(std::string_view org, std::string_view member);

 private:
  static std::string scoped(std::string_view scope, std::string_view key);
  std::map<std::string, OrgState, std::less<>> orgs_;
  std::map<std::string, MemberState, std::less<>> members_;
  std::unordered_map<std::string, KeyRecord> keys_;
  std::unordered_map<std::string, PurchaseRecord> purchases_;
  std::map<int32_t, PartitionState> partitions_;
  std::string scratch_;
};

}  // namespace tally
