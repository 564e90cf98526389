// Progress of a replay for a person watching: a bar redrawn in place (\r) on a terminal, plain
// periodic lines otherwise (logs, CI). Written to a FILE* the caller owns (the CLI uses stderr, so
// stdout carries only the report).
#pragma once

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <string>

#include "audit/replay.h"

namespace tally::audit {

inline constexpr int progress_terminal_interval_ms = 100;  // redraws of the bar at most this often
inline constexpr int progress_plain_interval_ms = 5'000;   // plain lines at most this often
inline constexpr std::size_t progress_bar_width = 30;      // characters between the brackets

// "[#########---------------------]  31.2%  624000/2000000 events  1052631 events/s  ETA 0:01"
std::string format_progress_bar(const ReplayProgress& progress, std::size_t width = progress_bar_width);
// "replay: 624000 of 2000000 events (31.2%), 1052631 events/s, ETA 1 s"
std::string format_progress_line(const ReplayProgress& progress);

// Throttled writer of either form. Not thread-safe (one replay, one thread).
class ProgressReporter {
 public:
  ProgressReporter(std::FILE* out, bool terminal) : out_(out), terminal_(terminal) {}
  // Prints if the interval has passed since the last print (always the first time).
  void update(const ReplayProgress& progress);
  // Prints the final state and, on a terminal, ends the bar's line.
  void finish(const ReplayProgress& progress);

 private:
  void print(const ReplayProgress& progress);
  std::FILE* out_;
  bool terminal_;
  bool printed_ = false;
  uint64_t last_events_ = 0;  // events_done of the last print
  std::chrono::steady_clock::time_point last_{};
};

}  // namespace tally::audit
