#include "memory_ledger.h"

#include <cstdint>
#include <cstring>

#include "engine/assert.h"

namespace tally {

std::string MemoryLedger::member_key(std::string_view org, std::string_view member) {
  std::string key;
  key.reserve(org.size() + member.size() + 1);
  key.append(org).push_back('\0');
  key.append(member);
  return key;
}

namespace {

// A short-string hash (ids are a few to 128 bytes): 8 bytes per multiply, then a final mix.
// Only bucket placement depends on it; nothing ordered or stored does.
uint64_t hash_bytes(std::string_view s, uint64_t h) {
  constexpr uint64_t multiplier = 0x9e3779b97f4a7c15ULL;
  h ^= s.size() * multiplier;
  const char* p = s.data();
  std::size_t n = s.size();
  for (; n >= 8; p += 8, n -= 8) {
    uint64_t word = 0;
    std::memcpy(&word, p, 8);
    h = (h ^ word) * multiplier;
    h ^= h >> 29;
  }
  uint64_t word = 0;
  for (std::size_t i = 0; i < n; ++i) word |= static_cast<uint64_t>(static_cast<unsigned char>(p[i])) << (8 * i);
  h = (h ^ word) * multiplier;
  h ^= h >> 32;
  return h;
}

constexpr uint64_t pair_seed = 0x2545f4914f6cdd1dULL;

}  // namespace

std::size_t MemoryLedger::Hash::operator()(std::string_view s) const { return hash_bytes(s, 0); }

std::size_t MemoryLedger::PairHash::operator()(Pair pair) const {
  return hash_bytes(pair.second, hash_bytes(pair.first, pair_seed));
}

std::size_t MemoryLedger::PairHash::operator()(const std::string& joined) const {
  const std::size_t nul = joined.find('\0');
  TALLY_ASSERT(nul != std::string::npos, "a pair key holds its two parts");
  const std::string_view view(joined);
  return (*this)(Pair{view.substr(0, nul), view.substr(nul + 1)});
}

bool MemoryLedger::Equal::operator()(const std::string& joined, Pair pair) const {
  return joined.size() == pair.first.size() + 1 + pair.second.size() &&
         std::string_view(joined).substr(0, pair.first.size()) == pair.first && joined[pair.first.size()] == '\0' &&
         std::string_view(joined).substr(pair.first.size() + 1) == pair.second;
}

std::map<std::string, OrgState, std::less<>> MemoryLedger::orgs() const {
  std::map<std::string, OrgState, std::less<>> out;
  for (const auto& entry : orgs_) out.emplace(entry.id, entry.value);
  return out;
}

std::map<std::string, MemberState, std::less<>> MemoryLedger::members() const {
  std::map<std::string, MemberState, std::less<>> out;
  for (const auto& entry : members_) out.emplace(entry.id, entry.value);
  return out;
}

OrgState* MemoryLedger::find_org(OrgIdView org) {
  auto* entry = orgs_.find(org.str(), id_hash(org.str()));
  return entry == nullptr ? nullptr : &entry->value;
}

OrgState& MemoryLedger::create_org(OrgIdView org) {
  TALLY_ASSERT(find_org(org) == nullptr, "create_* REQUIRES absence");
  return orgs_.insert(std::string(org.str()), id_hash(org.str()), OrgState{}).value;
}

MemberState* MemoryLedger::find_member(OrgIdView org, MemberIdView member) {
  member_id_key(member_scratch_, org.str(), member.str());
  auto* entry = members_.find(member_scratch_, id_hash(member_scratch_));
  return entry == nullptr ? nullptr : &entry->value;
}

MemberState& MemoryLedger::create_member(OrgIdView org, MemberIdView member) {
  TALLY_ASSERT(find_member(org, member) == nullptr, "create_* REQUIRES absence");
  // find_member left the key in the scratch.
  return members_.insert(member_scratch_, id_hash(member_scratch_), MemberState{}).value;
}

void MemoryLedger::prefetch_org(std::string_view org, PrefetchStage stage) {
  const uint64_t hash = id_hash(org);
  stage == PrefetchStage::slot ? orgs_.prefetch_slot(hash) : orgs_.prefetch_entry(hash);
}

void MemoryLedger::prefetch_member(std::string_view org, std::string_view member, PrefetchStage stage) {
  member_id_key(member_scratch_, org, member);
  const uint64_t hash = id_hash(member_scratch_);
  stage == PrefetchStage::slot ? members_.prefetch_slot(hash) : members_.prefetch_entry(hash);
}

const KeyRecord* MemoryLedger::find_key(std::string_view scope, std::string_view key) {
  return keys_.find(keys_.digest(scope, key));
}

void MemoryLedger::put_key(std::string_view scope, std::string_view key, const KeyRecord& record) {
  keys_.put(keys_.digest(scope, key), record);
}

PurchaseRecord* MemoryLedger::find_purchase(OrgIdView org, std::string_view key) {
  auto it = purchases_.find(Pair{org.str(), key});
  return it == purchases_.end() ? nullptr : &it->second;
}

void MemoryLedger::put_purchase(OrgIdView org, std::string_view key, const PurchaseRecord& record) {
  if (PurchaseRecord* existing = find_purchase(org, key)) {
    *existing = record;
  } else {
    purchases_.emplace(member_key(org, key), record);
  }
}

const Grant* MemoryLedger::find_closed_grant(OrgIdView org, std::string_view grant_id) {
  auto it = closed_grants_.find(Pair{org.str(), grant_id});
  return it == closed_grants_.end() ? nullptr : &it->second;
}

void MemoryLedger::put_closed_grant(OrgIdView org, const Grant& grant) {
  const bool inserted = closed_grants_.emplace(member_key(org, grant.id), grant).second;
  TALLY_ASSERT(inserted, "a grant closes once");
}

PartitionState& MemoryLedger::partition(PartitionId partition) { return partitions_[partition.value]; }

}  // namespace tally
