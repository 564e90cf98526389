// TALLY_ASSERT stays on in every build type: a failing invariant prints where and why, then
// aborts. The fold asserts the balance identity with it. (NDEBUG is defined here on purpose: it
// turns assert() off, not TALLY_ASSERT.)
#define NDEBUG 1
#include <boost/test/unit_test.hpp>

#include <sys/wait.h>
#include <unistd.h>

#include <csignal>
#include <functional>
#include <string>

#include "engine/assert.h"
#include "engine/event_factory.h"
#include "engine/fold.h"
#include "engine/memory_ledger.h"
#include "engine/status.h"

namespace {

struct Death {
  int signal = 0;      // the signal that ended the child, 0 if it exited
  std::string stderr;  // what it wrote to stderr
};

// Runs `body` in a child process and reports how it ended.
Death run_in_child(const std::function<void()>& body) {
  int pipe_fds[2];
  BOOST_REQUIRE(::pipe(pipe_fds) == 0);
  const pid_t pid = ::fork();
  BOOST_REQUIRE(pid >= 0);
  if (pid == 0) {
    ::dup2(pipe_fds[1], STDERR_FILENO);
    ::close(pipe_fds[0]);
    std::signal(SIGABRT, SIG_DFL);  // the test runner's handler would report, not die
    body();
    ::_exit(0);
  }
  ::close(pipe_fds[1]);
  Death death;
  char buffer[512];
  for (ssize_t n; (n = ::read(pipe_fds[0], buffer, sizeof buffer)) > 0;) death.stderr.append(buffer, static_cast<std::size_t>(n));
  ::close(pipe_fds[0]);
  int status = 0;
  BOOST_REQUIRE(::waitpid(pid, &status, 0) == pid);
  if (WIFSIGNALED(status)) death.signal = WTERMSIG(status);
  return death;
}

BOOST_AUTO_TEST_CASE(a_failed_assertion_names_its_place_and_aborts_with_ndebug_defined) {
  const int line = __LINE__ + 1;
  const Death death = run_in_child([] { TALLY_ASSERT(1 + 1 == 3, "arithmetic holds"); });
  BOOST_TEST(death.signal == SIGABRT);
  BOOST_TEST(death.stderr == std::string(__FILE__) + ":" + std::to_string(line) +
                                 ": assertion failed: 1 + 1 == 3: arithmetic holds\n");
}

BOOST_AUTO_TEST_CASE(a_holding_assertion_does_nothing) {
  const Death death = run_in_child([] { TALLY_ASSERT(2 > 1, "order"); });
  BOOST_TEST(death.signal == 0);
  BOOST_TEST(death.stderr.empty());
}

BOOST_AUTO_TEST_CASE(the_value_of_a_failed_result_is_a_programmer_error) {
  const Death death = run_in_child([] {
    tally::Result<int> failed = tally::Status::invalid("x", "no");
    (void)failed.value();  // the call under test: it must not return
  });
  BOOST_TEST(death.signal == SIGABRT);
  BOOST_TEST(death.stderr.find("value() of a Result that holds an error") != std::string::npos, death.stderr);
}

// SPEC §4's identity is checked after every applied event: a ledger whose stored balance
// disagrees with its totals (a corrupted store, a fold bug) stops the fold instead of compounding.
BOOST_AUTO_TEST_CASE(the_fold_stops_on_a_balance_that_disagrees_with_its_totals) {
  const Death death = run_in_child([] {
    tally::MemoryLedger ledger;
    tally::OrgState& acme = ledger.create_org("acme");
    acme.home_partition = tally::PartitionId{0};
    acme.balance_micros = tally::Micros{5};  // the totals say 0
    tally::FoldResult result;
    const std::string purchase = tally::make_purchase({"ch_1", "acme", 1}, {100, 0, "usd", 0, 1, "ch_1"});
    tally::apply(ledger, tally::RecordContext{}, purchase, result);
  });
  BOOST_TEST(death.signal == SIGABRT);
  BOOST_TEST(death.stderr.find("balance = allocated + purchased - used - refunded + adjusted") != std::string::npos,
             death.stderr);

  // The same purchase on a consistent ledger is applied.
  tally::MemoryLedger ledger;
  tally::FoldResult result;
  tally::apply(ledger, tally::RecordContext{}, tally::make_purchase({"ch_1", "acme", 1}, {100, 0, "usd", 0, 1, "ch_1"}),
               result);
  BOOST_TEST((result.outcome == tally::Outcome::applied));
}

}  // namespace
