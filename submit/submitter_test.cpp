// The submission path on its own (an in-memory log, no projector): events are parsed and validated
// once and never verified on the way in; a bad event refuses the whole submission before anything
// is appended; one append per submission, an event of no org on every partition; the clock check;
// waiting hands each position to the outcome source and reports what it says.
#include <boost/test/unit_test.hpp>

#include <map>

#include "engine/event_factory.h"
#include "engine/partitioner.h"
#include "engine/validate.h"
#include "projections/testkit.h"
#include "submit/submitter.h"

using namespace tally;
using namespace tally::submit;

namespace {

constexpr int64_t t0_ms = 1'763'856'000'000;

std::string usage_json(const std::string& key, const std::string& org = "acme", int64_t at_ms = t0_ms) {
  return R"({"type":"usage","idempotency_key":")" + key + R"(","org_id":")" + org + R"(","occurred_at_ms":)" +
         std::to_string(at_ms) + R"(,"meter":"llm_tokens","model":"m1","input_tokens":10})";
}

// A LogWriter that counts its calls.
class CountingWriter final : public LogWriter {
 public:
  explicit CountingWriter(testkit::MemoryLog& log) : inner_(log.writer()) {}
  int32_t partition_count() const override { return inner_->partition_count(); }
  Result<std::vector<LogPosition>> append(std::span<const AppendRequest> records) override {
    ++calls;
    return inner_->append(records);
  }
  int calls = 0;

 private:
  std::unique_ptr<LogWriter> inner_;
};

SubmitterOptions at_t0() {
  SubmitterOptions options;
  options.now_ms = [] { return t0_ms; };
  options.future_skew_max_ms = 300'000;
  return options;
}

}  // namespace

BOOST_AUTO_TEST_CASE(json_events_are_parsed_validated_and_appended_once_without_a_verification) {
  testkit::MemoryLog log(4);
  CountingWriter writer(log);
  Submitter submitter(writer, at_t0());
  const uint64_t verified_before = envelope_verifications();
  Result<PreparedEvents> events = prepare_json("[" + usage_json("a") + "," + usage_json("b", "globex") + "]", {});
  BOOST_REQUIRE_MESSAGE(events.is_ok(), events.status().to_string());
  BOOST_TEST(events->batch);
  BOOST_TEST(events->events[1].org_id == "globex");
  BOOST_TEST(events->events[1].type == "usage");
  BOOST_TEST(events->events[1].occurred_at_ms == t0_ms);
  Result<Submitted> submitted = submitter.submit(std::move(events.value()), false);
  BOOST_REQUIRE_MESSAGE(submitted.is_ok(), submitted.status().to_string());
  BOOST_TEST(envelope_verifications() == verified_before);  // the fold is the only verifier
  BOOST_TEST(writer.calls == 1);
  BOOST_TEST(submitted->events.size() == 2u);
  BOOST_TEST(submitted->events[1].positions.at(0).partition.value == partition_for_key("globex", 4));
  BOOST_TEST(!submitted->waited);
}

BOOST_AUTO_TEST_CASE(a_bad_event_refuses_the_submission_naming_its_index_and_field) {
  Result<PreparedEvents> bad = prepare_json(
      "[" + usage_json("a") + R"(,{"type":"usage","idempotency_key":"b","org_id":"acme","occurred_at_ms":1,)"
                              R"("meter":"llm_tokens","model":"m1","input_tokens":-5}])",
      {});
  BOOST_REQUIRE(!bad.is_ok());
  BOOST_TEST(bad.status().field() == "[1].input_tokens");
  // A key repeated inside an array element is refused like one outside arrays.
  Result<PreparedEvents> repeated = prepare_json(
      "[" + usage_json("a") + R"(,{"type":"usage","idempotency_key":"b","idempotency_key":"c","org_id":"acme",)"
                              R"("occurred_at_ms":1,"meter":"llm_tokens","model":"m1"}])",
      {});
  BOOST_REQUIRE(!repeated.is_ok());
  BOOST_TEST(repeated.status().field().find("[1]") == 0u, repeated.status().to_string());
  BOOST_TEST(repeated.status().to_string().find("idempotency_key") != std::string::npos, repeated.status().to_string());
  // An array where one event is expected.
  JsonOptions single;
  single.array_allowed = false;
  BOOST_TEST(!prepare_json("[" + usage_json("a") + "]", single).is_ok());
}

BOOST_AUTO_TEST_CASE(events_without_a_time_are_stamped_only_when_the_caller_says_so) {
  const std::string timeless = R"({"type":"member_limit_set","idempotency_key":"k","org_id":"acme","member_id":"bob",)"
                               R"("monthly_limit_micros":5})";
  BOOST_TEST(prepare_json(timeless, {}).status().field() == "occurred_at_ms");
  JsonOptions stamp;
  stamp.stamp_time_ms = t0_ms + 7;
  Result<PreparedEvents> stamped = prepare_json(timeless, stamp);
  BOOST_REQUIRE(stamped.is_ok());
  BOOST_TEST(stamped->events[0].occurred_at_ms == t0_ms + 7);
  BOOST_TEST(!stamped->events[0].occurred_at_given);
  Result<PreparedEvents> given = prepare_json(usage_json("g"), stamp);
  BOOST_TEST(given->events[0].occurred_at_given);
  BOOST_TEST(given->events[0].occurred_at_ms == t0_ms);
}

BOOST_AUTO_TEST_CASE(built_events_are_validated_before_anything_is_appended) {
  testkit::MemoryLog log(2);
  CountingWriter writer(log);
  Submitter submitter(writer, at_t0());
  PaymentFields payment;
  payment.credits_micros = 0;  // a refill of nothing: not a valid AutoRefill
  payment.paid_minor = 100;
  payment.payment_ref = "ch_1";
  std::vector<std::string> built = {make_signup_allocation({"s", "acme", t0_ms, "test"}, 5),
                                    make_auto_refill({"r", "acme", t0_ms, "test"}, payment, "0:1:recharge_requested")};
  Result<PreparedEvents> refused = prepare_built(built);
  BOOST_REQUIRE(!refused.is_ok());
  BOOST_TEST(refused.status().field().rfind("[1].", 0) == 0u, refused.status().to_string());
  BOOST_TEST(!prepare_built({std::string("not a flatbuffer at all")}).is_ok());
  BOOST_TEST(writer.calls == 0);
  BOOST_TEST(log.size(PartitionId{0}) + log.size(PartitionId{1}) == 0u);

  const uint64_t verified_before = envelope_verifications();
  Result<PreparedEvents> good = prepare_built({make_signup_allocation({"s", "acme", t0_ms, "test"}, 5)});
  BOOST_REQUIRE_MESSAGE(good.is_ok(), good.status().to_string());
  BOOST_TEST(!good->batch);
  BOOST_TEST(good->events[0].type == "signup_allocation");
  BOOST_TEST(submitter.submit(std::move(good.value()), false).is_ok());
  BOOST_TEST(envelope_verifications() == verified_before);
  BOOST_TEST(writer.calls == 1);
}

BOOST_AUTO_TEST_CASE(an_event_of_no_org_goes_to_every_partition) {
  testkit::MemoryLog log(3);
  CountingWriter writer(log);
  Submitter submitter(writer, at_t0());
  Result<PreparedEvents> tick = prepare_built({make_tick({"tick-1", "", t0_ms, "ticker"})});
  BOOST_REQUIRE(tick.is_ok());
  Result<Submitted> submitted = submitter.submit(std::move(tick.value()), false);
  BOOST_REQUIRE(submitted.is_ok());
  BOOST_TEST(submitted->events.at(0).positions.size() == 3u);
  for (int32_t p = 0; p < 3; ++p) BOOST_TEST(log.size(PartitionId{p}) == 1u);
}

BOOST_AUTO_TEST_CASE(events_too_far_ahead_of_the_clock_are_refused_before_the_append) {
  testkit::MemoryLog log(1);
  CountingWriter writer(log);
  Submitter submitter(writer, at_t0());
  Result<PreparedEvents> events =
      prepare_json("[" + usage_json("now") + "," + usage_json("later", "acme", t0_ms + 300'001) + "]", {});
  BOOST_REQUIRE(events.is_ok());
  Result<Submitted> refused = submitter.submit(std::move(events.value()), false);
  BOOST_REQUIRE(!refused.is_ok());
  BOOST_TEST((refused.status().code() == Status::Code::invalid_argument));
  BOOST_TEST(refused.status().field() == "[1].occurred_at_ms");
  BOOST_TEST(writer.calls == 0);
  // Exactly at the limit, and without a limit, it goes through.
  BOOST_TEST(submitter.submit(prepare_json(usage_json("edge", "acme", t0_ms + 300'000), {}).value(), false).is_ok());
  Submitter unchecked(writer, SubmitterOptions{});
  BOOST_TEST(unchecked.submit(prepare_json(usage_json("far", "acme", t0_ms * 2), {}).value(), false).is_ok());
}

BOOST_AUTO_TEST_CASE(a_failed_append_is_unavailable) {
  class Refusing final : public LogWriter {
   public:
    int32_t partition_count() const override { return 1; }
    Result<std::vector<LogPosition>> append(std::span<const AppendRequest>) override {
      return Status::error(Status::Code::io_error, "disk full");
    }
  } refusing;
  Submitter submitter(refusing, at_t0());
  Result<Submitted> failed = submitter.submit(prepare_json(usage_json("x"), {}).value(), false);
  BOOST_REQUIRE(!failed.is_ok());
  BOOST_TEST((failed.status().code() == Status::Code::unavailable));
  BOOST_TEST(failed.status().message().find("disk full") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(waiting_reports_each_positions_outcome) {
  testkit::MemoryLog log(2);
  CountingWriter writer(log);
  std::map<LogPosition, int> asked;
  const WaitOutcome wait = [&](LogPosition position, int) {
    ++asked[position];
    OutcomeWait answer;
    answer.state = position.offset.value == 1 ? OutcomeWait::State::expired : OutcomeWait::State::ready;
    answer.outcome.position = position;
    answer.outcome.outcome = Outcome::duplicate;
    return answer;
  };
  Submitter submitter(writer, at_t0(), wait);
  const std::string events = "[" + usage_json("a") + "," + usage_json("b") + "]";
  Result<Submitted> submitted = submitter.submit(prepare_json(events, {}).value(), true);
  BOOST_REQUIRE(submitted.is_ok());
  BOOST_TEST(submitted->waited);
  const SubmittedEvent& first = submitted->events.at(0);
  BOOST_TEST((first.outcomes.at(0).state == OutcomeWait::State::ready));
  BOOST_TEST((first.outcomes.at(0).outcome.outcome == Outcome::duplicate));
  BOOST_TEST((submitted->events.at(1).outcomes.at(0).state == OutcomeWait::State::expired));
  for (const SubmittedEvent& event : submitted->events) BOOST_TEST(asked[event.positions.at(0)] >= 1);
  // Without an outcome source, a wait cannot tell: every outcome is expired (appended, not known here).
  Submitter blind(writer, at_t0());
  Result<Submitted> unknown = blind.submit(prepare_json(usage_json("c"), {}).value(), true);
  BOOST_TEST((unknown->events.at(0).outcomes.at(0).state == OutcomeWait::State::expired));
}
