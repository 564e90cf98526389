// ledger_bench: what one small batch costs the projector's ledger (projections/lmdb_ledger.h)
// against how many orgs it holds in its cache. In the request path a batch holds the few events
// that arrived during the last commit, while the cache holds every org and member seen since the
// start; a batch must cost what it touches, not what the cache holds. Not part of ctest.
//   ledger_bench [--batches N]
// Prints, per cached-org count, the median over N batches of 10 purchases on random orgs of
// begin() + apply() + take_changes() (the batch's keys are then written, untimed: the ledger reads
// keys of earlier batches back from the store):
//   bench ledger_small_batch_us_at_{1k,100k}_orgs <us> us
//   bench ledger_small_batch_100k_vs_1k_orgs_ratio <ratio> ratio   (1.0: the cache costs nothing)
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <random>
#include <unistd.h>
#include <string>
#include <vector>

#include "engine/event_factory.h"
#include "engine/fold.h"
#include "projections/lmdb_ledger.h"
#include "projections/store.h"

namespace {

using namespace tally;

constexpr int64_t credit = 1'000'000;
constexpr int64_t t0 = 1'763'856'000'000;
constexpr std::size_t batch_events = 10;

[[noreturn]] void die(const char* what, const Status& status) {
  std::fprintf(stderr, "ledger_bench: %s: %s\n", what, status.to_string().c_str());
  std::exit(1);
}

class Bench {
 public:
  Bench(store::StoreEnv& env, int orgs) : ledger_(env), env_(env), orgs_(orgs) {}

  // One batch of `records`; returns its microseconds.
  double batch(const std::vector<std::string>& records) {
    double us = 0;
    {
      auto txn = store::ReadTxn::begin(env_);
      if (!txn.is_ok()) die("read txn", txn.status());
      const auto start = std::chrono::steady_clock::now();
      ledger_.begin(txn->get(), records.size());
      for (const std::string& record : records) {
        const LogPosition position{PartitionId{0}, Offset{next_offset_++}};
        ledger_.set_position(position);
        apply(ledger_, RecordContext{position, t0 + next_offset_, 1}, record, result_);
        if (result_.outcome != Outcome::applied) die("fold", Status::invalid("record", "not applied"));
      }
      changes_.clear();
      ledger_.take_changes(changes_);
      if (!ledger_.error().is_ok()) die("ledger", ledger_.error());
      us = std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - start).count();
    }
    commit_keys();
    return us;
  }

  // What the projector's writer does before the batch after next (LmdbLedger's contract): the
  // keys a batch handed out are in the store. Untimed; only the keys (the ledger reads nothing
  // else back that it did not keep).
  void commit_keys() {
    MDB_txn* txn = nullptr;
    if (int rc = mdb_txn_begin(env_.get(), nullptr, 0, &txn); rc != 0) die("write txn", store::lmdb_error("begin", rc));
    const int rc = changes_.keys.for_each([&](std::string_view key, std::string_view value) {
      MDB_val k{key.size(), const_cast<char*>(key.data())};
      MDB_val v{value.size(), const_cast<char*>(value.data())};
      return mdb_put(txn, env_.dbi(store::Db::keys), &k, &v, 0);
    });
    if (rc != 0) die("put keys", store::lmdb_error("mdb_put", rc));
    if (int commit_rc = mdb_txn_commit(txn); commit_rc != 0) die("commit", store::lmdb_error("commit", commit_rc));
  }

  std::string purchase(int org) {
    const std::string key = "k-" + std::to_string(next_key_++);
    return make_purchase({key, "org-" + std::to_string(org), t0 + next_offset_}, {credit, 100, "usd", 0, 1, "ch"});
  }

  // The first batch: every org, so that the cache holds them all.
  void fill() {
    std::vector<std::string> records;
    for (int org = 0; org < orgs_; ++org) records.push_back(purchase(org));
    (void)batch(records);
  }

  double median_small_batch(int batches, std::mt19937_64& rng) {
    std::vector<double> us;
    std::vector<std::string> records;
    for (int b = 0; b < batches; ++b) {
      records.clear();
      for (std::size_t i = 0; i < batch_events; ++i) {
        records.push_back(purchase(static_cast<int>(rng() % static_cast<uint64_t>(orgs_))));
      }
      us.push_back(batch(records));
    }
    std::sort(us.begin(), us.end());
    return us[us.size() / 2];
  }

 private:
  store::LmdbLedger ledger_;
  store::StoreEnv& env_;
  int orgs_;
  int64_t next_offset_ = 0;
  uint64_t next_key_ = 0;
  FoldResult result_;
  store::LmdbLedger::Changes changes_;
};

}  // namespace

int main(int argc, char** argv) {
  int batches = 2000;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (std::strcmp(argv[i], "--batches") == 0) batches = std::atoi(argv[i + 1]);
  }
  const auto root = std::filesystem::temp_directory_path() / ("tally-ledger-bench-" + std::to_string(getpid()));
  double first_us = 0;
  std::mt19937_64 rng(7);
  for (const auto& [orgs, name] : {std::pair{1'000, "1k"}, std::pair{100'000, "100k"}}) {
    const auto dir = root / name;
    std::filesystem::create_directories(dir);
    auto env = store::StoreEnv::open(dir.string(), store::StoreEnv::Mode::read_write, std::size_t{1} << 30);
    if (!env.is_ok()) die("open", env.status());
    {
      Bench bench(*env.value(), orgs);
      bench.fill();
      const double us = bench.median_small_batch(batches, rng);
      if (first_us == 0) first_us = us;
      std::printf("bench ledger_small_batch_us_at_%s_orgs %.1f us\n", name, us);
      if (orgs == 100'000) std::printf("bench ledger_small_batch_100k_vs_1k_orgs_ratio %.2f ratio\n", us / first_us);
    }
  }
  std::filesystem::remove_all(root);
  return 0;
}
