#include "audit/first_difference.h"

#include <algorithm>
#include <optional>
#include <tuple>
#include <utility>

#include "engine/money.h"

namespace tally::audit {
namespace {

bool same_entry(const HistoryEntry& a, const HistoryEntry& b) {
  const auto fields = [](const HistoryEntry& e) {
    return std::tie(e.sequence, e.type, e.idempotency_key, e.outcome, e.reason, e.detail, e.amount_micros,
                    e.balance_after_micros, e.occurred_at_ms, e.position, e.rate_card_version, e.tracked_cost_micros,
                    e.debited_micros, e.billing_path, e.model, e.member_id, e.workspace, e.payment_ref, e.paid_minor,
                    e.fee_minor, e.currency, e.reason_text);
  };
  return fields(a) == fields(b);
}

bool same_reject(const RejectEntry& a, const RejectEntry& b) {
  return std::tie(a.position, a.org_id, a.idempotency_key, a.reason, a.detail) ==
         std::tie(b.position, b.org_id, b.idempotency_key, b.reason, b.detail);
}

std::string signed_credits(int64_t micros) { return (micros > 0 ? "+" : "") + format_credits(micros); }

std::string describe(const HistoryEntry& e) {
  std::string out = e.type + " key \"" + printable(e.idempotency_key) + "\" " + outcome_name(e.outcome);
  if (e.outcome == Outcome::rejected) out += std::string("(") + reject_reason_name(e.reason) + ")";
  out += " amount " + signed_credits(e.amount_micros.value()) + " balance_after " +
         format_credits(e.balance_after_micros.value());
  out += " at " + std::to_string(e.occurred_at_ms);
  if (!e.detail.empty()) out += " (" + printable(e.detail) + ")";
  return out;
}

std::string describe(const RejectEntry& r) {
  std::string out = std::string("rejected(") + reject_reason_name(r.reason) + ")";
  if (!r.org_id.empty()) out += " org \"" + printable(r.org_id) + "\"";
  if (!r.idempotency_key.empty()) out += " key \"" + printable(r.idempotency_key) + "\"";
  if (!r.detail.empty()) out += ": " + printable(r.detail);
  return out;
}

// Pages through one org's history in a ViewReader, ending early at the first entry at or past
// `end` of its partition (the live snapshot).
class HistoryCursor {
 public:
  HistoryCursor(ViewReader& views, const OrgId& org, const std::vector<Offset>& end)
      : views_(views), end_(end) {
    query_.org_id = org;
    query_.limit = verify_history_page_entries;
  }
  // The current entry, or null at the end. Errors of ViewReader::history.
  Result<const HistoryEntry*> current() {
    if (index_ == page_.entries.size()) {
      if (done_) return static_cast<const HistoryEntry*>(nullptr);
      auto page = views_.history(query_);
      if (!page.is_ok()) return page.status();
      page_ = std::move(page.value());
      index_ = 0;
      done_ = !page_.next_sequence.has_value();
      if (!done_) query_.after_sequence = *page_.next_sequence;
      if (page_.entries.empty()) return static_cast<const HistoryEntry*>(nullptr);
    }
    const HistoryEntry& e = page_.entries[index_];
    const auto p = static_cast<std::size_t>(e.position.partition.value);
    if (p >= end_.size() || e.position.offset >= end_[p]) return static_cast<const HistoryEntry*>(nullptr);
    return &e;
  }
  void advance() { ++index_; }

 private:
  ViewReader& views_;
  const std::vector<Offset>& end_;
  HistoryQuery query_;
  HistoryPage page_;
  std::size_t index_ = 0;
  bool done_ = false;
};

// The earliest differing position found so far in one partition, and what each side says there.
struct Candidate {
  LogPosition position;
  std::optional<HistoryEntry> live;
  std::optional<HistoryEntry> replayed;
  std::string org_id;
};

// Finds, per differing partition, the first record whose result the views record differently,
// and describes the record where the chain first breaks (`broken`, one per partition).
class Locator {
 public:
  Locator(ViewReader& live, ViewReader& replayed, const std::vector<Offset>& end,
          const std::map<int32_t, LogPosition>& broken)
      : live_(live), replayed_(replayed), end_(end), broken_(broken) {}

  // Compares the org's history on both sides; offers its first mismatch.
  Status compare_org(const OrgId& org) {
    HistoryCursor a(live_, org, end_), b(replayed_, org, end_);
    for (;;) {
      auto x = a.current();
      if (!x.is_ok()) return x.status();
      auto y = b.current();
      if (!y.is_ok()) return y.status();
      const HistoryEntry* l = x.value();
      const HistoryEntry* r = y.value();
      if (l == nullptr && r == nullptr) return Status::ok();
      remember_if_broken(org, l, broken_live_);
      remember_if_broken(org, r, broken_replayed_);
      if (l && r && same_entry(*l, *r)) {
        a.advance();
        b.advance();
        continue;
      }
      // The smaller position is where the two folds first disagree for this org.
      const LogPosition at = !r || (l && l->position <= r->position) ? l->position : r->position;
      Candidate c{at, std::nullopt, std::nullopt, org.str()};
      if (l && l->position == at) c.live = *l;
      if (r && r->position == at) c.replayed = *r;
      offer(std::move(c));
      return Status::ok();
    }
  }

  // Compares the rejects (dead letters) on both sides; offers every mismatch, keeps both maps for
  // describing candidates later.
  Status compare_rejects() {
    for (auto [views, out] : {std::pair{&live_, &live_rejects_}, std::pair{&replayed_, &replayed_rejects_}}) {
      auto rejects = views->rejects(verify_rejects_compared_max);
      if (!rejects.is_ok()) return rejects.status();
      for (RejectEntry& r : rejects.value()) {
        const auto p = static_cast<std::size_t>(r.position.partition.value);
        if (p < end_.size() && r.position.offset < end_[p]) out->emplace(r.position, std::move(r));
      }
    }
    std::set<LogPosition> positions;
    for (const auto& [position, r] : live_rejects_) positions.insert(position);
    for (const auto& [position, r] : replayed_rejects_) positions.insert(position);
    for (const LogPosition& position : positions) {
      const auto l = live_rejects_.find(position);
      const auto r = replayed_rejects_.find(position);
      if (l != live_rejects_.end() && r != replayed_rejects_.end() && same_reject(l->second, r->second)) continue;
      offer(Candidate{position, std::nullopt, std::nullopt, {}});
    }
    return Status::ok();
  }

  std::optional<FirstDifference> first_difference(PartitionId partition) const {
    const auto broken = broken_.find(partition.value);
    const auto it = candidates_.find(partition.value);
    if (broken != broken_.end() && (it == candidates_.end() || it->second.position != broken->second)) {
      return at_broken_record(broken->second);
    }
    if (it == candidates_.end()) return std::nullopt;
    const Candidate& c = it->second;
    FirstDifference d;
    d.position = c.position;
    d.live = side_text(c.live, live_rejects_, c.position);
    d.replayed = side_text(c.replayed, replayed_rejects_, c.position);
    // Name the event as the live views knew it (the log may have been altered), else as it is now.
    const auto name_from = [&](const std::optional<HistoryEntry>& entry, const auto& rejects) {
      if (!d.idempotency_key.empty()) return;
      if (entry) {
        d.org_id = c.org_id;
        d.idempotency_key = entry->idempotency_key;
      } else if (const auto r = rejects.find(c.position); r != rejects.end() && !r->second.idempotency_key.empty()) {
        d.org_id = r->second.org_id;
        d.idempotency_key = r->second.idempotency_key;
      }
    };
    name_from(c.live, live_rejects_);
    name_from(c.replayed, replayed_rejects_);
    if (d.org_id.empty()) d.org_id = c.org_id;
    return d;
  }

 private:
  using Seen = std::map<LogPosition, std::pair<std::string, HistoryEntry>>;  // org and entry

  void remember_if_broken(const OrgId& org, const HistoryEntry* entry, Seen& seen) {
    if (entry == nullptr) return;
    const auto broken = broken_.find(entry->position.partition.value);
    if (broken != broken_.end() && broken->second == entry->position) seen.emplace(entry->position, std::pair{org.str(), *entry});
  }

  // The record where the chain breaks, when no view entry of it differs (the first one that does
  // comes later, or never): what each side's views hold for it.
  FirstDifference at_broken_record(LogPosition position) const {
    FirstDifference d;
    d.position = position;
    const auto side = [&](const Seen& seen, const std::map<LogPosition, RejectEntry>& rejects) -> std::string {
      if (const auto e = seen.find(position); e != seen.end()) {
        if (d.idempotency_key.empty()) {
          d.org_id = e->second.first;
          d.idempotency_key = e->second.second.idempotency_key;
        }
        return describe(e->second.second);
      }
      if (const auto r = rejects.find(position); r != rejects.end()) {
        if (d.idempotency_key.empty()) {
          d.org_id = r->second.org_id;
          d.idempotency_key = r->second.idempotency_key;
        }
        return describe(r->second);
      }
      return "nothing: no history entry and no reject at this position";
    };
    d.live = side(broken_live_, live_rejects_);
    d.replayed = side(broken_replayed_, replayed_rejects_);
    d.views_agree = d.live == d.replayed;
    return d;
  }

  void offer(Candidate c) {
    const int32_t p = c.position.partition.value;
    auto it = candidates_.find(p);
    if (it == candidates_.end()) {
      candidates_.emplace(p, std::move(c));
    } else if (c.position < it->second.position) {
      it->second = std::move(c);
    } else if (c.position == it->second.position) {
      Candidate& kept = it->second;  // the same record seen from another view: keep what we learn
      if (!kept.live) kept.live = std::move(c.live);
      if (!kept.replayed) kept.replayed = std::move(c.replayed);
      if (kept.org_id.empty()) kept.org_id = std::move(c.org_id);
    }
  }

  static std::string side_text(const std::optional<HistoryEntry>& entry,
                               const std::map<LogPosition, RejectEntry>& rejects, LogPosition position) {
    if (entry) return describe(*entry);
    const auto r = rejects.find(position);
    if (r != rejects.end()) return describe(r->second);
    return "nothing: no history entry of this org and no reject at this position (the record may now name "
           "another org)";
  }

  ViewReader& live_;
  ViewReader& replayed_;
  const std::vector<Offset>& end_;
  const std::map<int32_t, LogPosition>& broken_;
  Seen broken_live_, broken_replayed_;
  std::map<int32_t, Candidate> candidates_;
  std::map<LogPosition, RejectEntry> live_rejects_;
  std::map<LogPosition, RejectEntry> replayed_rejects_;
};

// The first record of `partition` whose chain mark differs between the live views (up to
// `live_end`) and the replay (up to `replayed_end`), or that one side has and the other has not:
// where the partition's hash chain first breaks. nullopt if every mark agrees.
Result<std::optional<LogPosition>> first_broken_record(ViewReader& live, ViewReader& replayed, PartitionId partition,
                                                       Offset live_end, Offset replayed_end) {
  std::vector<ChainMark> a, b;
  std::size_t i = 0, j = 0;
  Offset from{0};
  const auto refill = [&](ViewReader& views, std::vector<ChainMark>& marks, std::size_t& at, Offset end) -> Status {
    if (at < marks.size()) return Status::ok();
    auto page = views.chain_marks(partition, from, verify_chain_page_marks);
    if (!page.is_ok()) return page.status();
    marks = std::move(page.value());
    std::erase_if(marks, [&](const ChainMark& m) { return m.offset >= end; });
    at = 0;
    return Status::ok();
  };
  for (;;) {
    if (Status s = refill(live, a, i, live_end); !s.is_ok()) return s;
    if (Status s = refill(replayed, b, j, replayed_end); !s.is_ok()) return s;
    const bool live_done = i == a.size(), replayed_done = j == b.size();
    if (live_done && replayed_done) return std::optional<LogPosition>();
    if (live_done || replayed_done || a[i].offset != b[j].offset || a[i].mark != b[j].mark) {
      const Offset at = live_done ? b[j].offset : replayed_done ? a[i].offset : std::min(a[i].offset, b[j].offset);
      return std::optional<LogPosition>(LogPosition{partition, at});
    }
    from = Offset{a[i].offset.value + 1};
    ++i;
    ++j;
  }
}

// Orgs of either side whose home partition is in `partitions`.
Result<std::vector<OrgId>> orgs_in(ViewReader& live, ViewReader& replayed, const std::set<int32_t>& partitions) {
  std::set<OrgId> ids;
  for (ViewReader* views : {&live, &replayed}) {
    auto listed = views->org_ids();
    if (!listed.is_ok()) return listed.status();
    for (OrgId& id : listed.value()) ids.insert(std::move(id));
  }
  std::vector<OrgId> selected;
  for (const OrgId& id : ids) {
    bool in = false;
    for (ViewReader* views : {&live, &replayed}) {
      auto org = views->org(id);
      if (!org.is_ok()) return org.status();
      if (org.value() && partitions.count(org.value()->state.home_partition.value)) in = true;
    }
    if (in) selected.push_back(id);
  }
  return selected;
}

}  // namespace

std::string printable(std::string_view bytes) {
  static constexpr char hex[] = "0123456789abcdef";
  std::string out;
  for (char c : bytes) {
    const auto u = static_cast<unsigned char>(c);
    if (u >= 0x20 && u < 0x7f && c != '\\' && c != '"') {
      out.push_back(c);
    } else {
      out += "\\x";
      out.push_back(hex[u >> 4]);
      out.push_back(hex[u & 0xf]);
    }
  }
  return out;
}

Result<std::map<int32_t, FirstDifference>> locate_first_differences(ViewReader& live, ViewReader& replayed,
                                                                    const std::set<int32_t>& differing,
                                                                    const std::vector<Offset>& live_next,
                                                                    const std::vector<Offset>& replay_end) {
  std::map<int32_t, LogPosition> broken;
  for (int32_t p : differing) {
    const auto i = static_cast<std::size_t>(p);
    auto at = first_broken_record(live, replayed, PartitionId{p}, live_next[i], replay_end[i]);
    if (!at.is_ok()) return at.status();
    if (at.value()) broken.emplace(p, *at.value());
  }
  Locator locator(live, replayed, replay_end, broken);
  auto orgs = orgs_in(live, replayed, differing);
  if (!orgs.is_ok()) return orgs.status();
  for (const OrgId& org : orgs.value()) {
    if (Status s = locator.compare_org(org); !s.is_ok()) return s;
  }
  if (Status s = locator.compare_rejects(); !s.is_ok()) return s;
  std::map<int32_t, FirstDifference> found;
  for (int32_t p : differing) {
    if (auto d = locator.first_difference(PartitionId{p})) found.emplace(p, std::move(*d));
  }
  return found;
}

}  // namespace tally::audit
