#include "audit/progress.h"

#include <algorithm>

namespace tally::audit {
namespace {

// Tenths of a percent, from integers: 1000 when the total is 0 (nothing to do is done).
uint64_t permille(const ReplayProgress& p) {
  if (p.events_total == 0) return 1000;
  return std::min<uint64_t>(1000, p.events_done * 1000 / p.events_total);
}

std::string percent(const ReplayProgress& p) {
  const uint64_t pm = permille(p);
  return std::to_string(pm / 10) + "." + std::to_string(pm % 10) + "%";
}

uint64_t rate(const ReplayProgress& p) {
  return p.elapsed_s > 0 ? static_cast<uint64_t>(static_cast<double>(p.events_done) / p.elapsed_s) : 0;
}

// Seconds left at the current rate; -1 if unknown.
int64_t eta_s(const ReplayProgress& p) {
  if (p.events_done >= p.events_total) return 0;
  const uint64_t r = rate(p);
  if (r == 0) return -1;
  return static_cast<int64_t>((p.events_total - p.events_done + r - 1) / r);
}

std::string clock_text(int64_t seconds) {
  if (seconds < 0) return "?";
  const int64_t h = seconds / 3600, m = seconds / 60 % 60, s = seconds % 60;
  std::string out = h > 0 ? std::to_string(h) + ":" : "";
  out += (h > 0 && m < 10 ? "0" : "") + std::to_string(m) + ":";
  return out + (s < 10 ? "0" : "") + std::to_string(s);
}

}  // namespace

std::string format_progress_bar(const ReplayProgress& progress, std::size_t width) {
  const auto filled = static_cast<std::size_t>(permille(progress) * width / 1000);
  std::string bar = "[" + std::string(filled, '#') + std::string(width - filled, '-') + "] ";
  std::string pct = percent(progress);
  bar += std::string(pct.size() < 6 ? 6 - pct.size() : 0, ' ') + pct;
  bar += "  " + std::to_string(progress.events_done) + "/" + std::to_string(progress.events_total) + " events  ";
  bar += std::to_string(rate(progress)) + " events/s  ETA " + clock_text(eta_s(progress));
  return bar;
}

std::string format_progress_line(const ReplayProgress& progress) {
  const int64_t eta = eta_s(progress);
  return "replay: " + std::to_string(progress.events_done) + " of " + std::to_string(progress.events_total) +
         " events (" + percent(progress) + "), " + std::to_string(rate(progress)) + " events/s, ETA " +
         (eta < 0 ? std::string("unknown") : std::to_string(eta) + " s");
}

void ProgressReporter::update(const ReplayProgress& progress) {
  const auto now = std::chrono::steady_clock::now();
  const int interval_ms = terminal_ ? progress_terminal_interval_ms : progress_plain_interval_ms;
  if (printed_ && now - last_ < std::chrono::milliseconds(interval_ms)) return;
  last_ = now;
  print(progress);
}

void ProgressReporter::finish(const ReplayProgress& progress) {
  // A plain line already saying where we ended is not repeated; the bar is always redrawn.
  if (terminal_ || !printed_ || last_events_ != progress.events_done) print(progress);
  if (terminal_) std::fputc('\n', out_);
  std::fflush(out_);
}

void ProgressReporter::print(const ReplayProgress& progress) {
  printed_ = true;
  last_events_ = progress.events_done;
  if (terminal_) {
    // \r and erase-to-end-of-line: a shorter line leaves no tail of the previous one.
    std::fprintf(out_, "\r%s\x1b[K", format_progress_bar(progress).c_str());
  } else {
    std::fprintf(out_, "%s\n", format_progress_line(progress).c_str());
  }
  std::fflush(out_);
}

}  // namespace tally::audit
