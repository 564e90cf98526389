// A ViewReader whose every read fails with one Status: a store that cannot be read, for the tests
// and fuzz targets of what reads the views (test-only, header-only; the product never uses it).
// The reads with a default in views.h keep it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "projections/views.h"

namespace tally {

class FailingViews final : public ViewReader {
 public:
  explicit FailingViews(Status status) : status_(std::move(status)) {}

  Result<std::optional<OrgView>> org(OrgIdView) override { return status_; }
  Result<std::vector<OrgId>> org_ids() override { return status_; }
  Result<std::vector<MemberView>> members(OrgIdView) override { return status_; }
  Result<HistoryPage> history(const HistoryQuery&) override { return status_; }
  Status for_each_history(OrgIdView, int64_t, int64_t, const std::function<bool(const HistoryEntry&)>&) override {
    return status_;
  }
  Result<std::vector<UsageRollup>> usage(OrgIdView, int64_t, int64_t) override { return status_; }
  Result<std::vector<RejectEntry>> rejects(std::size_t, std::optional<LogPosition>) override { return status_; }
  Result<std::vector<OutboxEntry>> outbox(uint64_t, std::size_t) override { return status_; }
  Result<std::vector<PartitionView>> partitions() override { return status_; }
  Result<ProjectionStats> stats() override { return status_; }
  Result<std::map<std::string, Digest128>> digests() override { return status_; }

 private:
  Status status_;
};

}  // namespace tally
