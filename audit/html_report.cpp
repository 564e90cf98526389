#include "audit/html_report.h"

#include <algorithm>
#include <array>
#include <string>
#include <vector>

#include "audit/text_format.h"
#include "engine/calendar.h"
#include "engine/money.h"

namespace tally::audit {
namespace {

inline constexpr int64_t chart_left_px = 110;   // room for the balance labels
inline constexpr int64_t chart_top_px = 16;
inline constexpr int64_t chart_bottom_px = 36;  // room for the date labels
inline constexpr int64_t chart_right_px = 16;
inline constexpr int64_t day_ms = 86'400'000;

constexpr std::string_view page_style =
    "body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:2rem;color:#1d2433}"
    "h1{font-size:1.4rem;margin-bottom:.2rem}p.period{color:#5b6478;margin-top:0}"
    "table{border-collapse:collapse;margin:1rem 0;font-size:.85rem}"
    "th,td{border-bottom:1px solid #e3e6ee;padding:.25rem .6rem;text-align:left;vertical-align:top}"
    "th{background:#f5f6fa}td.num,th.num{text-align:right;font-variant-numeric:tabular-nums}"
    "tr.not-applied td{color:#8a90a0}tr.total td{font-weight:600}"
    "svg{background:#fbfbfd;border:1px solid #e3e6ee}.ok{color:#17803d}.bad{color:#b42318}";

struct Bounds {
  uint64_t rows = 0;
  uint64_t sequence_end = 0;  // one past the last in-range entry: later passes stop there
  int64_t first_ms = 0;
  int64_t last_ms = 0;        // highest time of an in-range entry; then both widened to whole UTC days
  // The balances the y-axis fits: every balance after the wallet first held credits (a new
  // wallet's leading zeros — opened, not yet funded — would pull a 25,000-credit axis down to 0),
  // and the opening balance when it is not zero.
  bool funded = false;
  int64_t min_balance = 0;
  int64_t max_balance = 0;
};

struct Column {
  bool used = false;
  int64_t first = 0, min = 0, max = 0, last = 0;
};

class Page : public ChunkedOutput {
 public:
  explicit Page(std::ostream& out) : ChunkedOutput(out) {}
  std::string& text() { return buffer(); }
  Page& raw(std::string_view s) {
    buffer().append(s);
    return *this;
  }
  Page& esc(std::string_view s) {
    append_html_text(buffer(), s);
    return *this;
  }
  Page& num(int64_t v) {
    buffer() += std::to_string(v);
    return *this;
  }
};

std::string period_text(const StatementOptions& o) {
  const std::string from = o.from_ms == INT64_MIN ? "the beginning" : iso_utc(o.from_ms);
  const std::string to = o.to_ms == INT64_MAX ? "now" : iso_utc(o.to_ms) + " (exclusive)";
  return "From " + from + " to " + to;
}

void reconciliation_row(Page& page, std::string_view item, std::string_view count, int64_t amount,
                        std::string_view paid = {}, std::string_view fee = {}, std::string_view tracked = {},
                        bool total = false) {
  page.raw(total ? "<tr class=\"total\"><td>" : "<tr><td>").esc(item).raw("</td><td class=\"num\">").esc(count);
  page.raw("</td><td class=\"num\">").esc(format_credits(amount)).raw("</td><td class=\"num\">").esc(paid);
  page.raw("</td><td class=\"num\">").esc(fee).raw("</td><td class=\"num\">").esc(tracked).raw("</td></tr>\n");
}

void write_reconciliation(Page& page, const StatementSummary& s) {
  page.raw("<h2>Reconciliation</h2>\n<table class=\"reconciliation\">\n<thead><tr><th>Item</th><th class=\"num\">"
           "Count</th><th class=\"num\">Credits</th><th class=\"num\">Paid (minor units)</th><th class=\"num\">Fees "
           "(minor units)</th><th class=\"num\">Tracked cost (credits)</th></tr></thead>\n<tbody>\n");
  reconciliation_row(page, "Opening balance", "", s.opening_balance_micros, {}, {}, {}, true);
  for (const auto* kind : {&s.purchases, &s.auto_refills}) {
    const std::string label = kind == &s.purchases ? "Purchases" : "Auto-refills";
    if (kind->empty()) reconciliation_row(page, label, "0", 0);
    for (const auto& [currency, t] : *kind) {
      reconciliation_row(page, label + " (" + currency + ")", std::to_string(t.count), t.credits_micros,
                         std::to_string(t.paid_minor) + " " + currency, std::to_string(t.fee_minor) + " " + currency);
    }
  }
  reconciliation_row(page, "Refunds", std::to_string(s.refunds.count), s.refunds.amount_micros);
  reconciliation_row(page, "Signup allocations", std::to_string(s.signup_allocations.count),
                     s.signup_allocations.amount_micros);
  reconciliation_row(page, "Adjustments", std::to_string(s.adjustments.count), s.adjustments.amount_micros);
  if (s.credit_grants.count > 0) {
    reconciliation_row(page, "Credit grants", std::to_string(s.credit_grants.count), s.credit_grants.amount_micros);
  }
  if (s.grant_expiries.count > 0) {
    reconciliation_row(page, "Expired grants (breakage)", std::to_string(s.grant_expiries.count),
                       s.grant_expiries.amount_micros);
  }
  if (s.grant_voids.count > 0) {
    reconciliation_row(page, "Voided grants", std::to_string(s.grant_voids.count), s.grant_voids.amount_micros);
  }
  for (const auto& [path, t] : s.usage) {
    reconciliation_row(page, "Usage (" + path + ")", std::to_string(t.count), -t.debited_micros, {}, {},
                       format_credits(t.tracked_cost_micros));
  }
  if (s.other_kinds.count > 0) {
    reconciliation_row(page, "Other", std::to_string(s.other_kinds.count), s.other_kinds.amount_micros);
  }
  if (s.other_movements_micros != 0) {
    reconciliation_row(page, "Entries outside the period, logged between entries inside it", "",
                       s.other_movements_micros);
  }
  reconciliation_row(page, "Closing balance", "", s.closing_balance_micros, {}, {}, {}, true);
  page.raw("</tbody>\n</table>\n<p>").num(static_cast<int64_t>(s.entries)).raw(" entries: ");
  page.num(static_cast<int64_t>(s.applied)).raw(" applied, ").num(static_cast<int64_t>(s.duplicates));
  page.raw(" duplicates, ").num(static_cast<int64_t>(s.conflicts)).raw(" conflicts, ");
  page.num(static_cast<int64_t>(s.rejected)).raw(" rejected. ");
  page.raw(s.reconciles() ? "<span class=\"ok\">Reconciles: opening balance plus movements equals the closing "
                            "balance.</span>"
                          : "<span class=\"bad\">Does not reconcile.</span>");
  page.raw("</p>\n");
}

int64_t scale(int64_t value, int64_t from_low, int64_t from_high, int64_t to_span) {
  if (from_high <= from_low) return to_span / 2;
  return static_cast<int64_t>(static_cast<__int128>(value - static_cast<__int128>(from_low)) * to_span /
                              (static_cast<__int128>(from_high) - from_low));
}

// 1, 2 or 5 times a power of ten (micros), the smallest at least `rough`.
int64_t nice_step(int64_t rough) {
  int64_t power = 1;
  while (power <= INT64_MAX / 10 && power * 10 <= rough) power *= 10;
  for (const int64_t m : {int64_t{1}, int64_t{2}, int64_t{5}, int64_t{10}}) {
    if (power <= INT64_MAX / m && power * m >= rough) return power * m;
  }
  return power;
}

int64_t floor_to(int64_t v, int64_t step) { return (v / step - (v % step < 0 ? 1 : 0)) * step; }
int64_t ceil_to(int64_t v, int64_t step) { return (v / step + (v % step > 0 ? 1 : 0)) * step; }

}  // namespace

AxisRange fit_balance_axis(int64_t low, int64_t high) {
  // A margin of a tenth of the range (of a hundredth of the value when the balance never moved,
  // and at least one credit), then round numbers: the line fills the chart, whatever the balance.
  const int64_t span = high - low;
  const int64_t magnitude = std::max(low < 0 ? -low : low, high < 0 ? -high : high);
  const int64_t margin = std::max<int64_t>(span > 0 ? span / 10 : magnitude / 100, 1'000'000);
  const int64_t step = nice_step(std::max<int64_t>((span + 2 * margin) / chart_y_ticks_max, 1));
  AxisRange range{floor_to(low - margin, step), ceil_to(high + margin, step), step};
  // A balance that never went below zero does not get a negative axis.
  if (low >= 0 && range.low < 0) range.low = 0;
  return range;
}

namespace {

// The daily usage (credits debited by applied usage) per bar: one UTC day, or several when the
// period has more days than the chart has room for bars.
struct UsageBars {
  int64_t first_day = 0;
  int64_t days_per_bar = 1;
  std::vector<int64_t> debited;
};

UsageBars usage_bars(const Bounds& b) {
  UsageBars bars;
  bars.first_day = utc_day(b.first_ms);
  const int64_t days = utc_day(b.last_ms) - bars.first_day + 1;
  const auto bars_max = static_cast<int64_t>(chart_columns_max / 4);  // bars at least 4 px wide
  bars.days_per_bar = (days + bars_max - 1) / bars_max;
  bars.debited.assign(static_cast<std::size_t>((days + bars.days_per_bar - 1) / bars.days_per_bar), 0);
  return bars;
}

void svg_open(Page& page, std::string_view id, int64_t height) {
  const auto width = static_cast<int64_t>(chart_columns_max);
  page.raw("<svg xmlns=\"http://www.w3.org/2000/svg\" role=\"img\" id=\"").esc(id).raw("\" width=\"")
      .num(chart_left_px + width + chart_right_px).raw("\" height=\"").num(chart_top_px + height + chart_bottom_px)
      .raw("\" viewBox=\"0 0 ").num(chart_left_px + width + chart_right_px).raw(" ")
      .num(chart_top_px + height + chart_bottom_px).raw("\"");
}

void time_labels(Page& page, const Bounds& b, int64_t height) {
  const auto width = static_cast<int64_t>(chart_columns_max);
  page.raw("<text x=\"").num(chart_left_px).raw("\" y=\"").num(chart_top_px + height + 22)
      .raw("\" font-size=\"11\">").esc(iso_utc(b.first_ms)).raw("</text>\n");
  page.raw("<text x=\"").num(chart_left_px + width).raw("\" y=\"").num(chart_top_px + height + 22)
      .raw("\" font-size=\"11\" text-anchor=\"end\">").esc(iso_utc(b.last_ms)).raw("</text>\n");
}

// The balance as a step line over a y-axis fitted to the balances (not from zero).
void draw_balance(Page& page, const StatementOptions& o, const StatementSummary& summary, const Bounds& b,
                  const std::vector<Column>& columns) {
  const auto width = static_cast<int64_t>(chart_columns_max);
  const auto height = static_cast<int64_t>(chart_height_px);
  const AxisRange axis = fit_balance_axis(b.min_balance, b.max_balance);
  svg_open(page, "balance-chart", height);
  page.raw(" data-y-min=\"").num(axis.low).raw("\" data-y-max=\"").num(axis.high).raw("\">\n<title>Balance of ")
      .esc(o.org_id).raw("</title>\n");
  // A balance off the axis (a new wallet's zero before its first credits) draws at the edge.
  const auto y = [&](int64_t v) {
    return chart_top_px + height - scale(std::clamp(v, axis.low, axis.high), axis.low, axis.high, height);
  };
  for (int64_t tick = axis.low; tick <= axis.high; tick += axis.step) {
    page.raw("<line x1=\"").num(chart_left_px).raw("\" y1=\"").num(y(tick)).raw("\" x2=\"").num(chart_left_px + width)
        .raw("\" y2=\"").num(y(tick)).raw(tick == 0 ? "\" stroke=\"#9aa1b2\" stroke-dasharray=\"4 3\"/>\n"
                                                    : "\" stroke=\"#e3e6ee\"/>\n");
    page.raw("<text x=\"").num(chart_left_px - 6).raw("\" y=\"").num(y(tick) + 4)
        .raw("\" font-size=\"11\" text-anchor=\"end\">").esc(format_credits(tick)).raw("</text>\n");
    if (axis.high - tick < axis.step) break;  // no overflow past the top
  }
  page.raw("<line x1=\"").num(chart_left_px).raw("\" y1=\"").num(chart_top_px).raw("\" x2=\"").num(chart_left_px)
      .raw("\" y2=\"").num(chart_top_px + height).raw("\" stroke=\"#9aa1b2\"/>\n");
  time_labels(page, b, height);
  // The balance as a step line: flat until the next column, then through its range to its last value.
  int64_t pen_y = y(summary.opening_balance_micros);
  page.raw("<path fill=\"none\" stroke=\"#2f5bd3\" stroke-width=\"1.5\" d=\"M").num(chart_left_px).raw(" ").num(pen_y);
  const auto vertical_to = [&](int64_t to) {
    if (to == pen_y) return;  // a column whose balance did not move draws nothing
    page.raw(" V").num(to);
    pen_y = to;
  };
  for (std::size_t i = 0; i < columns.size(); ++i) {
    const Column& c = columns[i];
    if (!c.used) continue;
    page.raw(" H").num(chart_left_px + static_cast<int64_t>(i));
    for (const int64_t v : {c.first, c.min, c.max, c.last}) vertical_to(y(v));
  }
  page.raw(" H").num(chart_left_px + width - 1).raw("\"/>\n</svg>\n");
}

// Credits used per day as bars from zero, on the balance chart's time axis.
void draw_usage(Page& page, const StatementOptions& o, const Bounds& b, const UsageBars& bars) {
  const auto width = static_cast<int64_t>(chart_columns_max);
  const auto height = static_cast<int64_t>(chart_usage_height_px);
  const int64_t top = std::max<int64_t>(1, *std::max_element(bars.debited.begin(), bars.debited.end()));
  page.raw("<h2>Usage per day</h2>\n");
  svg_open(page, "usage-chart", height);
  page.raw(" data-days-per-bar=\"").num(bars.days_per_bar).raw("\">\n<title>Credits used per day by ").esc(o.org_id)
      .raw("</title>\n");
  const int64_t span_ms = std::max<int64_t>(b.last_ms - b.first_ms, 1);
  for (std::size_t i = 0; i < bars.debited.size(); ++i) {
    const int64_t day = bars.first_day + static_cast<int64_t>(i) * bars.days_per_bar;
    const int64_t from_ms = std::max(day * day_ms, b.first_ms);
    const int64_t to_ms = std::min((day + bars.days_per_bar) * day_ms, b.last_ms + 1);
    const int64_t x0 = b.last_ms > b.first_ms ? scale(from_ms, b.first_ms, b.first_ms + span_ms, width - 1) : 0;
    const int64_t x1 = b.last_ms > b.first_ms ? scale(to_ms, b.first_ms, b.first_ms + span_ms, width - 1) : width - 1;
    const int64_t h = scale(bars.debited[i], 0, top, height);
    page.raw("<rect x=\"").num(chart_left_px + x0).raw("\" y=\"").num(chart_top_px + height - h).raw("\" width=\"")
        .num(std::max<int64_t>(x1 - x0 - 1, 1)).raw("\" height=\"").num(h).raw("\" fill=\"#7c93e0\" data-micros=\"")
        .num(bars.debited[i]).raw("\"><title>").esc(iso_utc(day * day_ms).substr(0, 10)).raw(": ")
        .esc(format_credits(bars.debited[i])).raw("</title></rect>\n");
  }
  page.raw("<line x1=\"").num(chart_left_px).raw("\" y1=\"").num(chart_top_px + height).raw("\" x2=\"")
      .num(chart_left_px + width).raw("\" y2=\"").num(chart_top_px + height).raw("\" stroke=\"#9aa1b2\"/>\n");
  for (const int64_t v : {top, int64_t{0}}) {
    page.raw("<text x=\"").num(chart_left_px - 6).raw("\" y=\"").num(chart_top_px + height - scale(v, 0, top, height) + 4)
        .raw("\" font-size=\"11\" text-anchor=\"end\">").esc(format_credits(v == 1 && top == 1 ? 0 : v)).raw("</text>\n");
  }
  time_labels(page, b, height);
  page.raw("</svg>\n");
}

// Pass 2: the chart's columns and the usage per day, then the two SVGs.
Status write_chart(Page& page, ViewReader& views, const StatementOptions& o, const StatementSummary& summary,
                   const Bounds& b) {
  const auto width = static_cast<int64_t>(chart_columns_max);
  page.raw("<h2>Balance over time</h2>\n");
  if (b.rows == 0) {
    svg_open(page, "balance-chart", static_cast<int64_t>(chart_height_px));
    page.raw(">\n<text x=\"").num(chart_left_px).raw("\" y=\"").num(chart_top_px + static_cast<int64_t>(chart_height_px) / 2)
        .raw("\" font-size=\"14\">No entries in this period.</text>\n</svg>\n");
    return Status::ok();
  }
  std::vector<Column> columns(chart_columns_max);
  UsageBars bars = usage_bars(b);
  int64_t clock = b.first_ms;  // x never runs backwards: a late-stamped entry draws at the latest time so far
  StatementSummary unused;
  Status status = scan_statement(
      views, o.org_id, o.from_ms, o.to_ms,
      [&](const HistoryEntry& e) {
        clock = std::max(clock, e.occurred_at_ms);
        const int64_t x = b.last_ms > b.first_ms ? scale(clock, b.first_ms, b.last_ms, width - 1) : 0;
        Column& c = columns[static_cast<std::size_t>(std::clamp<int64_t>(x, 0, width - 1))];
        const int64_t v = e.balance_after_micros.value();
        if (!c.used) c = Column{true, v, v, v, v};
        c.min = std::min(c.min, v);
        c.max = std::max(c.max, v);
        c.last = v;
        if (e.type == "usage" && e.outcome == Outcome::applied) {
          const int64_t bar = (utc_day(std::clamp(e.occurred_at_ms, b.first_ms, b.last_ms)) - bars.first_day) / bars.days_per_bar;
          bars.debited[static_cast<std::size_t>(std::clamp<int64_t>(bar, 0, static_cast<int64_t>(bars.debited.size()) - 1))] +=
              e.debited_micros.value();
        }
        return true;
      },
      unused, b.sequence_end);
  if (!status.is_ok()) return status;
  draw_balance(page, o, summary, b, columns);
  draw_usage(page, o, b, bars);
  return Status::ok();
}

void table_row(Page& page, const HistoryEntry& e) {
  page.raw(e.outcome == Outcome::applied ? "<tr>" : "<tr class=\"not-applied\">");
  page.raw("<td>").esc(iso_utc(e.occurred_at_ms)).raw("<br>").num(e.occurred_at_ms).raw("</td>");
  page.raw("<td>").esc(e.type).raw("</td><td>").esc(e.idempotency_key).raw("</td><td>").esc(outcome_name(e.outcome));
  if (e.reason != RejectReason::none) page.raw(" (").esc(reject_reason_name(e.reason)).raw(")");
  page.raw("</td><td class=\"num\">").esc(format_credits(e.amount_micros.value()));
  page.raw("</td><td class=\"num\">").esc(format_credits(e.balance_after_micros.value()));
  page.raw("</td><td>").esc(e.billing_path).raw("</td><td>").esc(e.model).raw("</td><td>").esc(e.member_id);
  page.raw("</td><td class=\"num\">");
  if (e.rate_card_version != 0) page.num(e.rate_card_version);
  page.raw("</td><td>").esc(e.payment_ref).raw("</td><td>").esc(e.reason_text);
  if (!e.detail.empty() && e.detail != e.reason_text) {
    if (!e.reason_text.empty()) page.raw("<br>");
    page.esc(e.detail);
  }
  for (const HistoryEntry::Funding& f : e.fundings) {  // SPEC §12: where a debit's credit came from
    page.raw("<br>").esc(f.grant_id.empty() ? std::string("overdraft") : "from " + f.grant_id).raw(" ");
    page.esc(format_credits(f.micros.value()));
  }
  page.raw("</td><td>").esc(e.position.to_string()).raw("</td></tr>\n");
}

}  // namespace

Result<StatementSummary> write_html_report(ViewReader& views, const StatementOptions& options, std::ostream& out) {
  // Pass 1: the summary and the chart's bounds; fixes the entries the other passes read.
  Bounds b;
  StatementSummary summary;
  Status status = scan_statement(
      views, options.org_id, options.from_ms, options.to_ms,
      [&](const HistoryEntry& e) {
        if (b.rows++ == 0) b.first_ms = b.last_ms = e.occurred_at_ms;
        b.last_ms = std::max(b.last_ms, e.occurred_at_ms);
        const int64_t v = e.balance_after_micros.value();
        if (!b.funded && v != 0) b.min_balance = b.max_balance = v;
        b.funded = b.funded || v != 0;
        b.min_balance = std::min(b.min_balance, v);
        b.max_balance = std::max(b.max_balance, v);
        if (!e.early) b.sequence_end = e.sequence + 1;
        return true;
      },
      summary);
  if (!status.is_ok()) return status;
  // The charts' time axis is whole UTC days, so the usage bars are days of equal width.
  if (b.rows > 0) {
    b.first_ms = utc_day(b.first_ms) * day_ms;
    b.last_ms = (utc_day(b.last_ms) + 1) * day_ms - 1;
  }
  if (summary.opening_balance_micros != 0) {
    b.min_balance = b.funded ? std::min(b.min_balance, summary.opening_balance_micros) : summary.opening_balance_micros;
    b.max_balance = b.funded ? std::max(b.max_balance, summary.opening_balance_micros) : summary.opening_balance_micros;
  }

  Page page(out);
  page.raw("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>Statement of ")
      .esc(options.org_id).raw("</title>\n<style>").raw(page_style).raw("</style>\n</head>\n<body>\n");
  page.raw("<h1>Statement of ").esc(options.org_id).raw("</h1>\n<p class=\"period\">").esc(period_text(options));
  page.raw(". Opening balance <strong>").esc(format_credits(summary.opening_balance_micros));
  page.raw("</strong>, closing balance <strong>").esc(format_credits(summary.closing_balance_micros));
  page.raw("</strong> credits.");
  if (!summary.org_found) page.raw(" This org has no history in these views.");
  page.raw("</p>\n");
  write_reconciliation(page, summary);
  if (Status s = write_chart(page, views, options, summary, b); !s.is_ok()) return s;

  if (!options.summary_only) {
    page.raw("<h2>Entries</h2>\n<table class=\"statement\">\n<thead><tr><th>Time (UTC, ms)</th><th>Type</th><th>"
             "Idempotency key</th><th>Outcome</th><th class=\"num\">Amount</th><th class=\"num\">Balance after</th>"
             "<th>Billing path</th><th>Model</th><th>Member</th><th class=\"num\">Rate card</th><th>Payment ref</th>"
             "<th>Note</th><th>Position</th></tr></thead>\n<tbody>\n");
    StatementSummary unused;
    status = scan_statement(
        views, options.org_id, options.from_ms, options.to_ms,
        [&](const HistoryEntry& e) {
          table_row(page, e);
          page.maybe_flush();
          return page.ok();
        },
        unused, b.sequence_end);
    if (!status.is_ok()) return status;
    page.raw("</tbody>\n</table>\n");
  }
  page.raw("<p class=\"period\">Every amount is in credits with six decimals (micro-credits), as recorded by the "
           "ledger.</p>\n</body>\n</html>\n");
  page.flush();
  out.flush();
  if (!page.ok()) return Status::error(Status::Code::io_error, "writing the statement failed");
  return summary;
}

}  // namespace tally::audit
