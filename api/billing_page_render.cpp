// The billing page's markup: the head (inline CSS), the prepaid credits card, buying credits,
// auto-recharge, the saved card and member limits. Usage and history: billing_page_usage.cpp.
#include "api/billing_page.h"
#include "api/html_util.h"
#include "engine/calendar.h"
#include "engine/limits.h"

namespace tally::api {
namespace {

constexpr std::string_view page_style =
    "*{box-sizing:border-box}body{font-family:system-ui,-apple-system,'Segoe UI',Roboto,sans-serif;margin:0;"
    "color:#1d2433;background:#f3f4f8;line-height:1.45}"
    "header,main{max-width:1120px;margin:0 auto;padding:1rem}header p{margin:.2rem 0;color:#5b6478}"
    "main{display:grid;gap:1rem;grid-template-columns:minmax(0,1fr);align-items:start}"
    "@media(min-width:880px){main{grid-template-columns:minmax(0,1fr) minmax(0,1fr)}.wide{grid-column:1/-1}}"
    "section{background:#fff;border:1px solid #e3e6ee;border-radius:12px;padding:1rem 1.25rem}"
    "h1{font-size:1.45rem;margin:.2rem 0}h2{font-size:1.1rem;margin:0 0 .7rem}h3{font-size:.95rem;margin:1rem 0 .4rem}"
    "dl.figures{display:grid;grid-template-columns:repeat(auto-fit,minmax(9.5rem,1fr));gap:.8rem;margin:.6rem 0}"
    "dl.figures dt{color:#5b6478;font-size:.8rem}dl.figures dd{margin:0;font-size:1.35rem;font-weight:650;"
    "font-variant-numeric:tabular-nums;overflow-wrap:anywhere}dl.facts{display:grid;grid-template-columns:auto 1fr;"
    "gap:.3rem 1rem;margin:.4rem 0}dl.facts dt{color:#5b6478}dl.facts dd{margin:0;font-variant-numeric:tabular-nums}"
    ".state{display:inline-block;padding:.15rem .7rem;border-radius:999px;font-weight:600;font-size:.85rem}"
    ".state-ok{background:#e6f4ea;color:#17642f}.state-low{background:#fff1d6;color:#7a4100}"
    ".state-exhausted,.state-paused{background:#fde7e5;color:#a11d12}"
    "table{border-collapse:collapse;width:100%;font-size:.88rem}th,td{border-bottom:1px solid #e3e6ee;"
    "padding:.35rem .45rem;text-align:left;vertical-align:top}th{color:#5b6478;font-weight:600}"
    ".num{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}.scroll{overflow-x:auto}"
    "form{display:flex;flex-wrap:wrap;gap:.5rem .8rem;align-items:flex-end;margin:.8rem 0 0}"
    "form.inline{margin:0}label{display:flex;flex-direction:column;font-size:.8rem;color:#5b6478;gap:.15rem}"
    "label.check{flex-direction:row;align-items:center;gap:.4rem;font-size:.9rem;color:#1d2433}"
    "input,select,button{font:inherit;padding:.4rem .55rem;border:1px solid #aab1c0;border-radius:7px;"
    "background:#fff;color:#1d2433;min-height:2.2rem}input[type=checkbox]{min-height:0;width:1.1rem;height:1.1rem}"
    "input:not([type=checkbox]){width:8.5rem}button{background:#2447b8;color:#fff;border-color:#2447b8;cursor:pointer}"
    "button.secondary{background:#fff;color:#2447b8}:focus-visible{outline:3px solid #f0b429;outline-offset:2px}"
    ".note{color:#5b6478;font-size:.85rem}.tag{display:inline-block;padding:0 .45rem;border-radius:6px;"
    "font-size:.78rem;font-weight:600}.tag-paused{background:#fde7e5;color:#a11d12}.tag-low{background:#fff4d6;"
    "color:#7a5300}.tag-ok{background:#e6f4ea;"
    "color:#17642f}svg{width:100%;height:auto;display:block}a{color:#2447b8}nav.pages{display:flex;gap:1rem;"
    "flex-wrap:wrap;margin-top:.6rem}"
    // Narrow screens: tables become one block per row, each cell labelled; the chart's labels grow.
    "@media(max-width:600px){section{padding:.8rem .9rem}table.stack thead{position:absolute;left:-9999px}"
    "table.stack tr{display:block;padding:.35rem 0;border-bottom:1px solid #e3e6ee}table.stack th[scope=row],"
    "table.stack td{display:flex;justify-content:space-between;gap:1rem;border:0;padding:.1rem .15rem;text-align:right}"
    "table.stack td::before{content:attr(data-label);color:#5b6478;text-align:left}table.stack td:empty{display:none}"
    "#usage-chart text{font-size:24px}input:not([type=checkbox]){width:7.5rem}}";

int64_t micros_of(const boost::json::object& object, std::string_view key) {
  const boost::json::value* value = object.if_contains(key);
  return value != nullptr && value->is_int64() ? value->as_int64() : 0;
}

bool flag_of(const boost::json::object& object, std::string_view key) {
  const boost::json::value* value = object.if_contains(key);
  return value != nullptr && value->is_bool() && value->as_bool();
}

// <div><dt>label</dt><dd id=… data-micros=…>credits</dd></div>
void figure(Html& h, std::string_view id, std::string_view label, int64_t micros) {
  h.raw("<div><dt>").esc(label).raw("</dt><dd id=\"").esc(id).raw("\" data-micros=\"").num(micros).raw("\">");
  h.esc(display_credits(micros)).raw("</dd></div>\n");
}

bool can_change(const BillingPageData& d) { return d.link.scope == LinkScope::owner; }

std::string form_action(const BillingPageData& d, std::string_view what) {
  return "/billing/" + d.org + "/" + std::string(what) + "?link=" + d.link_token;
}

void state_badge(Html& h, const boost::json::object& credits) {
  std::string_view state = "ok", text = "Balance OK";
  if (flag_of(credits, "unlimited")) {
    text = "Unlimited (enterprise plan)";
  } else if (flag_of(credits, "paused")) {
    state = "paused", text = "Exhausted: usage is paused until you top up";
  } else if (flag_of(credits, "is_exhausted")) {
    state = "exhausted", text = "Exhausted";
  } else if (flag_of(credits, "is_low_balance")) {
    state = "low", text = "Low balance";
  }
  h.raw("<p><span id=\"state\" class=\"state state-").esc(state).raw("\" data-state=\"").esc(state).raw("\">");
  h.esc(text).raw("</span></p>\n");
}

void credits_section(Html& h, const BillingPageData& d) {
  const boost::json::object& c = d.credits;
  h.raw("<section aria-labelledby=\"credits-h\">\n<h2 id=\"credits-h\">Prepaid credits</h2>\n");
  state_badge(h, c);
  h.raw("<dl class=\"figures\">\n");
  figure(h, "balance", "Balance", micros_of(c, "balance_micros"));
  figure(h, "available", "Available", micros_of(c, "available_micros"));
  // Holds (SPEC §11) arrive with their own views: shown once the credits JSON carries them.
  if (c.contains("held_micros")) figure(h, "held", "Held", micros_of(c, "held_micros"));
  if (micros_of(c, "low_balance_threshold_micros") > 0) {
    figure(h, "low-threshold", "Low-balance warning below", micros_of(c, "low_balance_threshold_micros"));
  }
  h.raw("</dl>\n");
  if (!d.price) {
    h.raw("<p class=\"note\" id=\"buy-unavailable\">Buying credits is not available: this server has no payment "
          "provider configured.</p>\n");
  } else if (flag_of(c, "unlimited")) {
    h.raw("<p class=\"note\">Enterprise orgs are not limited by credits: there is nothing to buy.</p>\n");
  } else if (can_change(d)) {
    const BillingPrice& p = *d.price;
    h.raw("<form method=\"post\" action=\"").esc(form_action(d, "checkout")).raw("\">\n");
    h.raw("<label for=\"quantity\">Bundles of ").esc(display_credits(p.credits_per_bundle_micros)).raw(" credits (");
    h.esc(std::to_string(p.unit_amount_minor)).raw(" ").esc(p.currency).raw(" minor units each)");
    h.raw("<select id=\"quantity\" name=\"quantity\">");
    for (int q = 1; q <= limits::bundles_max; ++q) h.raw("<option>").num(q).raw("</option>");
    h.raw("</select></label>\n<button type=\"submit\">Buy credits</button>\n</form>\n");
  }
  h.raw("</section>\n");
}

void auto_refill_facts(Html& h, const boost::json::object& a) {
  const auto fact = [&](std::string_view id, std::string_view label, const std::string& value, int64_t data) {
    h.raw("<dt>").esc(label).raw("</dt><dd id=\"").esc(id).raw("\" data-value=\"").num(data).raw("\">").esc(value);
    h.raw("</dd>\n");
  };
  const bool on = flag_of(a, "enabled");
  const auto count = [](int64_t n, int64_t cap) { return std::to_string(n) + (cap > 0 ? " of " + std::to_string(cap) : ""); };
  h.raw("<dl class=\"facts\">\n");
  fact("auto-refill-enabled", "Auto-recharge", on ? "On" : "Off", on ? 1 : 0);
  fact("auto-refill-threshold", "Recharge below", display_credits(micros_of(a, "threshold_micros")) + " credits",
       micros_of(a, "threshold_micros"));
  const int64_t bundles = micros_of(a, "refill_bundles");
  fact("auto-refill-amount", "Top up by",
       display_credits(micros_of(a, "refill_credits_micros")) + " credits" +
           (bundles > 0 ? " (" + std::to_string(bundles) + (bundles == 1 ? " bundle)" : " bundles)") : ""),
       micros_of(a, "refill_credits_micros"));
  const int64_t per_day = micros_of(a, "max_per_day"), per_month = micros_of(a, "max_per_month");
  fact("cap-day", "Daily cap", per_day > 0 ? std::to_string(per_day) + " refills" : "none", per_day);
  fact("cap-month", "Monthly cap", per_month > 0 ? std::to_string(per_month) + " refills" : "none", per_month);
  fact("refills-today", "Refills used today", count(micros_of(a, "refills_used_today"), per_day),
       micros_of(a, "refills_used_today"));
  fact("refills-month", "Refills used this month", count(micros_of(a, "refills_used_this_month"), per_month),
       micros_of(a, "refills_used_this_month"));
  h.raw("</dl>\n");
  if (flag_of(a, "refill_pending")) h.raw("<p class=\"note\">A recharge is being charged now.</p>\n");
}

// An input in credits, prefilled with the current value.
void credits_input(Html& h, std::string_view id, std::string_view label, int64_t micros) {
  h.raw("<label for=\"").esc(id).raw("\">").esc(label).raw("<input id=\"").esc(id).raw("\" name=\"").esc(id);
  h.raw("\" inputmode=\"decimal\" required value=\"").esc(micros > 0 ? display_credits(micros) : "").raw("\"></label>\n");
}

void count_input(Html& h, std::string_view id, std::string_view label, int64_t value, int64_t min, int64_t max) {
  h.raw("<label for=\"").esc(id).raw("\">").esc(label).raw("<input id=\"").esc(id).raw("\" name=\"").esc(id);
  h.raw("\" type=\"number\" min=\"").num(min).raw("\" max=\"").num(max).raw("\" value=\"").num(value).raw("\"></label>\n");
}

void auto_refill_section(Html& h, const BillingPageData& d) {
  const boost::json::object& a = d.auto_refill;
  h.raw("<section aria-labelledby=\"refill-h\">\n<h2 id=\"refill-h\">Auto-recharge</h2>\n");
  if (flag_of(d.credits, "unlimited")) {
    h.raw("<p class=\"note\">Enterprise orgs are not limited by credits: no auto-recharge.</p>\n</section>\n");
    return;
  }
  auto_refill_facts(h, a);
  if (can_change(d)) {
    h.raw("<form method=\"post\" action=\"").esc(form_action(d, "auto-refill")).raw("\">\n");
    h.raw("<label class=\"check\" for=\"enabled\"><input type=\"checkbox\" id=\"enabled\" name=\"enabled\"");
    h.raw(flag_of(a, "enabled") ? " checked" : "").raw("> Recharge automatically</label>\n");
    credits_input(h, "threshold", "When the balance is below (credits)", micros_of(a, "threshold_micros"));
    if (d.price) {
      count_input(h, "refill_bundles", "Top up by (bundles)", std::max<int64_t>(micros_of(a, "refill_bundles"), 1), 1,
                  limits::bundles_max);
    } else {
      credits_input(h, "refill_credits", "Top up by (credits)", micros_of(a, "refill_credits_micros"));
    }
    count_input(h, "max_per_day", "Daily cap (0: none)", micros_of(a, "max_per_day"), 0, 1000);
    count_input(h, "max_per_month", "Monthly cap (0: none)", micros_of(a, "max_per_month"), 0, 10000);
    h.raw("<button type=\"submit\">Save auto-recharge</button>\n</form>\n");
  }
  h.raw("</section>\n");
}

void card_section(Html& h, const BillingPageData& d) {
  h.raw("<section aria-labelledby=\"card-h\">\n<h2 id=\"card-h\">Payment method</h2>\n");
  if (!d.card) {
    h.raw("<p class=\"note\" id=\"card-none\">").esc(d.card_note).raw("</p>\n</section>\n");
    return;
  }
  const PaymentCard& c = *d.card;
  std::string month = std::to_string(c.exp_month);
  if (month.size() < 2) month.insert(0, "0");
  h.raw("<dl class=\"facts\">\n<dt>Card</dt><dd id=\"card-brand\">").esc(c.brand).raw("</dd>\n");
  h.raw("<dt>Number</dt><dd>•••• <span id=\"card-last4\">").esc(c.last4).raw("</span></dd>\n");
  h.raw("<dt>Expires</dt><dd id=\"card-expiry\">").esc(month).raw("/").esc(std::to_string(c.exp_year));
  h.raw("</dd>\n</dl>\n<p class=\"note\">Auto-recharge charges this card; a purchase through checkout can save a "
        "new one.</p>\n</section>\n");
}

void member_row(Html& h, const BillingPageData& d, const MemberView& m, const std::string& this_month) {
  const MemberState& s = m.state;
  const int64_t used = s.month == utc_month(d.now_ms) ? s.used_micros.value() : 0;
  h.raw("<tr data-member=\"").esc(m.member_id.str()).raw("\"><th scope=\"row\">").esc(m.member_id.str()).raw("</th>");
  h.raw("<td class=\"num limit\" data-micros=\"").num(s.has_limit ? s.monthly_limit_micros.value() : -1);
  h.raw("\" data-label=\"Monthly limit\">");
  h.esc(s.has_limit ? display_credits(s.monthly_limit_micros.value()) : "no limit").raw("</td>");
  h.raw("<td class=\"num used\" data-micros=\"").num(used).raw("\" data-month=\"").esc(this_month);
  h.raw("\" data-label=\"Used this month\">").esc(display_credits(used)).raw("</td><td data-label=\"Status\">");
  h.raw(s.exceeded ? "<span class=\"tag tag-paused\">Paused: over its limit</span>" : "<span class=\"tag tag-ok\">Active</span>");
  h.raw("</td>");
  if (can_change(d) && s.has_limit) {
    h.raw("<td data-label=\"Change\"><form class=\"inline\" method=\"post\" action=\"").esc(form_action(d, "member-limits"));
    h.raw("\"><input type=\"hidden\" name=\"member_id\" value=\"").esc(m.member_id.str());
    h.raw("\"><input type=\"hidden\" name=\"action\" value=\"clear\"><button class=\"secondary\" type=\"submit\" "
          "aria-label=\"Clear the limit of ").esc(m.member_id.str()).raw("\">Clear limit</button></form></td>");
  } else if (can_change(d)) {
    h.raw("<td></td>");
  }
  h.raw("</tr>\n");
}

void members_section(Html& h, const BillingPageData& d) {
  const std::string this_month = utc_date(d.now_ms).substr(0, 7);
  h.raw("<section class=\"wide\" aria-labelledby=\"members-h\">\n<h2 id=\"members-h\">Member limits</h2>\n");
  h.raw("<p class=\"note\">Monthly credit limits per member (").esc(this_month);
  h.raw(", UTC). A member over its limit is paused; the others keep running.</p>\n");
  if (d.members.empty()) {
    h.raw("<p class=\"note\">No member has used credits or been given a limit yet.</p>\n");
  } else {
    h.raw("<div class=\"scroll\"><table id=\"members\" class=\"stack\">\n<thead><tr><th scope=\"col\">Member</th><th scope=\"col\" "
          "class=\"num\">Monthly limit</th><th scope=\"col\" class=\"num\">Used this month</th><th scope=\"col\">"
          "Status</th>");
    if (can_change(d)) h.raw("<th scope=\"col\"><span class=\"note\">Change</span></th>");
    h.raw("</tr></thead>\n<tbody>\n");
    for (const MemberView& m : d.members) member_row(h, d, m, this_month);
    h.raw("</tbody>\n</table></div>\n");
  }
  if (can_change(d)) {
    h.raw("<form method=\"post\" action=\"").esc(form_action(d, "member-limits")).raw("\">\n");
    h.raw("<input type=\"hidden\" name=\"action\" value=\"set\">\n<label for=\"member_id\">Member<input "
          "id=\"member_id\" name=\"member_id\" required maxlength=\"128\"></label>\n");
    h.raw("<label for=\"monthly_limit\">Monthly limit (credits)<input id=\"monthly_limit\" name=\"monthly_limit\" "
          "inputmode=\"decimal\" required></label>\n<button type=\"submit\">Set limit</button>\n</form>\n");
  }
  h.raw("</section>\n");
}

}  // namespace

std::string render_billing_page(const BillingPageData& d) {
  Html h;
  h.raw("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<meta name=\"viewport\" "
        "content=\"width=device-width, initial-scale=1\">\n<meta name=\"referrer\" content=\"no-referrer\">\n<title>");
  h.raw("Billing · ").esc(d.org).raw("</title>\n<style>").raw(page_style).raw("</style>\n</head>\n<body>\n<header>\n");
  h.raw("<h1>Billing · <span id=\"org\">").esc(d.org).raw("</span></h1>\n<p>Credits as of the ledger position ");
  const boost::json::value* as_of = d.credits.if_contains("as_of");
  h.esc(as_of != nullptr && as_of->is_string() ? std::string(as_of->as_string()) : "-").raw(". This link expires ");
  h.esc(utc_minute(d.link.expires_at_ms)).raw(".");
  if (!can_change(d)) h.raw(" <strong id=\"read-only\">Read-only link: changes need an owner's link.</strong>");
  h.raw("</p>\n</header>\n<main>\n");
  credits_section(h, d);
  auto_refill_section(h, d);
  card_section(h, d);
  render_grants_section(d, h.text());
  members_section(h, d);
  render_usage_section(d, h.text());
  render_history_section(d, h.text());
  h.raw("</main>\n</body>\n</html>\n");
  return std::move(h.text());
}

}  // namespace tally::api
