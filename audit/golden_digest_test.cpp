// Golden digests of a fixed mixed log (tests/golden/mixed_log.bin): the payload digest of every
// record and the digest of every view must stay byte-identical across refactors of the codec, the
// validation, the fold and the store. A change here means existing ledgers would replay to other
// numbers: it needs a format-version bump and a note saying why, never a quiet update.
//
// The log is committed bytes, not regenerated, so a change of the event builders or of the
// workload generator cannot move the goldens. It was made by this test with
// TALLY_GOLDEN_WRITE=<path> (see write_fixture): the workload generator's mix (usage, purchases,
// refunds, duplicates, conflicts, member limits, refills) plus one event of every body type and
// records of every reject reason.
#include <boost/test/unit_test.hpp>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iostream>
#include <iterator>

#include "audit/audit_testkit.h"
#include "audit/replay.h"
#include "engine/event_factory.h"
#include "engine/fold.h"
#include "engine/memory_ledger.h"
#include "engine/partitioner.h"
#include "projections/testkit.h"

using namespace tally;
using namespace tally::audit;
using namespace tally::audit::testing;

namespace {

constexpr std::string_view fixture_magic = "TALLYGOLD1\n";
constexpr int32_t fixture_partitions = 4;

// One record of the fixture: where it goes, the log's append time, the bytes.
struct FixtureRecord {
  int32_t partition = 0;
  int64_t appended_at_ms = 0;
  std::string bytes;
};

std::string fixture_path() {
  const char* source = std::getenv("TALLY_SOURCE_DIR");
  BOOST_REQUIRE_MESSAGE(source != nullptr, "TALLY_SOURCE_DIR is not set (run through ctest)");
  return std::string(source) + "/tests/golden/mixed_log.bin";
}

template <typename T>
void put_le(std::string& out, T value) {
  char bytes[sizeof(T)];
  std::memcpy(bytes, &value, sizeof(T));
  out.append(bytes, sizeof(T));
}

template <typename T>
T get_le(std::string_view& in) {
  BOOST_REQUIRE(in.size() >= sizeof(T));
  T value;
  std::memcpy(&value, in.data(), sizeof(T));
  in.remove_prefix(sizeof(T));
  return value;
}

std::vector<FixtureRecord> read_fixture() {
  std::ifstream file(fixture_path(), std::ios::binary);
  BOOST_REQUIRE_MESSAGE(file.good(), "cannot open " << fixture_path());
  const std::string all((std::istreambuf_iterator<char>(file)), std::istreambuf_iterator<char>());
  std::string_view in(all);
  BOOST_REQUIRE(in.substr(0, fixture_magic.size()) == fixture_magic);
  in.remove_prefix(fixture_magic.size());
  std::vector<FixtureRecord> records;
  while (!in.empty()) {
    FixtureRecord record;
    record.partition = get_le<int32_t>(in);
    record.appended_at_ms = get_le<int64_t>(in);
    const auto size = get_le<uint32_t>(in);
    BOOST_REQUIRE(in.size() >= size);
    record.bytes.assign(in.substr(0, size));
    in.remove_prefix(size);
    records.push_back(std::move(record));
  }
  return records;
}

// ---- Making the fixture (TALLY_GOLDEN_WRITE only).

int64_t occurred_at_of(const std::string& bytes, int64_t fallback) {
  if (!fb::EnvelopeBufferHasIdentifier(bytes.data())) return fallback;
  flatbuffers::Verifier verifier(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size());
  if (!fb::VerifyEnvelopeBuffer(verifier)) return fallback;
  return fb::GetEnvelope(bytes.data())->occurred_at_ms();
}

struct FixtureWriter {
  std::vector<FixtureRecord> records;
  int64_t clock_ms = 0;

  // The append time is the highest event time so far (the log never runs behind its events).
  void add(int32_t partition, std::string bytes) {
    clock_ms = std::max(clock_ms, occurred_at_of(bytes, clock_ms));
    records.push_back(FixtureRecord{partition, clock_ms, std::move(bytes)});
  }
  void add_org_event(std::string_view org, std::string bytes) {
    add(partition_for_key(org, fixture_partitions), std::move(bytes));
  }
};

void add_every_body_type(FixtureWriter& w) {
  int64_t t = w.clock_ms + 60'000;
  auto h = [&](std::string_view key, std::string_view org) { return EventHeader{key, org, t += 1'000, "golden"}; };
  // Orgs of every plan and mode.
  w.add_org_event("g-ent", make_org_opened(h("g-ent-open", "g-ent"), Plan::enterprise, BillingMode::credits));
  w.add_org_event("g-byok", make_org_opened(h("g-byok-open", "g-byok"), Plan::pro, BillingMode::byok));
  w.add_org_event("g-def", make_org_opened(h("g-def-open", "g-def"), Plan::pro, BillingMode::deferred));
  w.add_org_event("g-def", make_org_opened(h("g-def-open-2", "g-def"), Plan::pro, BillingMode::credits));  // org_exists
  w.add_org_event("g-w", make_signup_allocation(h("g-w-signup", "g-w"), 25'000'000'000));
  w.add_org_event("g-w", make_low_balance_threshold_set(h("g-w-low", "g-w"), 5'000'000));
  w.add_org_event("g-w", make_member_limit_set(h("g-w-limit", "g-w"), "u1", 2'000'000));
  UsageFields usage;
  usage.member_id = "u1";
  usage.workspace = "ws";
  usage.meter = fb::Meter::llm_tokens;
  usage.model = "golden-model";
  usage.reported_cost_micros = 3'000'000;
  w.add_org_event("g-w", make_usage(h("g-w-use-1", "g-w"), usage));  // exceeds the member limit
  w.add_org_event("g-w", make_member_limit_cleared(h("g-w-unlimit", "g-w"), "u1"));
  w.add_org_event("g-w", make_admin_adjustment(h("g-w-adj+", "g-w"), 7'000'000, "goodwill", "op-1", false));
  w.add_org_event("g-w", make_admin_adjustment(h("g-w-adj-", "g-w"), -1'000'000, "correction", "op-1", false));
  w.add_org_event("g-w", make_admin_adjustment(h("g-w-adj-big", "g-w"), -INT64_MAX, "too much", "op-1", false));
  PaymentFields payment;
  payment.credits_micros = 100'000'000;
  payment.paid_minor = 10'000;
  payment.fee_minor = 300;
  payment.payment_ref = "pi_golden";
  w.add_org_event("g-w", make_purchase(h("g-w-buy", "g-w"), payment));
  w.add_org_event("g-w", make_refund(h("g-w-refund", "g-w"), "g-w-buy", 40'000'000, false, "partial"));
  w.add_org_event("g-w", make_refund(h("g-w-refund-2", "g-w"), "g-w-buy", 70'000'000, false, "too much"));
  w.add_org_event("g-w", make_refund(h("g-w-refund-3", "g-w"), "nope", 1, false));  // unknown_purchase
  AutoRefillPolicy policy;
  policy.enabled = true;
  policy.threshold_micros = Micros{1'000'000'000'000};
  policy.refill_credits_micros = Micros{50'000'000};
  policy.max_per_day = 2;
  policy.max_per_month = 3;
  policy.payment_customer = "cus_golden";
  w.add_org_event("g-w", make_auto_refill_configured(h("g-w-arc", "g-w"), policy));
  w.add_org_event("g-w", make_payment_failed(h("g-w-pf", "g-w"), "0:1:recharge_requested:g-w", "card_declined", "no"));
  w.add_org_event("g-w", make_auto_refill_disabled(h("g-w-ard", "g-w"), "by hand"));
  w.add_org_event("g-w", make_billing_mode_changed(h("g-w-mode", "g-w"), std::nullopt, BillingMode::byok));
  usage.billing_path = fb::BillingPath::byok;
  w.add_org_event("g-byok", make_usage(h("g-byok-use", "g-byok"), usage));
  usage.model = "unknown-model";
  usage.reported_cost_micros = std::nullopt;
  w.add_org_event("g-def", make_usage(h("g-def-use", "g-def"), usage));  // unpriced
  usage.meter = fb::Meter::sandbox_seconds;
  usage.model = {};
  usage.sandbox_class = "golden-box";
  usage.seconds = 3600;
  usage.billing_path = fb::BillingPath::unset;
  w.add_org_event("g-ent", make_usage(h("g-ent-use", "g-ent"), usage));
  // A rate card and a stale one, into every partition.
  RateCardFields card;
  card.version = 1'000'000;
  card.markup_bp = 12'500;
  card.byok_fee_bp = 500;
  card.models.push_back({"golden-model", ModelPrice{1'000'000, 2'000'000, 100'000, 1'250'000}});
  card.sandbox_classes.push_back({"golden-box", 720'000});
  for (int32_t p = 0; p < fixture_partitions; ++p) {
    w.add(p, make_rate_card(EventHeader{"golden-card", "", t, "golden"}, card));
    w.add(p, make_rate_card(EventHeader{"golden-card-stale", "", t, "golden"}, RateCardFields{}));
    const std::string tick_key = "golden-tick-" + std::to_string(p);
    w.add(p, make_tick(EventHeader{tick_key, "", t + 40LL * 86'400'000, "golden"}));
  }
  // Validation rejects: garbage, a bad field, the wrong partition.
  w.add(0, "not a flatbuffer at all");
  w.add_org_event("g-w", make_signup_allocation(h("g-w-zero", "g-w"), 0));
  const int32_t home = partition_for_key("g-w", fixture_partitions);
  w.add((home + 1) % fixture_partitions, make_signup_allocation(h("g-w-stray", "g-w"), 1'000'000));
}

void write_fixture(const std::string& path) {
  FixtureWriter w;
  testkit::WorkloadOptions options;
  options.seed = 20261206;
  options.partitions = fixture_partitions;
  options.orgs = 16;
  testkit::WorkloadGenerator generator(options);
  std::vector<AppendRequest> batch;
  generator.generate(4'000, batch);
  for (AppendRequest& request : batch) {
    if (request.to_every_partition) {
      for (int32_t p = 0; p < fixture_partitions; ++p) w.add(p, request.value);
    } else {
      w.add_org_event(request.key, std::move(request.value));
    }
  }
  add_every_body_type(w);
  std::string out(fixture_magic);
  for (const FixtureRecord& r : w.records) {
    put_le<int32_t>(out, r.partition);
    put_le<int64_t>(out, r.appended_at_ms);
    put_le<uint32_t>(out, static_cast<uint32_t>(r.bytes.size()));
    out += r.bytes;
  }
  std::ofstream file(path, std::ios::binary | std::ios::trunc);
  file.write(out.data(), static_cast<std::streamsize>(out.size()));
  BOOST_REQUIRE(file.good());
  std::cout << "wrote " << w.records.size() << " records to " << path << "\n";
}

// ---- The goldens.

// Digest of the payload digests of every record, folded in fixture order with MemoryLedger.
constexpr std::string_view golden_payload_digests = "0376d9c40576043b1fceac9c5066f7a1";

// ViewReader::digests() of a replay of the fixture. "partitions" holds the per-partition hash-chain
// heads, which also cover the raw record bytes, and "chain" a mark per record.
//
// Moved with store format 5 (issue 14), and why:
//  - history, keys, members, orgs, outbox, purchases, rejects, usage: the home partition is now
//    partition_for_key(org, 4), not the first partition a replay happened to read the org from.
//    The old goldens pinned finding 3 itself: the fixture ends with a stray record of g-w in
//    partition 3 (its home is 2), and a replay reading 97 records per partition at a time reaches
//    it before g-w's own events, so it became g-w's home and all 16 of g-w's real events were
//    rejected wrong_partition. (Checked: the old code with only the home rule changed gives these
//    eight digests exactly.) The signal rules of finding 10 move nothing here: the fixture's
//    byok, deferred and enterprise orgs have no member limits and no auto-refill to disable.
//  - partitions: the same, plus the SHA-256 chain (32-byte head, append time and outcome chained)
//    instead of MurmurHash3, and the chain's record count kept beside it, not in the fold's state.
//  - chain: new (the per-record marks of the hash chain).
//  - all: all of the above.
// The payload digests did not move.
// Store format 7 (SPEC §14): usage roll-up cells are also keyed by project, agent, provider and
// billing path, and carry those names, so "usage" (and "all") moved again; nothing else did.
// Store format 9 (SPEC §12, credit grants): every applied credit-adding event makes a grant, so
//  - orgs: an org with credit carries its active grants (and overdraft, expired and voided
//    totals) in a trailing section of its state;
//  - history: every entry ends with its fundings (a count, 0 for most, then grant and amount);
//  - grants: new (the closed grants: those with nothing left);
//  - all: all of the above.
// The fixture's grants never expire (its events give no terms), so partitions and outbox did not
// move; nor did the payload digests (a grant term enters the digest only when not its default).
// Store format 10: usage cells are keyed by day first (day, org, names) so that a batch's new
// cells land together at the end of the tree; the cells themselves did not change, their keys
// did, so "usage" and "all" moved and nothing else.
const std::map<std::string, std::string>& golden_view_digests() {
  static const std::map<std::string, std::string> goldens = {
      {"all", "f6f45aec40548ba790b23e1eb471d31f"},
      {"chain", "552fa338f2ba15554b356292831b9471"},
      {"grants", "0409d8865e2377e7eb804b9304513c8e"},
      {"history", "bf1291e6655a004e7df7ea52bdc3a7fd"},
      {"keys", "c63d1feffc2e5fec4bc51f25aa8d1a7b"},
      {"members", "587b5d84dd4a92157119f13e291c1027"},
      {"orgs", "7893df3fb085c8cc5a622e1ece2d7774"},
      {"outbox", "bbacbb84976f1a02eaac325913493fb0"},
      {"partitions", "7afc33fdc69700fefbb6f041fd1438f6"},
      {"purchases", "b023b991ff1c76c8747f112c027c9eee"},
      {"rejects", "54920facc48730046e725e93c525aa52"},
      {"usage", "4e122000e46151ab9bb7bc81d92fa7d4"},
  };
  return goldens;
}

}  // namespace

BOOST_AUTO_TEST_CASE(the_fixed_mixed_log_keeps_its_payload_and_view_digests) {
  if (const char* path = std::getenv("TALLY_GOLDEN_WRITE")) {
    write_fixture(path);
    return;
  }
  const std::vector<FixtureRecord> records = read_fixture();
  BOOST_REQUIRE(records.size() > 4'000u);

  // Payload digests: the fold's idempotency digest of every record, in order.
  MemoryLedger ledger;
  FoldResult result;
  std::vector<int64_t> next(fixture_partitions, 0);
  FieldDigest payloads;
  std::map<Outcome, int> outcomes;
  for (const FixtureRecord& r : records) {
    const LogPosition position{PartitionId{r.partition}, Offset{next[static_cast<std::size_t>(r.partition)]++}};
    apply(ledger, RecordContext{position, r.appended_at_ms, fixture_partitions}, r.bytes, result);
    payloads.add_digest(result.payload_digest).add_int(static_cast<int64_t>(result.outcome));
    ++outcomes[result.outcome];
  }
  // The fixture exercises every outcome.
  for (Outcome o : {Outcome::applied, Outcome::duplicate, Outcome::conflict, Outcome::rejected}) {
    BOOST_TEST_MESSAGE(outcome_name(o) << ": " << outcomes[o]);
    BOOST_TEST(outcomes[o] > 0);
  }
  const std::string payload_hex = payloads.finish().to_hex();
  std::cout << "payload digests: " << payload_hex << "\n";
  BOOST_TEST(payload_hex == golden_payload_digests);

  // View digests: a replay of the same records through the projector into LMDB.
  testkit::MemoryLog log(fixture_partitions, "memory:golden");
  // Each record carries the append time the fixture recorded for it (SPEC §3).
  for (const FixtureRecord& r : records) log.append_to(PartitionId{r.partition}, {}, r.bytes, r.appended_at_ms);
  TempDir dir;
  auto reader = log.reader(97);
  ReplayOptions options;
  options.batch_events_max = 509;
  options.map_size_bytes = std::size_t{64} << 20;
  const ReplayResult replayed = ok(replay(*reader, dir.sub("views"), options));
  // Another interleaving of the partitions (each read whole, in turn) gives the same digests.
  auto whole_partitions = log.reader(100'000);
  const ReplayResult again = ok(replay(*whole_partitions, dir.sub("views-again"), options));
  for (const auto& [name, digest] : replayed.digests) {
    BOOST_TEST(again.digests.at(name).to_hex() == digest.to_hex(), "view " << name << " depends on the interleaving");
  }
  for (const auto& [name, digest] : replayed.digests) std::cout << "view " << name << ": " << digest.to_hex() << "\n";
  BOOST_TEST(replayed.digests.size() == golden_view_digests().size());
  for (const auto& [name, golden] : golden_view_digests()) {
    auto it = replayed.digests.find(name);
    BOOST_REQUIRE_MESSAGE(it != replayed.digests.end(), "no digest of view " << name);
    BOOST_TEST(it->second.to_hex() == golden, "view " << name << ": " << it->second.to_hex() << " != " << golden);
  }
}
