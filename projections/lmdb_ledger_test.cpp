// The projector's ledger (projections/lmdb_ledger.h) at the end of a batch: it hands out exactly
// the states the batch changed, and looks only at those the fold was handed, however many orgs
// and members it holds in its cache.
#define BOOST_TEST_MODULE lmdb_ledger_test
#include <boost/test/unit_test.hpp>

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
