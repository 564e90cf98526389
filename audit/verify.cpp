#include "audit/verify.h"

#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <map>
#include <set>
#include <tuple>

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

// Keys, org ids and details come from the log and may hold any bytes (an altered record most of
// all): printable ASCII passes, everything else is shown as \xNN so a report never garbles a terminal.
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

class Locator {
 public:
  Locator(ViewReader& live, ViewReader& replayed, const std::vector<Offset>& end)
      : live_(live), replayed_(replayed), end_(end) {}

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
    const auto it = candidates_.find(partition.value);
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
  std::map<int32_t, Candidate> candidates_;
  std::map<LogPosition, RejectEntry> live_rejects_;
  std::map<LogPosition, RejectEntry> replayed_rejects_;
};

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

Status compare_whole_views(ViewReader& live, ViewReader& replayed, const std::map<std::string, Digest128>& replayed_digests,
                           VerifyReport& report) {
  auto live_digests = live.digests();
  if (!live_digests.is_ok()) return live_digests.status();
  for (const auto& [name, digest] : replayed_digests) {
    if (name == "all") continue;
    const auto it = live_digests.value().find(name);
    if (it == live_digests.value().end() || !(it->second == digest)) report.differing_views.push_back(name);
  }
  if (report.differing_views.empty()) return Status::ok();
  std::set<OrgId> ids;
  for (ViewReader* views : {&live, &replayed}) {
    auto listed = views->org_ids();
    if (!listed.is_ok()) return listed.status();
    ids.insert(listed.value().begin(), listed.value().end());
  }
  for (const OrgId& id : ids) {
    auto a = live.org(id);
    if (!a.is_ok()) return a.status();
    auto b = replayed.org(id);
    if (!b.is_ok()) return b.status();
    const bool same = a.value().has_value() == b.value().has_value() &&
                      (!a.value() || a.value()->state == b.value()->state);
    if (!same) report.differing_orgs.push_back(id.str());
    if (report.differing_orgs.size() == verify_orgs_listed_max) break;
  }
  return Status::ok();
}

std::string make_scratch_dir() {
  std::string pattern = (std::filesystem::temp_directory_path() / "tally-verify-XXXXXX").string();
  if (mkdtemp(pattern.data()) == nullptr) return {};
  return pattern;
}

// Removes a scratch directory this call created, whatever path verify() leaves by.
struct ScratchGuard {
  std::string dir;
  ~ScratchGuard() {
    std::error_code ignored;
    if (!dir.empty()) std::filesystem::remove_all(dir, ignored);
  }
};

// Fills the live side of every partition check from the snapshot of the live views.
Status record_live_partitions(const std::vector<PartitionView>& snapshot, VerifyReport& report,
                              std::vector<Offset>& live_next) {
  const std::size_t count = report.partitions.size();
  for (std::size_t p = 0; p < count; ++p) report.partitions[p].partition = PartitionId{static_cast<int32_t>(p)};
  for (const PartitionView& view : snapshot) {
    const auto p = static_cast<std::size_t>(view.partition.value);
    if (p >= count) {
      return Status::error(Status::Code::conflict, "the live views hold partition " + std::to_string(p) +
                                                       " but the log has " + std::to_string(count) +
                                                       " partitions: they were folded from another log");
    }
    PartitionCheck& check = report.partitions[p];
    check.live_next_offset = view.next_offset;
    check.live_records = view.records;
    check.live_chain = view.chain;
    live_next[p] = view.next_offset;
  }
  return Status::ok();
}

}  // namespace

bool VerifyReport::ok() const {
  for (const PartitionCheck& p : partitions) {
    if (!p.matches()) return false;
  }
  return differing_views.empty() && differing_orgs.empty();
}

Result<VerifyReport> verify(ViewReader& live, LogReader& log, const VerifyOptions& options) {
  auto snapshot = live.partitions();
  if (!snapshot.is_ok()) return snapshot.status();
  const auto count = static_cast<std::size_t>(log.partition_count());
  VerifyReport report;
  report.partitions.resize(count);
  std::vector<Offset> live_next(count), replay_end(count);
  if (Status s = record_live_partitions(snapshot.value(), report, live_next); !s.is_ok()) return s;
  for (std::size_t p = 0; p < count; ++p) {
    auto end = log.end_offset(PartitionId{static_cast<int32_t>(p)});
    if (!end.is_ok()) return end.status();
    report.partitions[p].log_end_offset = end.value();
    replay_end[p] = std::min(live_next[p], end.value());
  }

  ScratchGuard guard;
  std::string scratch = options.scratch_dir;
  if (scratch.empty()) {
    scratch = guard.dir = make_scratch_dir();
    if (scratch.empty()) return Status::error(Status::Code::io_error, "cannot create a scratch directory for the replay");
  }
  ReplayOptions replay_options = options.replay;
  replay_options.end_offsets = replay_end;
  auto replayed = replay(log, scratch, replay_options);
  if (!replayed.is_ok()) return replayed.status();
  report.events = replayed.value().events;
  report.elapsed_s = replayed.value().elapsed_s;

  std::set<int32_t> differing;
  for (std::size_t p = 0; p < count; ++p) {
    PartitionCheck& check = report.partitions[p];
    check.replayed_records = replayed.value().partitions[p].records;
    check.replayed_chain = replayed.value().partitions[p].chain;
    if (!check.matches()) differing.insert(static_cast<int32_t>(p));
  }
  auto replayed_views = ViewReader::open(scratch);
  if (!replayed_views.is_ok()) return replayed_views.status();
  ViewReader& other = *replayed_views.value();

  if (!differing.empty()) {
    Locator locator(live, other, replay_end);
    auto orgs = orgs_in(live, other, differing);
    if (!orgs.is_ok()) return orgs.status();
    for (const OrgId& org : orgs.value()) {
      if (Status s = locator.compare_org(org); !s.is_ok()) return s;
    }
    if (Status s = locator.compare_rejects(); !s.is_ok()) return s;
    for (int32_t p : differing) {
      report.partitions[static_cast<std::size_t>(p)].first_difference = locator.first_difference(PartitionId{p});
    }
  }

  // Whole-view digests mean something only if the live views are still at the snapshot.
  auto after = live.partitions();
  if (!after.is_ok()) return after.status();
  report.live_moved = after.value().size() != snapshot.value().size();
  for (std::size_t i = 0; !report.live_moved && i < after.value().size(); ++i) {
    report.live_moved = after.value()[i].next_offset != snapshot.value()[i].next_offset;
  }
  if (!report.live_moved) {
    if (Status s = compare_whole_views(live, other, replayed.value().digests, report); !s.is_ok()) return s;
  }
  return report;
}

std::string format_verify_report(const VerifyReport& report) {
  std::string out;
  std::size_t failed = 0;
  for (const PartitionCheck& p : report.partitions) {
    const std::string name = "partition " + std::to_string(p.partition.value);
    if (p.matches()) {
      out += name + " ok: " + std::to_string(p.live_records) + " records, chain " + p.live_chain.to_hex() + "\n";
      continue;
    }
    ++failed;
    out += name + " DIFFERS: live views chain " + p.live_chain.to_hex() + " over " + std::to_string(p.live_records) +
           " records, replay of the log " + p.replayed_chain.to_hex() + " over " + std::to_string(p.replayed_records) +
           " records\n";
    if (p.log_truncated()) {
      out += "  the log ends at offset " + std::to_string(p.log_end_offset.value) +
             " but the live views applied it up to offset " + std::to_string(p.live_next_offset.value) +
             ": records are missing from the log\n";
    }
    if (p.first_difference) {
      const FirstDifference& d = *p.first_difference;
      out += "  first differing event: partition " + std::to_string(d.position.partition.value) + " offset " +
             std::to_string(d.position.offset.value) + " org \"" + printable(d.org_id) + "\" idempotency key \"" +
             printable(d.idempotency_key) + "\"\n";
      out += "    live views: " + d.live + "\n";
      out += "    log now:    " + d.replayed + "\n";
    } else if (!p.log_truncated()) {
      out += "  no history or reject entry differs: the altered bytes are ones no view keeps (source, "
             "correlation id, unused encoding bytes), somewhere in offsets [0, " +
             std::to_string(p.live_next_offset.value) + ")\n";
    }
  }
  for (const std::string& view : report.differing_views) out += "view " + view + " DIFFERS\n";
  for (const std::string& org : report.differing_orgs) out += "  org \"" + printable(org) + "\" state differs\n";
  if (report.live_moved) {
    out += "note: the live projector committed during verification; chains and histories were compared at "
           "the snapshot, whole-view digests were not\n";
  }
  if (report.ok()) {
    out += "verify: ok (" + std::to_string(report.events) + " events replayed, views match the log)\n";
  } else {
    out += "verify: FAILED (" + std::to_string(failed) + " partition(s) and " +
           std::to_string(report.differing_views.size()) + " view(s) differ)\n";
  }
  return out;
}

}  // namespace tally::audit
