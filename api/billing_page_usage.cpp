// The billing page's usage (30 days of bars, by model, by member) and transaction history.
#include <algorithm>

#include "api/billing_page.h"
#include "api/html_util.h"
#include "engine/money.h"

namespace tally::api {
namespace {

constexpr int64_t day_ms = 86'400'000;
// The bar chart's geometry (SVG user units; the chart scales to the width of its card).
constexpr int64_t bars_left = 120, bars_top = 12, bars_height = 150, bars_bottom = 40, bar_slot = 20, bar_width = 14;

void bar_chart(Html& h, const BillingUsage& u) {
  const auto days = static_cast<int64_t>(u.debited_by_day.size());
  const int64_t width = bars_left + days * bar_slot + 8, height = bars_top + bars_height + bars_bottom;
  const int64_t top = std::max<int64_t>(1, *std::max_element(u.debited_by_day.begin(), u.debited_by_day.end()));
  h.raw("<svg id=\"usage-chart\" role=\"img\" aria-labelledby=\"usage-chart-t\" viewBox=\"0 0 ").num(width).raw(" ");
  h.num(height).raw("\">\n<title id=\"usage-chart-t\">Credits used per day, ");
  h.esc(utc_date(u.from_ms)).raw(" to ").esc(utc_date(u.to_ms)).raw("</title>\n");
  const int64_t base = bars_top + bars_height;
  h.raw("<line x1=\"").num(bars_left).raw("\" y1=\"").num(base).raw("\" x2=\"").num(width - 4).raw("\" y2=\"").num(base);
  h.raw("\" stroke=\"#9aa1b2\"/>\n");
  for (const int64_t v : {top, int64_t{0}}) {
    const int64_t y = base - (v == 0 ? 0 : bars_height);
    h.raw("<text x=\"").num(bars_left - 6).raw("\" y=\"").num(y + 4).raw("\" font-size=\"11\" text-anchor=\"end\" "
                                                                          "fill=\"#5b6478\">");
    h.esc(display_credits(v == 0 ? 0 : top)).raw("</text>\n");
  }
  for (int64_t i = 0; i < days; ++i) {
    const int64_t v = u.debited_by_day[static_cast<std::size_t>(i)];
    const auto bar = static_cast<int64_t>(static_cast<__int128>(v) * bars_height / top);
    const std::string date = utc_date(u.from_ms + i * day_ms);
    h.raw("<rect x=\"").num(bars_left + i * bar_slot + (bar_slot - bar_width) / 2).raw("\" y=\"").num(base - bar);
    h.raw("\" width=\"").num(bar_width).raw("\" height=\"").num(bar).raw("\" fill=\"#2f5bd3\" data-day=\"").esc(date);
    h.raw("\" data-micros=\"").num(v).raw("\"><title>").esc(date).raw(": ").esc(display_credits(v));
    h.raw(" credits</title></rect>\n");
    if (i == 0 || i == days - 1 || i == days / 2) {
      const std::string_view anchor = i == 0 ? "start" : i == days - 1 ? "end" : "middle";
      const int64_t x = bars_left + i * bar_slot + (i == 0 ? 0 : i == days - 1 ? bar_slot : bar_slot / 2);
      h.raw("<text x=\"").num(x).raw("\" y=\"").num(base + 28).raw("\" font-size=\"11\" text-anchor=\"").esc(anchor);
      h.raw("\" fill=\"#5b6478\">").esc(date.substr(5)).raw("</text>\n");
    }
  }
  h.raw("</svg>\n");
}

void totals_table(Html& h, std::string_view id, std::string_view caption, std::string_view column,
                  const std::map<std::string, int64_t>& totals) {
  h.raw("<h3 id=\"").esc(id).raw("-h\">").esc(caption).raw("</h3>\n");
  if (totals.empty()) {
    h.raw("<p class=\"note\">No usage.</p>\n");
    return;
  }
  h.raw("<div class=\"scroll\"><table id=\"").esc(id).raw("\" aria-labelledby=\"").esc(id).raw("-h\">\n<thead><tr>");
  h.raw("<th scope=\"col\">").esc(column).raw("</th><th scope=\"col\" class=\"num\">Credits</th></tr></thead>\n<tbody>\n");
  for (const auto& [key, micros] : totals) {
    h.raw("<tr><th scope=\"row\">").esc(key).raw("</th><td class=\"num\" data-key=\"").esc(key).raw("\" data-micros=\"");
    h.num(micros).raw("\">").esc(display_credits(micros)).raw("</td></tr>\n");
  }
  h.raw("</tbody>\n</table></div>\n");
}

std::string history_detail(const HistoryEntry& e) {
  std::string out;
  const auto add = [&out](std::string_view label, const std::string& value) {
    if (value.empty()) return;
    if (!out.empty()) out += " · ";
    out.append(label).append(value);
  };
  add("member ", e.member_id);
  add("model ", e.model);
  add("payment ", e.payment_ref);
  add("", e.reason_text);
  if (e.outcome != Outcome::applied) add("", std::string(outcome_name(e.outcome)) + (e.detail.empty() ? "" : ": " + e.detail));
  return out;
}

}  // namespace

void render_usage_section(const BillingPageData& d, std::string& out) {
  Html h;
  const BillingUsage& u = d.usage;
  h.raw("<section class=\"wide\" aria-labelledby=\"usage-h\" id=\"usage\" data-from=\"").num(u.from_ms);
  h.raw("\" data-to=\"").num(u.to_ms).raw("\">\n<h2 id=\"usage-h\">Usage, last 30 days</h2>\n");
  h.raw("<p>Total <strong id=\"usage-total\" data-micros=\"").num(u.debited_total).raw("\">");
  h.esc(display_credits(u.debited_total)).raw("</strong> credits from ").esc(utc_date(u.from_ms)).raw(" to ");
  h.esc(utc_date(u.to_ms)).raw(" (UTC days).</p>\n");
  bar_chart(h, u);
  h.raw("<details><summary>Credits per day, as a table</summary>\n<div class=\"scroll\"><table id=\"usage-days\">\n"
        "<thead><tr><th scope=\"col\">Day (UTC)</th><th scope=\"col\" class=\"num\">Credits</th></tr></thead>\n<tbody>\n");
  for (std::size_t i = 0; i < u.debited_by_day.size(); ++i) {
    h.raw("<tr><td>").esc(utc_date(u.from_ms + static_cast<int64_t>(i) * day_ms)).raw("</td><td class=\"num\">");
    h.esc(display_credits(u.debited_by_day[i])).raw("</td></tr>\n");
  }
  h.raw("</tbody>\n</table></div>\n</details>\n");
  totals_table(h, "usage-models", "By model", "Model", u.debited_by_model);
  totals_table(h, "usage-members", "By member", "Member", u.debited_by_member);
  h.raw("</section>\n");
  out += h.text();
}

void render_history_section(const BillingPageData& d, std::string& out) {
  Html h;
  const std::string page = billing_page_path(d.org, d.link_token);
  h.raw("<section class=\"wide\" aria-labelledby=\"history-h\">\n<h2 id=\"history-h\">Transactions</h2>\n");
  if (d.history.empty()) {
    h.raw("<p class=\"note\">No transactions").raw(d.cursor.empty() ? "" : " on this page").raw(".</p>\n");
  } else {
    h.raw("<div class=\"scroll\"><table id=\"transactions\" class=\"stack\">\n<thead><tr><th scope=\"col\">When (UTC)</th><th "
          "scope=\"col\">Type</th><th scope=\"col\" class=\"num\">Amount</th><th scope=\"col\" class=\"num\">Balance "
          "after</th><th scope=\"col\">Detail</th></tr></thead>\n<tbody>\n");
    for (const HistoryEntry& e : d.history) {
      h.raw("<tr data-key=\"").esc(e.idempotency_key).raw("\"><td data-label=\"When\">").esc(utc_minute(e.occurred_at_ms));
      h.raw("</td><td data-label=\"Type\">").esc(e.type).raw("</td><td class=\"num amount\" data-micros=\"");
      h.num(e.amount_micros.value()).raw("\" data-label=\"Amount\">").esc(display_credits(e.amount_micros.value()));
      h.raw("</td><td class=\"num\" data-micros=\"").num(e.balance_after_micros.value()).raw("\" data-label=\"Balance after\">");
      h.esc(display_credits(e.balance_after_micros.value())).raw("</td><td data-label=\"Detail\">").esc(history_detail(e));
      h.raw("</td></tr>\n");
    }
    h.raw("</tbody>\n</table></div>\n");
  }
  h.raw("<nav class=\"pages\" aria-label=\"Transaction pages\">");
  if (!d.cursor.empty()) h.raw("<a href=\"").esc(page).raw("#history-h\">First page</a>");
  if (d.next_cursor) {
    h.raw("<a id=\"next-page\" rel=\"next\" href=\"").esc(page + "&cursor=" + url_encode(*d.next_cursor));
    h.raw("#history-h\">Next page</a>");
  }
  h.raw("<a id=\"csv\" href=\"").esc("/billing/" + d.org + "/transactions.csv?link=" + d.link_token);
  h.raw("\" download>Download all as CSV</a></nav>\n</section>\n");
  out += h.text();
}

}  // namespace tally::api
