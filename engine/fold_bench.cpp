// fold_bench: the fold core's throughput on a pre-generated in-memory stream of mixed events
// (90% usage), folded into a fresh MemoryLedger per run. Prints `bench <name> <value> <unit>`:
//   fold_events_per_s                      2,000 orgs (medians of the runs)
//   fold_ns_per_event_at_{1k,10k,100k}_orgs the same mix over more orgs: the cost against the
//                                          number of orgs (org, member and key lookups), and
//   fold_ns_per_event_100k_vs_1k_orgs_ratio its flatness (1.0: the number of orgs costs nothing)
//   fold_stage_*_ns_per_event              where an event's time goes (stage_costs below), and
//   fold_floor_events_per_s                the rate of the stages every event pays before its
//                                          org's state is touched: the fold's ceiling on this
//                                          machine with this record encoding
// Usage: fold_bench [--events N] [--runs R] [--curve 0|1] [--orgs N] [--hints 0|1]
//   --orgs: the orgs of fold_events_per_s (default 2,000); --hints 0: apply() alone, without the
//   prefetch hints the projector gives a few records ahead (engine/fold.h).
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "engine/event_factory.h"
#include "engine/fold.h"
#include "engine/memory_ledger.h"
#include "engine/partitioner.h"
#include "engine/payload_digest.h"
#include "engine/validate.h"
#include "tally/events_generated.h"

namespace {

using namespace tally;

constexpr int32_t partitions = 8;
constexpr int orgs_default = 2000;
constexpr int64_t credit = 1'000'000;
constexpr std::size_t prefetch_distance = 8;  // records, as the projector's

struct Record {
  RecordContext context;
  std::string bytes;
};

std::vector<Record> generate(std::size_t count, uint64_t seed, int orgs) {
  std::mt19937_64 rng(seed);
  std::vector<Record> records;
  records.reserve(count + partitions);
  std::vector<int64_t> next(partitions, 0);
  int64_t time_ms = 1'763'856'000'000;
  // Appended as the events happen: the log's time is the latest event time.
  auto push = [&](int32_t p, std::string bytes) {
    const LogPosition position{PartitionId{p}, Offset{next[static_cast<std::size_t>(p)]++}};
    records.push_back({RecordContext{position, time_ms, partitions}, std::move(bytes)});
  };
  RateCardFields card;
  card.version = 1;
  card.markup_bp = 15000;
  card.models = {{"claude-sonnet-4", {3'000'000, 15'000'000, 300'000, 3'750'000}},
                 {"gpt-4.1", {2'000'000, 8'000'000, 500'000, 0}}};
  card.sandbox_classes = {{"standard", 360'000}};
  for (int32_t p = 0; p < partitions; ++p) push(p, make_rate_card({"rc-1", "", 0}, card));
  std::vector<std::string> org_ids;
  for (int i = 0; i < orgs; ++i) org_ids.push_back("org-" + std::to_string(i));
  std::string key;
  for (std::size_t i = 0; records.size() < count; ++i) {
    const std::string& org = org_ids[rng() % static_cast<uint64_t>(orgs)];
    const int32_t p = partition_for_key(org, partitions);
    time_ms += static_cast<int64_t>(rng() % 50);
    key = "k-" + std::to_string(i);
    const uint64_t roll = rng() % 100;
    if (roll < 90) {
      UsageFields usage;
      usage.member_id = (rng() % 2) ? "alice" : "bob";
      usage.workspace = "w1";
      usage.model = (rng() % 2) ? "claude-sonnet-4" : "gpt-4.1";
      usage.provider = "anthropic";
      usage.input_tokens = static_cast<int64_t>(rng() % 5000);
      usage.output_tokens = static_cast<int64_t>(rng() % 1000);
      push(p, make_usage({key, org, time_ms}, usage));
    } else if (roll < 96) {
      push(p, make_purchase({key, org, time_ms}, {100 * credit, 10000, "usd", 0, 1, "ch"}));
    } else if (roll < 98) {
      push(p, make_admin_adjustment({key, org, time_ms}, -credit, "correction", "ops", false));
    } else {
      // a retry of an earlier event: duplicate
      push(p, records[records.size() - 1 - rng() % std::min<std::size_t>(records.size() - 1, 100)].bytes);
    }
  }
  return records;
}

// Folds `records` into a fresh ledger `runs` times; returns the median events/s. Records are
// applied as the projector applies a batch (projections/projector_batch.cpp): with the prefetch
// hints of the org, member and key lookups a few records ahead.
double median_rate(const std::vector<Record>& records, int runs, bool hints, uint64_t& signals) {
  std::vector<double> rates;
  FoldResult result;
  std::string scope;
  for (int run = 0; run < runs; ++run) {
    MemoryLedger ledger;
    // Sized from the log, as the projector sizes its key locator for the backlog.
    ledger.reserve_keys(records.size());
    const auto start = std::chrono::steady_clock::now();
    for (std::size_t i = 0; i < records.size(); ++i) {
      if (hints && i + 2 * prefetch_distance < records.size()) {
        prefetch_states_of(ledger, records[i + 2 * prefetch_distance].bytes, PrefetchStage::slot);
      }
      if (hints && i + prefetch_distance < records.size()) {
        const Record& ahead = records[i + prefetch_distance];
        prefetch_states_of(ledger, ahead.bytes, PrefetchStage::entry);
        prefetch_key_of(ledger, ahead.context.position, ahead.bytes, scope);
      }
      const Record& r = records[i];
      apply(ledger, r.context, r.bytes, result);
      signals += result.signals.size();
    }
    const std::chrono::duration<double> seconds = std::chrono::steady_clock::now() - start;
    rates.push_back(static_cast<double>(records.size()) / seconds.count());
  }
  std::sort(rates.begin(), rates.end());
  return rates[rates.size() / 2];
}

// Where an event's time goes: the same records through cumulative prefixes of what apply() does
// for every event, whatever its type: (1) verify and validate the record, (2) + the payload
// digest, (3) + the idempotency lookup and insert (the key's digest, a probe, prefetched as the
// fold is). What the full fold costs beyond (3) is the org's state: lookups, pricing, draw-down,
// levels. Medians of `runs`, in ns per event. (1)-(3) are the floor of any fold that checks every
// record and deduplicates it: fold_floor_events_per_s is the rate that floor allows.
std::string_view sv(const flatbuffers::String* s) { return s ? s->string_view() : std::string_view(); }

struct StageCosts {
  double validate_ns = 0;
  double digest_ns = 0;
  double key_ns = 0;
};

template <typename Step>
double median_ns(const std::vector<Record>& records, int runs, Step step) {
  std::vector<double> ns;
  for (int run = 0; run < runs; ++run) {
    uint64_t sink = 0;
    const auto start = std::chrono::steady_clock::now();
    step(sink);
    const std::chrono::duration<double, std::nano> elapsed = std::chrono::steady_clock::now() - start;
    ns.push_back(elapsed.count() / static_cast<double>(records.size()) + static_cast<double>(sink & 1) * 1e-9);
  }
  std::sort(ns.begin(), ns.end());
  return ns[ns.size() / 2];
}

StageCosts stage_costs(const std::vector<Record>& records, int runs) {
  const auto checked = [&](const Record& r, uint64_t& sink) -> const fb::Envelope* {
    const fb::Envelope* envelope = nullptr;
    if (!validate_event(r.bytes, &envelope).is_ok()) return nullptr;
    sink += static_cast<uint64_t>(envelope->occurred_at_ms());
    return envelope;
  };
  const auto digested = [&](const Record& r, uint64_t& sink, Digest128& digest) -> const fb::Envelope* {
    const fb::Envelope* envelope = checked(r, sink);
    if (envelope == nullptr) return nullptr;
    FieldDigest d;
    d.add(sv(envelope->org_id())).add(sv(envelope->idempotency_key()));
    digest_body(d, *envelope);
    digest = d.finish();
    sink += digest.low;
    return envelope;
  };
  StageCosts costs;
  const double validate = median_ns(records, runs, [&](uint64_t& sink) {
    for (const Record& r : records) checked(r, sink);
  });
  const double digest = median_ns(records, runs, [&](uint64_t& sink) {
    Digest128 d;
    for (const Record& r : records) digested(r, sink, d);
  });
  const double keys = median_ns(records, runs, [&](uint64_t& sink) {
    KeyIndex index;
    index.reserve(records.size());
    Digest128 payload;
    for (std::size_t i = 0; i < records.size(); ++i) {
      if (i + prefetch_distance < records.size()) {
        const fb::Envelope* ahead = fb::GetEnvelope(records[i + prefetch_distance].bytes.data());
        index.prefetch(index.digest(sv(ahead->org_id()), sv(ahead->idempotency_key())));
      }
      const fb::Envelope* envelope = digested(records[i], sink, payload);
      if (envelope == nullptr) continue;
      const Digest128 key = index.digest(sv(envelope->org_id()), sv(envelope->idempotency_key()));
      if (const KeyRecord* seen = index.find(key)) {
        sink += seen->payload_digest == payload ? 1u : 0u;
        continue;
      }
      index.put(key, KeyRecord{payload, Outcome::applied, RejectReason::none});
    }
  });
  costs.validate_ns = validate;
  costs.digest_ns = digest - validate;
  costs.key_ns = keys - digest;
  return costs;
}

}  // namespace

int main(int argc, char** argv) {
  std::size_t events = 1'000'000;
  int runs = 5;
  bool curve = true;
  bool hints = true;
  int orgs = orgs_default;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (std::strcmp(argv[i], "--events") == 0) events = std::strtoull(argv[i + 1], nullptr, 10);
    if (std::strcmp(argv[i], "--runs") == 0) runs = std::atoi(argv[i + 1]);
    if (std::strcmp(argv[i], "--curve") == 0) curve = std::atoi(argv[i + 1]) != 0;
    if (std::strcmp(argv[i], "--hints") == 0) hints = std::atoi(argv[i + 1]) != 0;
    if (std::strcmp(argv[i], "--orgs") == 0) orgs = std::atoi(argv[i + 1]);
  }
  uint64_t signals = 0;
  const std::vector<Record> records = generate(events, 42, orgs);
  const double rate = median_rate(records, runs, hints, signals);
  std::printf("bench fold_events_per_s %.0f events/s\n", rate);
  const StageCosts stages = stage_costs(records, runs);
  const double floor_ns = stages.validate_ns + stages.digest_ns + stages.key_ns;
  std::printf("bench fold_stage_validate_ns_per_event %.0f ns\n", stages.validate_ns);
  std::printf("bench fold_stage_payload_digest_ns_per_event %.0f ns\n", stages.digest_ns);
  std::printf("bench fold_stage_key_index_ns_per_event %.0f ns\n", stages.key_ns);
  std::printf("bench fold_stage_org_state_ns_per_event %.0f ns\n", 1e9 / rate - floor_ns);
  std::printf("bench fold_floor_events_per_s %.0f events/s\n", 1e9 / floor_ns);
  std::fprintf(stderr, "fold_bench: %zu events x %d runs, %llu signals\n", events, runs,
               static_cast<unsigned long long>(signals));
  if (!curve) return 0;
  double first_ns = 0;
  for (const auto& [curve_orgs, name] : {std::pair{1'000, "1k"}, std::pair{10'000, "10k"}, std::pair{100'000, "100k"}}) {
    const double ns = 1e9 / median_rate(generate(events, 42, curve_orgs), runs, hints, signals);
    if (first_ns == 0) first_ns = ns;
    std::printf("bench fold_ns_per_event_at_%s_orgs %.0f ns\n", name, ns);
    if (curve_orgs == 100'000) std::printf("bench fold_ns_per_event_100k_vs_1k_orgs_ratio %.2f ratio\n", ns / first_ns);
  }
  return 0;
}
