#include "audit/verify.h"

#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <map>
#include <set>
#include <tuple>
#include <vector>

#include "audit/first_difference.h"

namespace tally::audit {
namespace {

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
    auto found = locate_first_differences(live, other, differing, live_next, replay_end);
    if (!found.is_ok()) return found.status();
    for (auto& [p, d] : found.value()) report.partitions[static_cast<std::size_t>(p)].first_difference = std::move(d);
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
      if (d.views_agree) {
        out += "    the chain breaks at this record, but the views record the same for it: the altered bytes are "
               "ones no view keeps (source, correlation id, unused encoding bytes, its append time)\n";
      }
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
