#include "projections/testkit.h"

#include <algorithm>
#include <cassert>
#include <chrono>
#include <cstdlib>

#include "engine/event_factory.h"
#include "engine/partitioner.h"
#include "engine/signals.h"

namespace tally::testkit {

// ---- MemoryLog

MemoryLog::MemoryLog(int32_t partitions, std::string identity)
    : identity_(std::move(identity)), partitions_(static_cast<std::size_t>(partitions)) {}

LogPosition MemoryLog::append_to(PartitionId partition, std::string_view, std::string_view value) {
  std::lock_guard lock(mutex_);
  int64_t now_ms = clock_ ? clock_()
                          : std::chrono::duration_cast<std::chrono::milliseconds>(
                                std::chrono::system_clock::now().time_since_epoch())
                                .count();
  const auto& records = partitions_[static_cast<std::size_t>(partition.value)];
  if (!records.empty()) now_ms = std::max(now_ms, records.back().appended_at_ms);
  return append_locked(partition, value, now_ms);
}

LogPosition MemoryLog::append_to(PartitionId partition, std::string_view, std::string_view value,
                                 int64_t appended_at_ms) {
  std::lock_guard lock(mutex_);
  return append_locked(partition, value, appended_at_ms);
}

void MemoryLog::set_clock(std::function<int64_t()> clock) {
  std::lock_guard lock(mutex_);
  clock_ = std::move(clock);
}

int64_t MemoryLog::appended_at(LogPosition position) const {
  std::lock_guard lock(mutex_);
  return partitions_[static_cast<std::size_t>(position.partition.value)][static_cast<std::size_t>(position.offset.value)]
      .appended_at_ms;
}

LogPosition MemoryLog::append_locked(PartitionId partition, std::string_view value, int64_t appended_at_ms) {
  auto& records = partitions_[static_cast<std::size_t>(partition.value)];
  records.push_back(Stored{std::string(value), appended_at_ms});
  const LogPosition position{partition, Offset{static_cast<int64_t>(records.size() - 1)}};
  append_order_.push_back(position);
  appended_.notify_all();
  return position;
}

std::vector<LogPosition> MemoryLog::append(std::string_view key, std::string_view value) {
  std::vector<LogPosition> positions;
  if (key.empty()) {
    for (int32_t p = 0; p < partitions(); ++p) positions.push_back(append_to(PartitionId{p}, key, value));
  } else {
    positions.push_back(append_to(PartitionId{partition_for_key(key, partitions())}, key, value));
  }
  return positions;
}

void MemoryLog::append_all(const std::vector<AppendRequest>& requests) {
  for (const AppendRequest& r : requests) append(r.to_every_partition ? std::string_view() : r.key, r.value);
}

void MemoryLog::truncate(PartitionId partition, std::size_t size) {
  std::lock_guard lock(mutex_);
  partitions_[static_cast<std::size_t>(partition.value)].resize(size);
  std::erase_if(append_order_, [&](LogPosition p) {
    return p.partition == partition && p.offset.value >= static_cast<int64_t>(size);
  });
}

std::vector<LogPosition> MemoryLog::append_order() const {
  std::lock_guard lock(mutex_);
  return append_order_;
}

std::string MemoryLog::value(LogPosition position) const {
  std::lock_guard lock(mutex_);
  return partitions_[static_cast<std::size_t>(position.partition.value)][static_cast<std::size_t>(position.offset.value)]
      .value;
}

std::size_t MemoryLog::size(PartitionId partition) const {
  std::lock_guard lock(mutex_);
  return partitions_[static_cast<std::size_t>(partition.value)].size();
}

class MemoryLogReader final : public LogReader {
 public:
  MemoryLogReader(MemoryLog& log, std::size_t chunk_max)
      : log_(log), next_(log.partitions_.size(), -1), chunk_max_(chunk_max) {}
  int32_t partition_count() const override { return log_.partitions(); }
  std::string identity() const override { return log_.identity(); }
  Status seek(PartitionId partition, Offset offset) override {
    if (partition.value < 0 || partition.value >= log_.partitions()) return Status::invalid("partition", "out of range");
    next_[static_cast<std::size_t>(partition.value)] = offset.value;
    return Status::ok();
  }
  Status poll(std::vector<LogRecord>& out, std::size_t records_max, int timeout_ms) override {
    out.clear();
    std::unique_lock lock(log_.mutex_);
    log_.appended_.wait_for(lock, std::chrono::milliseconds(timeout_ms), [&] { return available() > 0; });
    const std::size_t count = next_.size();
    bool progress = true;
    while (out.size() < records_max && progress) {
      progress = false;
      for (std::size_t i = 0; i < count && out.size() < records_max; ++i) {
        const std::size_t p = (rotate_ + i) % count;
        if (next_[p] < 0) continue;
        const auto& records = log_.partitions_[p];
        for (std::size_t taken = 0; taken < chunk_max_ && out.size() < records_max &&
                                    static_cast<std::size_t>(next_[p]) < records.size();
             ++taken) {
          const LogPosition position{PartitionId{static_cast<int32_t>(p)}, Offset{next_[p]}};
          const auto& stored = records[static_cast<std::size_t>(next_[p])];
          out.push_back(LogRecord{position, {}, stored.value, stored.appended_at_ms, {}});
          ++next_[p];
          progress = true;
        }
      }
    }
    ++rotate_;
    return Status::ok();
  }
  Result<Offset> end_offset(PartitionId partition) override {
    if (partition.value < 0 || partition.value >= log_.partitions()) return Status::invalid("partition", "out of range");
    return Offset{static_cast<int64_t>(log_.size(partition))};
  }

 private:
  std::size_t available() const {
    std::size_t n = 0;
    for (std::size_t p = 0; p < next_.size(); ++p) {
      if (next_[p] >= 0 && static_cast<std::size_t>(next_[p]) < log_.partitions_[p].size()) ++n;
    }
    return n;
  }
  MemoryLog& log_;
  std::vector<int64_t> next_;
  std::size_t chunk_max_;
  std::size_t rotate_ = 0;
};

class MemoryLogWriter final : public LogWriter {
 public:
  explicit MemoryLogWriter(MemoryLog& log) : log_(log) {}
  int32_t partition_count() const override { return log_.partitions(); }
  Result<std::vector<LogPosition>> append(std::span<const AppendRequest> records) override {
    std::vector<LogPosition> positions;
    for (const AppendRequest& r : records) {
      if (r.key.empty() && !r.to_every_partition) return Status::invalid("key", "is required");
      for (LogPosition p : log_.append(r.to_every_partition ? std::string_view() : r.key, r.value)) positions.push_back(p);
    }
    return positions;
  }

 private:
  MemoryLog& log_;
};

std::unique_ptr<LogReader> MemoryLog::reader(std::size_t chunk_max) {
  return std::make_unique<MemoryLogReader>(*this, chunk_max);
}
std::unique_ptr<LogWriter> MemoryLog::writer() { return std::make_unique<MemoryLogWriter>(*this); }

// ---- WorkloadGenerator

namespace {
constexpr int64_t credits = 1'000'000;
const char* const models[] = {"gpt-4o", "claude-sonnet", "llama-70b"};
const char* const sandbox_classes[] = {"small", "large"};

RateCardFields rate_card(int64_t version) {
  RateCardFields card;
  card.version = version;
  card.markup_bp = static_cast<int32_t>(15000 + version % 3 * 1000);
  card.byok_fee_bp = 500;
  card.models = {{"gpt-4o", ModelPrice{250 * credits, 1000 * credits, 125 * credits, 300 * credits}},
                 {"claude-sonnet", ModelPrice{300 * credits, 1500 * credits, 30 * credits, 375 * credits}},
                 {"llama-70b", ModelPrice{50 * credits, 80 * credits, 0, 0}}};
  card.sandbox_classes = {{"small", 2 * credits}, {"large", 9 * credits}};
  return card;
}
}  // namespace

WorkloadGenerator::WorkloadGenerator(const WorkloadOptions& options)
    : options_(options), rng_(options.seed), now_ms_(options.start_ms),
      next_offset_(static_cast<std::size_t>(options.partitions), 0) {}

std::string WorkloadGenerator::org_id(int index) const { return "org-" + std::to_string(index); }

int64_t WorkloadGenerator::next_time() {
  now_ms_ += static_cast<int64_t>(roll(static_cast<uint64_t>(options_.step_ms_max) + 1));
  return now_ms_;
}

void WorkloadGenerator::emit(std::vector<AppendRequest>& out, std::string key, std::string value) {
  const int32_t p = partition_for_key(key, options_.partitions);
  const LogPosition position{PartitionId{p}, Offset{next_offset_[static_cast<std::size_t>(p)]++}};
  // The log appends as the workload happens: its time is the workload's clock.
  apply(mirror_, RecordContext{position, now_ms_, options_.partitions}, value, mirror_result_);
  for (const Signal& s : mirror_result_.signals) {
    if (s.kind == SignalKind::recharge_requested && options_.answer_refills) {
      refill_queue_.emplace_back(generated_ + 1 + roll(50), s.id() + "|" + s.org_id.str() + "|" +
                                                               std::to_string(s.refill_credits_micros.value()));
    }
  }
  out.push_back(AppendRequest{std::move(key), std::move(value), false});
  ++generated_;
}

void WorkloadGenerator::emit_everywhere(std::vector<AppendRequest>& out, std::string value) {
  for (int32_t p = 0; p < options_.partitions; ++p) {
    const LogPosition position{PartitionId{p}, Offset{next_offset_[static_cast<std::size_t>(p)]++}};
    apply(mirror_, RecordContext{position, now_ms_, options_.partitions}, value, mirror_result_);
    for (const Signal& s : mirror_result_.signals) {
      if (s.kind == SignalKind::recharge_requested && options_.answer_refills) {
        refill_queue_.emplace_back(generated_ + 1 + roll(50), s.id() + "|" + s.org_id.str() + "|" +
                                                                 std::to_string(s.refill_credits_micros.value()));
      }
    }
  }
  out.push_back(AppendRequest{"", std::move(value), true});
  ++generated_;
}

void WorkloadGenerator::remember(const std::string& org, const std::string& key, const std::string& value) {
  recent_.emplace_back(org + "|" + key, value);
  if (recent_.size() > 256) recent_.pop_front();
}

std::string WorkloadGenerator::usage_event(const std::string& org, const std::string& key) {
  UsageFields u;
  std::string member = "u" + std::to_string(roll(static_cast<uint64_t>(options_.members_per_org)));
  std::string workspace = "ws" + std::to_string(roll(3));
  if (roll(10) != 0) u.member_id = member;
  u.workspace = workspace;
  u.project = "proj";
  u.provider = "openai";
  const uint64_t kind = roll(100);
  if (kind < 85) {
    u.meter = fb::Meter::llm_tokens;
    u.model = models[roll(3)];
    u.input_tokens = static_cast<int64_t>(100 + roll(4000));
    u.output_tokens = static_cast<int64_t>(10 + roll(1500));
    if (roll(4) == 0) u.cache_read_tokens = static_cast<int64_t>(roll(2000));
  } else if (kind < 95) {
    u.meter = fb::Meter::sandbox_seconds;
    u.sandbox_class = sandbox_classes[roll(2)];
    u.seconds = static_cast<int64_t>(1 + roll(600));
  } else if (kind < 98) {
    u.meter = fb::Meter::llm_tokens;
    u.model = "custom-model";
    u.input_tokens = 1000;
    u.reported_cost_micros = static_cast<int64_t>(roll(2 * credits));
  } else if (kind < 99) {
    u.meter = fb::Meter::llm_tokens;
    u.model = "unknown-model";  // unpriced: a business rejection
    u.input_tokens = 10;
  } else {
    u.meter = fb::Meter::llm_tokens;
    u.model = models[0];
    u.input_tokens = roll(5) == 0 ? -5 : 5;  // sometimes an invalid field
  }
  if (roll(10) == 0) u.billing_path = fb::BillingPath::byok;
  return make_usage(EventHeader{key, org, next_time()}, u);
}

void WorkloadGenerator::org_event(std::vector<AppendRequest>& out) {
  if (!refill_queue_.empty() && refill_queue_.front().first <= generated_) {
    const std::string entry = refill_queue_.front().second;
    refill_queue_.pop_front();
    const std::size_t bar1 = entry.find('|');
    const std::size_t bar2 = entry.find('|', bar1 + 1);
    const std::string signal_id = entry.substr(0, bar1);
    const std::string org = entry.substr(bar1 + 1, bar2 - bar1 - 1);
    const int64_t refill = std::stoll(entry.substr(bar2 + 1));
    if (roll(10) != 0) {
      const std::string charge = "ch_" + std::to_string(sequence_);  // outlives the views below
      PaymentFields pay{refill, refill / 10'000, "usd", 30, 1, charge};
      const std::string key = "refill-" + signal_id;
      purchases_[org].push_back(key);
      emit(out, org, make_auto_refill(EventHeader{key, org, next_time()}, pay, signal_id));
    } else {
      emit(out, org, make_payment_failed(EventHeader{"failed-" + signal_id, org, next_time()}, signal_id,
                                         "card_declined", "Your card was declined."));
    }
    return;
  }
  const std::string org = org_id(static_cast<int>(roll(static_cast<uint64_t>(options_.orgs))));
  const std::string key = "e" + std::to_string(sequence_++);
  const EventHeader h{key, org, next_time()};
  const auto r = static_cast<int>(roll(1000));
  std::string value;
  if (r < options_.usage_permille) {
    value = usage_event(org, key);
  } else {
    const int rest = static_cast<int>(roll(100));
    if (rest < 25) {
      const int64_t amount = static_cast<int64_t>(10 + roll(90)) * credits;
      const std::string charge = "ch_" + key;
      value = make_purchase(h, PaymentFields{amount, amount / 10'000, "usd", 30, static_cast<int32_t>(1 + roll(3)),
                                             charge});
      purchases_[org].push_back(key);
    } else if (rest < 35) {
      auto& keys = purchases_[org];
      const std::string purchase = keys.empty() || roll(10) == 0 ? "no-such-purchase" : keys[roll(keys.size())];
      value = make_refund(h, purchase, static_cast<int64_t>(1 + roll(60)) * credits, roll(10) == 0, "customer request");
    } else if (rest < 43) {
      const int64_t amount = (static_cast<int64_t>(roll(40)) - 20) * credits + 1;
      value = make_admin_adjustment(h, amount, "correction", "ops", roll(5) == 0);
    } else if (rest < 58 && !recent_.empty()) {
      const auto& [org_key, old] = recent_[roll(recent_.size())];
      emit(out, org_key.substr(0, org_key.find('|')), old);  // an exact retry: duplicate
      return;
    } else if (rest < 63 && !recent_.empty()) {
      const auto& [org_key, old] = recent_[roll(recent_.size())];
      const std::string old_org = org_key.substr(0, org_key.find('|'));
      const std::string old_key = org_key.substr(org_key.find('|') + 1);
      value = make_admin_adjustment(EventHeader{old_key, old_org, next_time()}, 7, "reused key", "ops", false);
      emit(out, old_org, value);  // same key, different payload: conflict
      return;
    } else if (rest < 70) {
      const std::string member = "u" + std::to_string(roll(static_cast<uint64_t>(options_.members_per_org)));
      value = roll(4) == 0 ? make_member_limit_cleared(h, member)
                           : make_member_limit_set(h, member, static_cast<int64_t>(5 + roll(60)) * credits);
    } else if (rest < 75) {
      value = make_low_balance_threshold_set(h, static_cast<int64_t>(roll(15)) * credits);
    } else if (rest < 82) {
      if (roll(5) == 0) {
        value = make_auto_refill_disabled(h, "user");
      } else {
        AutoRefillPolicy policy;
        policy.enabled = true;
        policy.threshold_micros = Micros{10 * credits};
        policy.refill_credits_micros = Micros{static_cast<int64_t>(20 + roll(40)) * credits};
        policy.max_per_day = static_cast<int32_t>(roll(6));
        policy.max_per_month = static_cast<int32_t>(roll(41));
        policy.payment_customer = "cus_" + org;
        value = make_auto_refill_configured(h, policy);
      }
    } else if (rest < 85) {
      const uint64_t pick = roll(4);
      value = pick == 0   ? make_billing_mode_changed(h, Plan::enterprise, std::nullopt)
              : pick == 1 ? make_billing_mode_changed(h, Plan::pro, BillingMode::byok)
                          : make_billing_mode_changed(h, Plan::pro, BillingMode::credits);
    } else if (rest < 88) {
      value = make_org_opened(h, Plan::pro, BillingMode::credits);  // usually org_exists
    } else if (rest < 91) {
      value = make_signup_allocation(h, 25 * credits);
    } else if (rest < 97) {
      emit_everywhere(out, make_tick(EventHeader{"tick-" + key, "", next_time()}));
      return;
    } else {
      // A new rate card, sometimes a stale one.
      const int64_t version = roll(3) == 0 ? rate_card_version_ : ++rate_card_version_;
      emit_everywhere(out, make_rate_card(EventHeader{"rc-" + key, "", next_time()}, rate_card(version)));
      return;
    }
  }
  remember(org, key, value);
  emit(out, org, std::move(value));
}

void WorkloadGenerator::generate(std::size_t count, std::vector<AppendRequest>& out) {
  const std::size_t target = generated_ + count;
  if (!started_) {
    started_ = true;
    rate_card_version_ = 1;
    emit_everywhere(out, make_rate_card(EventHeader{"rc-1", "", next_time()}, rate_card(1)));
    for (int i = 0; i < options_.orgs && generated_ < target; ++i) {
      const std::string org = org_id(i);
      const Plan plan = i % 10 == 9 ? Plan::enterprise : Plan::pro;
      const BillingMode mode = i % 10 == 7 ? BillingMode::byok : i % 10 == 8 ? BillingMode::deferred : BillingMode::credits;
      emit(out, org, make_org_opened(EventHeader{"open", org, next_time()}, plan, mode));
      emit(out, org, make_signup_allocation(EventHeader{"signup", org, next_time()}, 25 * credits));
      if (i % 3 != 2) {
        AutoRefillPolicy policy{true, Micros{10 * credits}, Micros{30 * credits}, 5, 40, "cus_" + org};
        emit(out, org, make_auto_refill_configured(EventHeader{"refill-policy", org, next_time()}, policy));
      }
    }
  }
  while (generated_ < target) org_event(out);
}

// ---- Reference

Reference::Reference(const MemoryLog& log) {
  for (LogPosition position : log.append_order()) {
    fold(RecordContext{position, log.appended_at(position), log.partitions()}, log.value(position));
  }
}

void Reference::fold(const LogRecord& record, int32_t partition_count) {
  const RecordContext context{record.position, record.appended_at_ms, partition_count};
  if (!record.damaged()) return fold(context, record.value);
  // As the projector folds a record the log could not read (projections/projector_batch.cpp).
  apply(ledger_, context, std::string_view(), result_);
  result_.reason = RejectReason::damaged_record;
  result_.detail.assign(record.damage);
  chains_[context.position.partition.value].add(
      ChainLink{record.value, context.position, context.appended_at_ms, result_.outcome, result_.reason});
  record_result(context.position);
}

void Reference::fold(const RecordContext& context, std::string_view record) {
  apply(ledger_, context, record, result_);
  chains_[context.position.partition.value].add(
      ChainLink{record, context.position, context.appended_at_ms, result_.outcome, result_.reason});
  record_result(context.position);
}

void Reference::record_result(LogPosition position) {
  ++outcomes_[static_cast<std::size_t>(result_.outcome)];
  ++records_;
  if (result_.outcome == Outcome::rejected) rejects_[position] = result_.reason;
  record_outcomes_[position] = RecordOutcome{position,           result_.outcome,        result_.reason,
                                      result_.detail,     result_.amount_micros, result_.balance_after_micros,
                                      result_.available_micros, result_.hold_granted_micros,
                                      result_.hold_expires_at_ms};
  for (const Signal& s : result_.signals) signal_ids_[position.partition.value].push_back(s.id());
  const bool wrong_partition = result_.reason == RejectReason::wrong_partition;
  const OrgState* org = result_.org_id.empty() || wrong_partition ? nullptr : ledger_.find_org(result_.org_id);
  const bool in_history = org != nullptr && org->home_partition == position.partition;
  if (result_.outcome == Outcome::rejected) {
    const RejectPlacement placement = result_.org_id.empty() ? RejectPlacement::no_org
                                      : in_history           ? RejectPlacement::in_history
                                      : wrong_partition || org != nullptr ? RejectPlacement::other_partition
                                                                          : RejectPlacement::before_org;
    placements_[position] = {std::string(result_.org_id.str()), placement};
  }
  if (in_history) {
    history_[std::string(result_.org_id)].push_back(
        ExpectedHistory{result_.outcome, result_.reason, result_.amount_micros, org->balance_micros, position});
    if (result_.outcome == Outcome::applied && result_.envelope->body_type() == fb::Body::Usage) {
      debited_[std::string(result_.org_id)] += result_.debited_micros.value();
    }
  }
  // Holds the clock released: a hold_expired entry each, after the record's own.
  for (const FoldResult::ExpiredHold& expired : result_.expired_holds) {
    const OrgState* holder = ledger_.find_org(OrgIdView::trusted(expired.org_id));
    if (holder == nullptr || holder->home_partition != position.partition) continue;
    history_[expired.org_id].push_back(
        ExpectedHistory{Outcome::applied, RejectReason::none, Micros{}, holder->balance_micros, position});
  }
}

std::map<std::string, OrgState> Reference::orgs() const {
  std::map<std::string, OrgState> orgs;
  for (const auto& [id, state] : ledger_.orgs()) {
    OrgState copy = state;
    auto it = history_.find(id);
    copy.history_entries = it == history_.end() ? 0 : it->second.size();
    orgs.emplace(id, copy);
  }
  return orgs;
}

uint64_t test_seed(uint64_t fallback) {
  if (const char* env = std::getenv("TALLY_SEED"); env != nullptr && *env != '\0') {
    return std::strtoull(env, nullptr, 10);
  }
  return fallback;
}

}  // namespace tally::testkit
