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

std::string MemoryLedger::scoped(std::string_view scope, std::string_view key) {
  std::string out;
  out.reserve(scope.size() + key.size() + 1);
  out.append(scope).push_back('\0');
  out.append(key);
  return out;
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
  auto it = members_.find(member_key(org, member));
  return it == members_.end() ? nullptr : &it->second;
}

MemberState& MemoryLedger::create_member(std::string_view org, std::string_view member) {
  auto [it, inserted] = members_.emplace(member_key(org, member), MemberState{});
  assert(inserted);
  return it->second;
}

const KeyRecord* MemoryLedger::find_key(std::string_view scope, std::string_view key) {
  scratch_.assign(scope).push_back('\0');
  scratch_.append(key);
  auto it = keys_.find(scratch_);
  return it == keys_.end() ? nullptr : &it->second;
}

void MemoryLedger::put_key(std::string_view scope, std::string_view key, const KeyRecord& record) {
  keys_[scoped(scope, key)] = record;
}

PurchaseRecord* MemoryLedger::find_purchase(std::string_view org, std::string_view key) {
  auto it = purchases_.find(scoped(org, key));
  return it == purchases_.end() ? nullptr : &it->second;
}

void MemoryLedger::put_purchase(std::string_view org, std::string_view key, const PurchaseRecord& record) {
  purchases_[scoped(org, key)] = record;
}

PartitionState& MemoryLedger::partition(PartitionId partition) { return partitions_[partition.value]; }

}  // namespace tally
