// Prometheus text for the projector's own counters (projections/projector.h), for
// MetricsSource::append_prometheus: batch commit latency (sum, count, last, max), map growth and
// batch retries. Header-only use of ProjectorMetrics; the caller reads Projector::metrics().
#pragma once

#include <string>

#include "projections/projector.h"

namespace tally::api {

void append_projector_metrics(const ProjectorMetrics& metrics, std::string& out);

}  // namespace tally::api
