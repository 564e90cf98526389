#include "fold.h"

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <string>

#include "assert.h"
#include "fold_commerce.h"
#include "folder.h"
#include "limits.h"
#include "partitioner.h"
#include "payload_digest.h"
#include "validate.h"

namespace tally {
namespace {

using flatbuffers::String;


bool held_is_sum_of_holds(const OrgState& org) {
  __int128 sum = 0;
  for (const auto& [id, hold] : org.holds) sum += hold.remaining_micros.value();
  return sum == org.held_micros.value();
}

Plan to_plan(fb::Plan p, Plan current) {
  switch (p) {
    case fb::Plan::pro: return Plan::pro;
    case fb::Plan::enterprise: return Plan::enterprise;
    default: return current;
  }
}
BillingMode to_mode(fb::BillingMode m, BillingMode current) {
  switch (m) {
    case fb::BillingMode::credits: return BillingMode::credits;
    case fb::BillingMode::byok: return BillingMode::byok;
    case fb::BillingMode::deferred: return BillingMode::deferred;
    default: return current;
  }
}

}  // namespace

RejectReason Folder::check_and_apply_body(OrgState& org) {
  switch (e_.body_type()) {
    case fb::Body::OrgOpened: {
      if (org.opened) return RejectReason::org_exists;
      const auto* b = e_.body_as_OrgOpened();
      org.opened = true;
      org.plan = to_plan(b->plan(), org.plan);
      org.mode = to_mode(b->billing_mode(), org.mode);
      return RejectReason::none;
    }
    case fb::Body::BillingModeChanged: {
      const auto* b = e_.body_as_BillingModeChanged();
      org.plan = to_plan(b->plan(), org.plan);
      org.mode = to_mode(b->billing_mode(), org.mode);
      return RejectReason::none;
    }
    case fb::Body::SignupAllocation:
      return grant_credit(org, org.totals.allocated_micros, Micros{e_.body_as_SignupAllocation()->credits_micros()});
    case fb::Body::CreditGranted:  // SPEC §12
      return grant_credit(org, org.totals.allocated_micros, Micros{e_.body_as_CreditGranted()->credits_micros()});
    case fb::Body::GrantVoided:
      return apply_grant_voided(org, *e_.body_as_GrantVoided());
    case fb::Body::Purchase:
      return apply_payment(org, Micros{e_.body_as_Purchase()->credits_micros()}, nullptr);
    case fb::Body::AutoRefill: {
      const auto* b = e_.body_as_AutoRefill();
      return apply_payment(org, Micros{b->credits_micros()}, b->signal_id());
    }
    case fb::Body::PaymentFailed: {
      const auto* b = e_.body_as_PaymentFailed();
      if (org.refill_pending && org.pending_signal_id == view(b->signal_id())) {
        org.refill_pending = false;
        org.pending_signal_id.clear();
      }
      disable_auto_refill(org, "payment_failed");
      return RejectReason::none;
    }
    case fb::Body::Refund:
      return apply_refund(org, *e_.body_as_Refund());
    case fb::Body::AdminAdjustment:
      return apply_adjustment(org, *e_.body_as_AdminAdjustment());
    case fb::Body::Usage:
      return apply_usage(org, *e_.body_as_Usage());
    case fb::Body::AutoRefillConfigured:
      configure_auto_refill(org, *e_.body_as_AutoRefillConfigured());
      return RejectReason::none;
    case fb::Body::AutoRefillDisabled:
      disable_auto_refill(org, "disabled");
      return RejectReason::none;
    case fb::Body::LowBalanceThresholdSet:
      org.low_balance_threshold_micros = Micros{e_.body_as_LowBalanceThresholdSet()->threshold_micros()};
      return RejectReason::none;
    case fb::Body::MemberLimitSet:
      return apply_member_limit(true);
    case fb::Body::MemberLimitCleared:
      return apply_member_limit(false);
    case fb::Body::PaymentCustomerLinked:
      return apply_payment_customer_linked(org, *e_.body_as_PaymentCustomerLinked());
    case fb::Body::WorkspaceBillingSet:
      return apply_workspace_billing_set(org, *e_.body_as_WorkspaceBillingSet());
    case fb::Body::HoldPlaced: case fb::Body::HoldExtended: case fb::Body::HoldReleased:  // SPEC §11
      return apply_hold_event(org);
    case fb::Body::Tick:
    case fb::Body::RateCardPublished:
    case fb::Body::NONE:
      return RejectReason::none;
  }
  return RejectReason::none;
}

void Folder::configure_auto_refill(OrgState& org, const fb::AutoRefillConfigured& configured) {
  if (!configured.enabled()) disable_auto_refill(org, "disabled");
  AutoRefillPolicy& policy = org.auto_refill;
  policy.enabled = configured.enabled();
  policy.threshold_micros = Micros{configured.threshold_micros()};
  policy.refill_credits_micros = Micros{configured.refill_credits_micros()};
  policy.max_per_day = configured.max_per_day();
  policy.max_per_month = configured.max_per_month();
  policy.payment_customer.assign(view(configured.payment_customer()));
  policy.refill_bundles = configured.refill_bundles();
}

RejectReason Folder::apply_member_limit(bool set) {
  const String* member_text = set ? e_.body_as_MemberLimitSet()->member_id() : e_.body_as_MemberLimitCleared()->member_id();
  const MemberIdView member_id = MemberIdView::trusted(view(member_text));  // checked: valid
  MemberState* member = ledger_.find_member(org_id_, member_id);
  if (!set && member == nullptr) return RejectReason::none;  // no limit to clear
  if (member == nullptr) member = &ledger_.create_member(org_id_, member_id);
  member->has_limit = set;
  member->monthly_limit_micros = set ? Micros{e_.body_as_MemberLimitSet()->monthly_limit_micros()} : Micros{};
  member_touched_ = member_id;
  member_touched_state_ = member;
  return RejectReason::none;
}

Folder::Folder(Ledger& ledger, const RecordContext& context, const fb::Envelope& e, FoldResult& result,
               PartitionState& partition, OrgState* org)
    : ledger_(ledger), position_(context.position), e_(e), result_(result), partition_(partition),
      org_id_(OrgIdView::trusted(view(e.org_id()))), existing_org_(org) {}

RejectReason Folder::run() {
  if (e_.body_type() == fb::Body::RateCardPublished) {
    const auto* card = e_.body_as_RateCardPublished();
    if (card->version() <= partition_.rate_card.version) return RejectReason::stale_rate_card;
    advance_clock();
    apply_rate_card(*card);
    return RejectReason::none;
  }
  if (org_id_.empty()) {  // a partition-wide Tick
    advance_clock();
    return RejectReason::none;
  }
  return run_org_event();
}

RejectReason Folder::run_org_event() {
  OrgState* existing = existing_org_;
  // Work on a copy so a business rejection leaves the org untouched (and uncreated). Its grants
  // are moved, not copied (an org may hold many): a body changes them only once it can no longer
  // be rejected, and the expiries before the body keep a copy to give back (expire_own_grants).
  std::vector<Grant> grants;
  if (existing) grants.swap(existing->grants);
  OrgState org = existing ? *existing : OrgState{};
  org.grants.swap(grants);
  if (!existing) org.home_partition = position_.partition;  // apply() checked it is the org's home
  const Micros balance_before = org.balance_micros;
  const Micros overdraft_before = org.overdraft_micros;
  const bool was_wallet = existing && wallet_org(*existing);
  const std::size_t signals_before = result_.signals.size();
  // The event is judged on the state after the expiries its own time causes (SPEC §12).
  expire_own_grants(org);
  const RejectReason reason = check_and_apply_body(org);
  if (reason != RejectReason::none) {
    // Nothing happened, not even the expiries: only applied events move the clock.
    result_.amount_micros = Micros{};
    result_.hold_granted_micros = Micros{};
    result_.hold_expires_at_ms = 0;
    result_.funding_count = 0;
    result_.expired_grants.clear();
    result_.signals.resize(signals_before);
    if (existing) {
      existing->grants = grants_before_body_ ? std::move(*grants_before_body_) : std::move(org.grants);
      result_.available_micros = available_of(*existing);
    }
    return reason;
  }
  TALLY_ASSERT(totals_identity_holds(org),
               "balance = allocated + purchased - used - refunded + adjusted - expired - voided (SPEC 4, 12)");
  TALLY_ASSERT(grants_still_balance(org, balance_before, overdraft_before),
               "balance = sum of grant remaining - overdraft (SPEC 12)");
  TALLY_ASSERT(held_is_sum_of_holds(org), "held = sum of the remaining of the active holds (SPEC 11)");
  if (!existing) {
    // A new org starts exhausted (balance 0) without a signal if it is a wallet org, and with no
    // level at all otherwise; its first credit then emits balance_restored.
    org.is_exhausted = wallet_org(org);
    existing = &ledger_.create_org(org_id_);
  }
  org.last_occurred_at_ms = std::max(org.last_occurred_at_ms, e_.occurred_at_ms());
  *existing = std::move(org);
  finish_grants();
  advance_clock();  // month-change restores, grant expiries and cap re-evaluation come first
  OrgState& state = *existing;
  evaluate_org(org_id_, state);
  // Entering or leaving the wallet pauses or releases the org's members over their limit.
  if (existing_org_ && wallet_org(state) != was_wallet) evaluate_members_over_limit(org_id_, state);
  if (member_touched_state_) evaluate_member(org_id_, member_touched_, *member_touched_state_, state);
  if (disabled_signal_ && wallet_org(state)) {
    emit(SignalKind::auto_refill_disabled, org_id_, state).pause_reason = disabled_reason_;
  }
  result_.balance_after_micros = state.balance_micros;
  result_.available_micros = available_of(state);
  return RejectReason::none;
}

void FoldResult::clear() {
  outcome = Outcome::applied;
  reason = RejectReason::none;
  detail.clear();
  envelope = nullptr;
  org_id = {};
  payload_digest = {};
  amount_micros = Micros{};
  balance_after_micros = Micros{};
  debited_micros = Micros{};
  tracked_cost_micros = Micros{};
  provider_cost_micros = Micros{};
  rate_card_version = 0;
  hold_granted_micros = Micros{};
  hold_expires_at_ms = 0;
  hold_late = false;
  available_micros = Micros{};
  expired_holds.clear();
  funding_count = 0;
  expired_grants.clear();
  signals.clear();
}

void FoldResult::add_funding(std::string_view grant_id, Micros micros) {
  if (funding_count == funding_slots.size()) funding_slots.emplace_back();
  Funding& slot = funding_slots[funding_count++];
  slot.grant_id.assign(grant_id);
  slot.micros = micros;
}

std::string global_key_scope(PartitionId partition) { return "#" + std::to_string(partition.value); }

namespace {

// What a prefetch hint reads of a record: the envelope's org id and idempotency key and, for a
// usage event and if asked, its member id, each checked as Envelope::Verify checks it (and
// nothing else).
struct HintFields {
  const String* key = nullptr;
  const String* org = nullptr;
  const String* member = nullptr;
};

bool hint_fields(std::string_view record, bool with_member, HintFields& out) {
  const auto* bytes = reinterpret_cast<const uint8_t*>(record.data());
  if (record.size() < sizeof(flatbuffers::uoffset_t) ||
      reinterpret_cast<std::uintptr_t>(bytes) % alignof(uint64_t) != 0) {
    return false;  // apply() copies misaligned records; not worth it for a hint
  }
  flatbuffers::Verifier verifier(bytes, record.size());
  const flatbuffers::uoffset_t root = verifier.VerifyOffset(0);
  if (root == 0) return false;
  const auto* table = reinterpret_cast<const flatbuffers::Table*>(bytes + root);
  if (!table->VerifyTableStart(verifier)) return false;
  const auto string_field = [&](const flatbuffers::Table* in, flatbuffers::voffset_t field) -> const String* {
    if (!in->VerifyOffset(verifier, field)) return nullptr;
    const auto* s = in->GetPointer<const String*>(field);
    return s != nullptr && verifier.VerifyString(s) ? s : nullptr;
  };
  out.key = string_field(table, fb::Envelope::VT_IDEMPOTENCY_KEY);
  out.org = string_field(table, fb::Envelope::VT_ORG_ID);
  out.member = nullptr;
  if (with_member && table->VerifyField<uint8_t>(verifier, fb::Envelope::VT_BODY_TYPE, 1) &&
      table->GetField<uint8_t>(fb::Envelope::VT_BODY_TYPE, 0) == static_cast<uint8_t>(fb::Body::Usage) &&
      table->VerifyOffset(verifier, fb::Envelope::VT_BODY)) {
    const auto* body = table->GetPointer<const flatbuffers::Table*>(fb::Envelope::VT_BODY);
    if (body != nullptr && body->VerifyTableStart(verifier)) out.member = string_field(body, fb::Usage::VT_MEMBER_ID);
  }
  return true;
}

}  // namespace

void prefetch_key_of(Ledger& ledger, LogPosition position, std::string_view record, std::string& scope_buffer) {
  HintFields fields;
  if (!hint_fields(record, false, fields) || fields.key == nullptr) return;
  std::string_view scope = view(fields.org);
  if (scope.empty()) {
    scope_buffer = global_key_scope(position.partition);
    scope = scope_buffer;
  }
  ledger.prefetch_key(scope, fields.key->string_view());
}

void prefetch_states_of(Ledger& ledger, std::string_view record, PrefetchStage stage) {
  if (!ledger.wants_state_hints()) return;
  HintFields fields;
  if (!hint_fields(record, true, fields) || view(fields.org).empty()) return;
  ledger.prefetch_org(view(fields.org), stage);
  if (!view(fields.member).empty()) ledger.prefetch_member(view(fields.org), view(fields.member), stage);
}

namespace {

// Rejects `result` for a validation failure (no key recorded, no effect).
void reject(FoldResult& result, RejectReason reason, std::string detail) {
  result.outcome = Outcome::rejected;
  result.reason = reason;
  result.detail = std::move(detail);
}

// The record's bytes do not decode or a field is out of range.
void reject_invalid(FoldResult& result, const Status& status, const fb::Envelope* envelope) {
  const bool field = status.code() == Status::Code::invalid_argument;
  reject(result, field ? RejectReason::invalid_field : RejectReason::invalid_record, status.to_string());
  if (field) {
    result.envelope = envelope;
    if (envelope->org_id() && is_valid_id(envelope->org_id()->string_view())) {
      result.org_id = OrgIdView::trusted(envelope->org_id()->string_view());
    }
  }
}

// A valid event that is not the fold's to apply where and when the log put it: an org's event
// outside its home partition (SPEC §3), an event time too far ahead of the log's (SPEC §2).
// Returns false after rejecting.
bool check_placement(const RecordContext& context, const fb::Envelope& envelope, FoldResult& result) {
  if (!result.org_id.empty()) {
    const int32_t home = partition_for_key(result.org_id.str(), context.partition_count);
    if (home != context.position.partition.value) {
      reject(result, RejectReason::wrong_partition,
             "org " + std::string(result.org_id.str()) + " lives in partition " + std::to_string(home) + ", not " +
                 std::to_string(context.position.partition.value));
      return false;
    }
  }
  // As unsigned: the difference of two int64 is exact in uint64 when it is positive.
  const int64_t occurred = envelope.occurred_at_ms();
  const uint64_t ahead_ms = static_cast<uint64_t>(occurred) - static_cast<uint64_t>(context.appended_at_ms);
  if (occurred > context.appended_at_ms && ahead_ms > static_cast<uint64_t>(limits::future_skew_max_ms)) {
    reject(result, RejectReason::clock_skew,
           "occurred_at_ms " + std::to_string(occurred) + " is " + std::to_string(ahead_ms) +
               " ms ahead of the log's append time " + std::to_string(context.appended_at_ms) + " (at most " +
               std::to_string(limits::future_skew_max_ms) + ")");
    return false;
  }
  return true;
}

}  // namespace

void apply(Ledger& ledger, const RecordContext& context, std::string_view record, FoldResult& result) {
  const LogPosition position = context.position;
  TALLY_ASSERT(position.partition.value >= 0 && position.partition.value < context.partition_count,
               "a record's partition is one of the log's");
  result.clear();
  PartitionState& partition = ledger.partition(position.partition);
  if (reinterpret_cast<std::uintptr_t>(record.data()) % alignof(uint64_t) != 0) {
    // FlatBuffers reads scalars in place; a misaligned read is undefined behaviour.
    result.aligned_record.resize((record.size() + 7) / 8);
    std::memcpy(result.aligned_record.data(), record.data(), record.size());
    record = std::string_view(reinterpret_cast<const char*>(result.aligned_record.data()), record.size());
  }
  const fb::Envelope* envelope = nullptr;
  if (const Status status = validate_event(record, &envelope); !status.is_ok()) {
    reject_invalid(result, status, envelope);
    return;
  }
  result.envelope = envelope;
  result.org_id = OrgIdView::trusted(view(envelope->org_id()));  // validated: empty or an id
  if (!check_placement(context, *envelope, result)) return;
  const std::string_view key = view(envelope->idempotency_key());
  OrgState* org = result.org_id.empty() ? nullptr : ledger.find_org(result.org_id);
  if (org) {
    result.balance_after_micros = org->balance_micros;
    result.available_micros = available_of(*org);  // a duplicate's answer says what is available now
  }
  {
    FieldDigest d;
    d.add(result.org_id).add(key);
    digest_body(d, *envelope);
    result.payload_digest = d.finish();
  }
  // An org's keys are scoped by its id (a view into the record, valid for this call).
  if (result.org_id.empty()) result.scope_buffer = global_key_scope(position.partition);
  const std::string_view scope = result.org_id.empty() ? std::string_view(result.scope_buffer) : result.org_id.str();
  if (const KeyRecord* seen = ledger.find_key(scope, key)) {
    result.outcome = seen->payload_digest == result.payload_digest ? Outcome::duplicate : Outcome::conflict;
    if (result.outcome == Outcome::conflict) {
      result.detail = "idempotency key reused with a different payload";
    } else if (seen->outcome == Outcome::rejected) {
      result.detail = std::string("duplicate of a rejected event (") + reject_reason_name(seen->reason) + ")";
    }
    return;
  }
  Folder folder(ledger, context, *envelope, result, partition, org);
  const RejectReason reason = folder.run();
  result.outcome = reason == RejectReason::none ? Outcome::applied : Outcome::rejected;
  result.reason = reason;
  if (reason != RejectReason::none) result.detail = reject_reason_name(reason);
  ledger.put_key(scope, key, KeyRecord{result.payload_digest, result.outcome, reason});
}

}  // namespace tally
