#include "api/outcome_json.h"

#include <boost/json/array.hpp>

#include "api/handler_util.h"

namespace tally::api {
namespace {

using State = OutcomeWait::State;

// How far the waits of a submission got: every outcome ready, some committed but not known here,
// some not committed in time.
enum class Progress { ready, unknown, pending };

Progress progress_of(const submit::Submitted& submitted) {
  Progress progress = Progress::ready;
  for (const submit::SubmittedEvent& event : submitted.events) {
    for (const OutcomeWait& wait : event.outcomes) {
      if (wait.state == State::timed_out) return Progress::pending;
      if (wait.state == State::expired) progress = Progress::unknown;
    }
  }
  return progress;
}

// 409 or 422 for one event's conflict or rejection (the body keeps the event's fields).
ApiResponse refusal(boost::json::object out, const RecordOutcome& outcome) {
  const bool conflict = outcome.outcome == Outcome::conflict;
  boost::json::object error;
  error["code"] = conflict ? "idempotency_conflict" : "rejected";
  error["message"] = conflict ? std::string("this idempotency key was used before for a different request")
                              : std::string("the ledger rejected the event: ") + reject_reason_name(outcome.reason) +
                                    (outcome.detail.empty() ? "" : " (" + outcome.detail + ")");
  out["error"] = std::move(error);
  return ApiResponse::json(conflict ? 409 : 422, to_json_text(out));
}

}  // namespace

void put_outcome(boost::json::object& out, const OutcomeWait& wait) {
  if (wait.state != State::ready) {
    out["outcome"] = "unknown";
    return;
  }
  const RecordOutcome& o = wait.outcome;
  out["outcome"] = outcome_name(o.outcome);
  if (o.reason != RejectReason::none) out["reason"] = reject_reason_name(o.reason);
  if (!o.detail.empty()) out["detail"] = o.detail;
  put_money(out, "amount", o.amount_micros);
  put_money(out, "balance_after", o.balance_after_micros);
}

void put_event(boost::json::object& out, const submit::SubmittedEvent& event, const std::string& idempotency_key) {
  out["position"] = event.positions.front().to_string();
  if (event.positions.size() > 1) {
    boost::json::array all;
    for (const LogPosition& p : event.positions) all.push_back(boost::json::value(p.to_string()));
    out["positions"] = std::move(all);
  }
  out["idempotency_key"] = idempotency_key;
  if (event.outcomes.empty() || event.outcomes.front().state == State::timed_out) return;
  put_outcome(out, event.outcomes.front());
  if (event.outcomes.size() > 1) {
    boost::json::array all;
    for (const OutcomeWait& wait : event.outcomes) {
      boost::json::object one;
      put_outcome(one, wait);
      all.push_back(std::move(one));
    }
    out["outcomes"] = std::move(all);
  }
}

ApiResponse submission_answer(const submit::Submitted& submitted, const std::vector<std::string>& keys, bool batch,
                              const std::function<Status(boost::json::object&)>& render) {
  const Progress progress = submitted.waited ? progress_of(submitted) : Progress::pending;
  boost::json::object out;
  if (batch) {
    boost::json::array list;
    for (std::size_t i = 0; i < submitted.events.size(); ++i) {
      boost::json::object item;
      item["index"] = i;
      put_event(item, submitted.events[i], keys.at(i));
      list.push_back(std::move(item));
    }
    out["events"] = std::move(list);
  } else {
    put_event(out, submitted.events.at(0), keys.at(0));
  }
  out["applied"] = progress != Progress::pending;
  if (progress != Progress::ready) return ApiResponse::json(202, to_json_text(out));
  if (!batch) {
    const RecordOutcome& outcome = submitted.events.front().outcomes.front().outcome;
    if (outcome.outcome == Outcome::conflict || outcome.outcome == Outcome::rejected) {
      return refusal(std::move(out), outcome);
    }
    if (render) {
      if (Status status = render(out); !status.is_ok()) return error_response(status);
    }
  }
  return ApiResponse::json(200, to_json_text(out));
}

}  // namespace tally::api
