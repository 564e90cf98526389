// Fuzz target: any bytes as one record of the events log, folded (engine/fold.h apply, which
// verifies and validates it first; an input starting with '{' is canonical JSON, encoded first) into a small ledger seeded with a real story: a rate card, a
// wallet org with credits, a member limit and auto-refill, a byok org. The fold's own TALLY_ASSERTs
// (the balance identity among them) abort on a broken invariant.
//
// Invariants checked here, per input:
//   - a record that is not applied changes no org's balance or totals;
//   - an applied record moves its org's balance by exactly amount_micros, to balance_after_micros,
//     and keeps balance == allocated + purchased - used - refunded + adjusted for every org;
//   - the same record folded again right after is never applied a second time.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "engine/event_json.h"
#include "engine/fold.h"
#include "engine/memory_ledger.h"

namespace {

using namespace tally;

constexpr int64_t seed_time_ms = 1'763'856'000'000;

[[noreturn]] void broken(const char* what, std::string_view detail) {
  std::fprintf(stderr, "record_fold_fuzz: %s: %.*s\n", what, static_cast<int>(detail.size()), detail.data());
  std::abort();
}

constexpr std::string_view seed_events[] = {
    R"({"type":"rate_card_published","idempotency_key":"rc-1","occurred_at_ms":1763856000000,"version":1,"markup_bp":15000,"byok_fee_bp":500,"models":[{"model":"claude-sonnet-4","input_per_mtok_micros":3000000,"output_per_mtok_micros":15000000,"cache_read_per_mtok_micros":300000,"cache_write_per_mtok_micros":3750000}],"sandbox_classes":[{"class":"standard","per_hour_micros":360000}]})",
    R"({"type":"org_opened","idempotency_key":"open-acme","org_id":"acme","occurred_at_ms":1763856000000,"plan":"pro","billing_mode":"credits"})",
    R"({"type":"signup_allocation","idempotency_key":"signup-1","org_id":"acme","occurred_at_ms":1763856000000,"credits_micros":25000000})",
    R"({"type":"purchase","idempotency_key":"ch_1","org_id":"acme","occurred_at_ms":1763856000000,"credits_micros":100000000,"paid_minor":10000,"currency":"usd","fee_minor":0,"bundles":1,"payment_ref":"ch_1"})",
    R"({"type":"member_limit_set","idempotency_key":"ml-1","org_id":"acme","occurred_at_ms":1763856000000,"member_id":"u1","monthly_limit_micros":10000000})",
    R"({"type":"auto_refill_configured","idempotency_key":"ar-1","org_id":"acme","occurred_at_ms":1763856000000,"enabled":true,"threshold_micros":20000000,"refill_credits_micros":100000000,"max_per_day":3,"max_per_month":20,"payment_customer":"cus_123"})",
    R"({"type":"usage","idempotency_key":"req-1","org_id":"acme","occurred_at_ms":1763856001000,"member_id":"u1","meter":"llm_tokens","model":"claude-sonnet-4","input_tokens":1200,"output_tokens":300})",
    R"({"type":"org_opened","idempotency_key":"open-b","org_id":"byok-org","occurred_at_ms":1763856000000,"plan":"pro","billing_mode":"byok"})",
};

// The seed events folded into `ledger` at offsets 0.. of the one partition; returns the next offset.
int64_t seed(MemoryLedger& ledger) {
  static const std::vector<std::string> records = [] {
    std::vector<std::string> out;
    for (std::string_view json : seed_events) {
      Result<std::string> bytes = event_from_json(json);
      if (!bytes.is_ok()) broken("seed event", bytes.status().to_string());
      out.push_back(std::move(bytes.value()));
    }
    return out;
  }();
  FoldResult result;
  int64_t offset = 0;
  for (const std::string& record : records) {
    apply(ledger, RecordContext{{PartitionId{0}, Offset{offset}}, seed_time_ms + 2000, 1}, record, result);
    if (result.outcome != Outcome::applied) broken("seed event not applied", result.detail);
    ++offset;
  }
  return offset;
}

void check_identity(const MemoryLedger& ledger) {
  for (const auto& [org, state] : ledger.orgs()) {
    const OrgTotals& t = state.totals;
    const int64_t sum = t.allocated_micros.value() + t.purchased_micros.value() - t.used_micros.value() -
                        t.refunded_micros.value() + t.adjusted_micros.value();
    if (sum != state.balance_micros.value()) broken("balance identity", org);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, std::size_t size) {
  // MemoryLedger is not copyable: the seed story is folded again for every input.
  MemoryLedger ledger;
  const int64_t next = seed(ledger);
  const auto before = ledger.orgs();
  // Raw bytes reach the fold's verification and validation; most mutations of a valid record stop
  // there. An input that is canonical JSON is encoded first, so the fuzzer also explores the
  // fold's business rules with mutations of valid events.
  std::string_view record(reinterpret_cast<const char*>(data), size);
  std::string encoded;
  if (!record.empty() && record.front() == '{') {
    Result<std::string> bytes = event_from_json(record);
    if (!bytes.is_ok()) return 0;
    encoded = std::move(bytes.value());
    record = encoded;
  }
  const RecordContext context{{PartitionId{0}, Offset{next}}, seed_time_ms + 3'600'000, 1};
  FoldResult result;
  apply(ledger, context, record, result);
  const auto after = ledger.orgs();
  for (const auto& [org, state] : before) {
    const OrgState& now = after.at(org);
    const bool moved = now.balance_micros != state.balance_micros || !(now.totals == state.totals);
    if (!moved) continue;
    if (result.outcome != Outcome::applied) broken("a record not applied moved a balance", org);
    if (org != result.org_id.str()) broken("an applied record moved another org's balance", org);
    if (now.balance_micros.value() - state.balance_micros.value() != result.amount_micros.value() ||
        now.balance_micros != result.balance_after_micros) {
      broken("balance moved by other than amount_micros", org);
    }
  }
  check_identity(ledger);
  if (result.outcome == Outcome::applied) {
    const RecordContext again{{PartitionId{0}, Offset{next + 1}}, context.appended_at_ms, 1};
    apply(ledger, again, record, result);
    if (result.outcome == Outcome::applied) broken("the same record applied twice", result.detail);
    check_identity(ledger);
  }
  return 0;
}
