// The projector's ledger (projections/lmdb_ledger.h) at the end of a batch: it hands out exactly
// the states the batch changed, and looks only at those the fold was handed, however many orgs
// and members it holds in its cache.
#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <memory>
#include <string>
#include <vector>

#include "engine/event_factory.h"
#include "engine/fold.h"
#include "projections/lmdb_ledger.h"
#include "projections/store.h"
#include "tests/support/temp_dir.h"

using namespace tally;
using test_support::TempDir;

namespace {

constexpr int64_t t0 = 1'793'491'200'000;  // 2026-11-01T00:00:00Z
constexpr int64_t credit = 1'000'000;

class Folding {
 public:
  explicit Folding(store::StoreEnv& env) : env_(env), ledger_(env) {}

  // Folds `records` as one batch and returns its changes.
  store::LmdbLedger::Changes batch(const std::vector<std::string>& records) {
    auto txn = store::ReadTxn::begin(env_);
    BOOST_REQUIRE(txn.is_ok());
    ledger_.begin(txn->get(), records.size());
    FoldResult result;
    for (const std::string& record : records) {
      const LogPosition position{PartitionId{0}, Offset{next_offset_++}};
      ledger_.set_position(position);
      apply(ledger_, RecordContext{position, t0 + 1000, 1}, record, result);
      BOOST_REQUIRE_MESSAGE(result.outcome == Outcome::applied, std::string(reject_reason_name(result.reason)) + " " + result.detail);
    }
    store::LmdbLedger::Changes changes;
    ledger_.take_changes(changes);
    BOOST_REQUIRE(ledger_.error().is_ok());
    return changes;
  }
  // Folds `records` as one batch in a read txn begun now; returns the outcomes and the changes.
  std::vector<Outcome> fold(const std::vector<std::string>& records, store::LmdbLedger::Changes& changes) {
    auto txn = store::ReadTxn::begin(env_);
    BOOST_REQUIRE(txn.is_ok());
    ledger_.begin(txn->get(), records.size());
    std::vector<Outcome> outcomes;
    FoldResult result;
    for (const std::string& record : records) {
      const LogPosition position{PartitionId{0}, Offset{next_offset_++}};
      ledger_.set_position(position);
      apply(ledger_, RecordContext{position, t0 + 1000, 1}, record, result);
      outcomes.push_back(result.outcome);
    }
    ledger_.take_changes(changes);
    BOOST_REQUIRE_MESSAGE(ledger_.error().is_ok(), ledger_.error().to_string());
    return outcomes;
  }
  // Writes the "keys" puts of `changes` to the store (what the projector's writer does with them).
  void commit_keys(const store::LmdbLedger::Changes& changes) {
    MDB_txn* txn = nullptr;
    BOOST_REQUIRE_EQUAL(mdb_txn_begin(env_.get(), nullptr, 0, &txn), 0);
    const int rc = changes.keys.for_each([&](std::string_view key, std::string_view value) {
      MDB_val k{key.size(), const_cast<char*>(key.data())};
      MDB_val v{value.size(), const_cast<char*>(value.data())};
      return mdb_put(txn, env_.dbi(store::Db::keys), &k, &v, 0);
    });
    BOOST_REQUIRE_EQUAL(rc, 0);
    BOOST_REQUIRE_EQUAL(mdb_txn_commit(txn), 0);
  }
  const store::LmdbLedger& ledger() const { return ledger_; }

 private:
  store::StoreEnv& env_;
  store::LmdbLedger ledger_;
  int64_t next_offset_ = 0;
};

std::string usage_by(int org, const std::string& member, int n) {
  UsageFields usage;
  usage.member_id = member;
  usage.model = "gpt-4.1";
  usage.provider = "openai";
  usage.input_tokens = 1000;
  return make_usage({"u-" + std::to_string(org) + "-" + std::to_string(n), "org-" + std::to_string(org), t0}, usage);
}

std::size_t count(const PutBuffer& puts) {
  std::size_t n = 0;
  (void)puts.for_each([&](auto, auto) { return ++n, 0; });
  return n;
}

}  // namespace

BOOST_AUTO_TEST_CASE(a_small_batch_looks_only_at_what_it_touched_however_many_orgs_are_cached) {
  TempDir dir;
  auto env = store::StoreEnv::open(dir.sub("views"), store::StoreEnv::Mode::read_write, std::size_t{64} << 20);
  BOOST_REQUIRE(env.is_ok());
  Folding folding(*env.value());
  RateCardFields card;
  card.version = 1;
  card.models = {{"gpt-4.1", {2'000'000, 8'000'000, 500'000, 0}}};
  constexpr int orgs = 3'000;
  std::vector<std::string> first{make_rate_card({"rc-1", "", t0}, card)};
  for (int org = 0; org < orgs; ++org) {
    first.push_back(make_purchase({"p-" + std::to_string(org), "org-" + std::to_string(org), t0},
                                  {10 * credit, 1000, "usd", 0, 1, "ch"}));
    first.push_back(usage_by(org, "alice", 0));
  }
  const auto filled = folding.batch(first);
  BOOST_TEST(count(filled.orgs) == static_cast<std::size_t>(orgs));
  BOOST_TEST(count(filled.members) == static_cast<std::size_t>(orgs));

  // Two usage events of one member of one org, and one of another org: two orgs and two members
  // changed, and those are all the batch looks at.
  const auto small = folding.batch({usage_by(17, "alice", 1), usage_by(17, "alice", 2), usage_by(2'999, "alice", 1)});
  BOOST_TEST(count(small.orgs) == 2u);
  BOOST_TEST(count(small.members) == 2u);
  BOOST_TEST(folding.ledger().states_examined() == 4u);

  // A batch that changes nothing cached (a rate card) looks at nothing.
  card.version = 2;
  const auto none = folding.batch({make_rate_card({"rc-2", "", t0}, card)});
  BOOST_TEST(count(none.orgs) == 0u);
  BOOST_TEST(folding.ledger().states_examined() == 0u);
}

namespace {
std::string purchase(const std::string& key, int64_t credits) {
  return make_purchase({key, "org-keys", t0}, {credits * credit, 1000, "usd", 0, 1, "ch-" + key});
}
std::vector<std::string> purchases(const std::string& prefix, int from, int to) {
  std::vector<std::string> records;
  for (int i = from; i < to; ++i) records.push_back(purchase(prefix + std::to_string(i), 5));
  return records;
}
std::vector<std::string> names(const std::vector<Outcome>& outcomes) {
  std::vector<std::string> out;
  for (Outcome o : outcomes) out.emplace_back(outcome_name(o));
  return out;
}
std::size_t count_outcome(const std::vector<Outcome>& outcomes, Outcome outcome) {
  return static_cast<std::size_t>(std::count(outcomes.begin(), outcomes.end(), outcome));
}
}  // namespace

// Idempotency keys live on disk, in chunks of at most one page; memory only locates them. A key is
// found again wherever it is: in the batch being folded, in the batch last handed out (not yet
// committed: the fold's read txn cannot see it), in the store, and after a restart.
BOOST_AUTO_TEST_CASE(keys_are_found_in_this_batch_the_last_handed_out_and_the_store) {
  TempDir dir;
  auto env = store::StoreEnv::open(dir.sub("views"), store::StoreEnv::Mode::read_write, std::size_t{64} << 20);
  BOOST_REQUIRE(env.is_ok());
  auto folding = std::make_unique<Folding>(*env.value());

  // Batch A: 300 new keys in one partition: more than one page, so several chunks.
  store::LmdbLedger::Changes a;
  BOOST_TEST(count_outcome(folding->fold(purchases("a-", 0, 300), a), Outcome::applied) == 300u);
  std::size_t chunks = 0;
  (void)a.keys.for_each([&](std::string_view, std::string_view value) {
    BOOST_TEST(value.size() <= store::keys_chunk_bytes_max);
    return ++chunks, 0;
  });
  BOOST_TEST(chunks >= 3u);
  folding->commit_keys(a);

  // Batch B: every key of A again (from the store: first, middle and last chunks alike), one of
  // them with another amount (a conflict), and 20 new keys, two of them twice (found in this batch).
  std::vector<std::string> b = purchases("a-", 0, 300);
  b[150] = purchase("a-150", 6);
  for (const std::string& record : purchases("b-", 0, 20)) b.push_back(record);
  b.push_back(purchase("b-3", 5));
  b.push_back(purchase("b-19", 5));
  store::LmdbLedger::Changes changes_b;
  const auto outcomes_b = folding->fold(b, changes_b);
  BOOST_TEST(count_outcome(outcomes_b, Outcome::duplicate) == 301u);
  BOOST_TEST(count_outcome(outcomes_b, Outcome::conflict) == 1u);
  BOOST_TEST(std::string(outcome_name(outcomes_b[150])) == "conflict");
  BOOST_TEST(count_outcome(outcomes_b, Outcome::applied) == 20u);

  // Batch C, B not committed yet: B's keys are known from the batch handed out, A's from the store.
  store::LmdbLedger::Changes changes_c;
  const auto outcomes_c = folding->fold({purchase("b-7", 5), purchase("b-8", 9), purchase("a-299", 5), purchase("c-1", 5)},
                                        changes_c);
  BOOST_TEST(names(outcomes_c) == (std::vector<std::string>{"duplicate", "conflict", "duplicate", "applied"}),
             boost::test_tools::per_element());
  folding->commit_keys(changes_b);
  folding->commit_keys(changes_c);

  // A restart: a fresh ledger reads the chunks back and knows every key.
  folding = std::make_unique<Folding>(*env.value());
  store::LmdbLedger::Changes d;
  std::vector<std::string> again = purchases("a-", 0, 300);
  for (const std::string& record : purchases("b-", 0, 20)) again.push_back(record);
  again.push_back(purchase("c-1", 5));
  again.push_back(purchase("c-1", 7));
  again.push_back(purchase("d-1", 5));
  const auto outcomes_d = folding->fold(again, d);
  BOOST_TEST(count_outcome(outcomes_d, Outcome::duplicate) == 321u);
  BOOST_TEST(count_outcome(outcomes_d, Outcome::conflict) == 1u);
  BOOST_TEST(count_outcome(outcomes_d, Outcome::applied) == 1u);
  BOOST_TEST(std::string(outcome_name(outcomes_d.back())) == "applied");
}
