#include "memory_ledger.h"

#include <cassert>

namespace tally {

std::string MemoryLedger::member_key(std::string_view org, std::string_view member) {
  std::string key;
  key.reserve(org.size() + member.size() + 1);
  key.append(org).push_back('\0');
  key.append(member);
  return key;
}

std::string_view MemoryLedger::joined(std::string_view a, std::string_view b) {
  scratch_.assign(a).push_back('\0');
  scratch_.append(b);
  return scratch_;
}

OrgState* MemoryLedger::find_org(std::string_view org) {
  auto it = orgs_.find(org);
  return it == orgs_.end() ? nullptr : &it->second;
}

OrgState& MemoryLedger::create_org(std::string_view org) {
  auto [it, inserted] = orgs_.emplace(std::string(org), OrgState{});
  assert(inserted);
  return it->second;
}

MemberState* MemoryLedger::find_member(std::string_view org, std::string_view member) {
  auto it = members_.find(joined(org, member));
  return it == members_.end() ? nullptr : &it->second;
}

MemberState& MemoryLedger::create_member(std::string_view org, std::string_view member) {
  auto [it, inserted] = members_.emplace(member_key(org, member), MemberState{});
  assert(inserted);
  return it->second;
}

const KeyRecord* MemoryLedger::find_key(std::string_view scope, std::string_view key) {
  return keys_.find(keys_.digest(scope, key));
}

void MemoryLedger::put_key(std::string_view scope, std::string_view key, const KeyRecord& record) {
  keys_.put(keys_.digest(scope, key), record);
}

PurchaseRecord* MemoryLedger::find_purchase(std::string_view org, std::string_view key) {
  auto it = purchases_.find(joined(org, key));
  return it == purchases_.end() ? nullptr : &it->second;
}

void MemoryLedger::put_purchase(std::string_view org, std::string_view key, const PurchaseRecord& record) {
  purchases_.insert_or_assign(std::string(joined(org, key)), record);
}

PartitionState& MemoryLedger::partition(PartitionId partition) { return partitions_[partition.value]; }

}  // namespace tally
