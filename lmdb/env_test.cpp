// The LMDB shell's contracts (lmdb/env.h): one environment per directory per process, another kind
// of environment on the same directory refused, transactions that abort unless committed, and
// LMDB return codes as Status.
#include <boost/test/unit_test.hpp>

#include <stdlib.h>

#include <filesystem>
#include <memory>
#include <string>

#include "lmdb/env.h"
#include "tests/support/temp_dir.h"

namespace {

using tally::Result;
using tally::Status;
using namespace tally::lmdb;

using tally::test_support::TempDir;

// Two kinds of environment, as the journal and the store are.
template <int Kind>
class TestEnv final : public Env {
 public:
  static Result<std::shared_ptr<TestEnv>> open(const std::string& dir, int* opened) {
    return acquire<TestEnv>(dir, [&](std::shared_ptr<TestEnv> here) -> Result<std::shared_ptr<TestEnv>> {
      if (here) return here;
      std::shared_ptr<TestEnv> env(new TestEnv(dir));
      EnvOptions options;
      options.dbs_max = 1;
      options.readers_max = 8;
      options.map_size_bytes = std::size_t{1} << 20;
      if (Status s = env->open_env(options); !s.is_ok()) return s;
      ++*opened;
      return env;
    });
  }

 private:
  explicit TestEnv(std::string dir) : Env(std::move(dir)) {}
};

// The unnamed main database of the environment.
MDB_dbi main_dbi(MDB_txn* txn) {
  MDB_dbi dbi = 0;
  BOOST_REQUIRE_EQUAL(mdb_dbi_open(txn, nullptr, 0, &dbi), MDB_SUCCESS);
  return dbi;
}

std::string read_key(Env& env, const std::string& key) {
  auto txn = ReadTxn::begin(env);
  BOOST_REQUIRE(txn.is_ok());
  std::string_view value;
  const int rc = txn->get(main_dbi(txn->get()), key, value);
  return rc == MDB_SUCCESS ? std::string(value) : "<" + std::string(mdb_strerror(rc)) + ">";
}

int put_key(Env& env, Txn& txn, const std::string& key, const std::string& value) {
  BOOST_REQUIRE_EQUAL(txn.begin(env.get()), MDB_SUCCESS);
  MDB_val k = to_val(key);
  MDB_val v = to_val(value);
  return mdb_put(txn.get(), main_dbi(txn.get()), &k, &v, 0);
}

// A fresh directory with one environment of the first kind open on it.
struct OpenEnv {
  TempDir dir;
  int opened = 0;
  std::shared_ptr<TestEnv<1>> env;
  OpenEnv() {
    auto acquired = TestEnv<1>::open(dir.path(), &opened);
    BOOST_REQUIRE(acquired.is_ok());
    env = std::move(acquired.value());
  }
};

const std::string not_found = "<" + std::string(mdb_strerror(MDB_NOTFOUND)) + ">";

}  // namespace

BOOST_AUTO_TEST_CASE(one_directory_is_one_environment_per_process) {
  TempDir dir;
  int opened = 0;
  auto first = TestEnv<1>::open(dir.path(), &opened);
  auto second = TestEnv<1>::open(dir.path(), &opened);
  BOOST_REQUIRE(first.is_ok() && second.is_ok());
  BOOST_TEST(first.value() == second.value());
  BOOST_TEST(opened == 1);
  // Held weakly: once every user is gone, the next open opens it again.
  first.value().reset();
  second.value().reset();
  BOOST_REQUIRE(TestEnv<1>::open(dir.path(), &opened).is_ok());
  BOOST_TEST(opened == 2);
}

BOOST_FIXTURE_TEST_CASE(another_kind_of_environment_on_an_open_directory_is_refused_not_opened_twice, OpenEnv) {
  auto store_like = TestEnv<2>::open(dir.path(), &opened);
  BOOST_REQUIRE(!store_like.is_ok());
  BOOST_TEST((store_like.status().code() == Status::Code::invalid_argument));
  BOOST_TEST(store_like.status().message().find(dir.path()) != std::string::npos);
  BOOST_TEST(opened == 1);
}

BOOST_FIXTURE_TEST_CASE(a_transaction_aborts_unless_committed, OpenEnv) {
  {
    Txn txn;
    BOOST_REQUIRE_EQUAL(put_key(*env, txn, "k", "dropped"), MDB_SUCCESS);
  }  // destroyed uncommitted
  BOOST_TEST(read_key(*env, "k") == not_found);
  Txn txn;
  BOOST_REQUIRE_EQUAL(put_key(*env, txn, "k", "kept"), MDB_SUCCESS);
  BOOST_REQUIRE_EQUAL(txn.commit(), MDB_SUCCESS);
  BOOST_TEST(txn.get() == nullptr);
  BOOST_TEST(read_key(*env, "k") == "kept");
}

BOOST_FIXTURE_TEST_CASE(the_map_grows_while_no_transaction_is_open, OpenEnv) {
  const std::size_t before = env->map_size();
  BOOST_REQUIRE(env->set_map_size(before * 4).is_ok());
  BOOST_TEST(env->map_size() == before * 4);
  BOOST_TEST(read_key(*env, "absent") == not_found);
}

BOOST_AUTO_TEST_CASE(lmdb_codes_become_status_naming_the_call) {
  const Status full = lmdb_error("mdb_put(history)", MDB_MAP_FULL);
  BOOST_TEST((full.code() == Status::Code::io_error));
  BOOST_TEST(full.message().find("mdb_put(history): ") == 0u);
  BOOST_TEST(full.message().find("MDB_MAP_FULL") != std::string::npos);
  for (int rc : {MDB_CORRUPTED, MDB_PAGE_NOTFOUND, MDB_VERSION_MISMATCH, MDB_INVALID}) {
    BOOST_TEST((lmdb_error("mdb_get", rc).code() == Status::Code::corruption), "rc " << rc);
  }
}
