// The billing page's credit grants (SPEC §12): what the org's credit is made of — each grant with
// its kind, what is left of it and when it expires, drawn down in the order listed — the same
// figures as GET …/credits/grants.
#include <string>

#include "api/billing_page.h"
#include "api/html_util.h"
#include "engine/limits.h"

namespace tally::api {
namespace {

int64_t int_of(const boost::json::object& object, std::string_view key) {
  const boost::json::value* value = object.if_contains(key);
  return value != nullptr && value->is_int64() ? value->as_int64() : 0;
}

std::string text_of(const boost::json::object& object, std::string_view key) {
  const boost::json::value* value = object.if_contains(key);
  return value != nullptr && value->is_string() ? std::string(value->as_string()) : std::string();
}

void money_cell(Html& h, std::string_view what, std::string_view label, int64_t micros) {
  h.raw("<td class=\"num ").esc(what).raw("\" data-micros=\"").num(micros).raw("\" data-label=\"").esc(label).raw("\">");
  h.esc(display_credits(micros)).raw("</td>");
}

// When it expires, and a marker inside the warning window (grant_expiring: 7 days ahead).
void expiry_cell(Html& h, const boost::json::object& g, int64_t now_ms) {
  const boost::json::value* at = g.if_contains("expires_at_ms");
  if (at == nullptr || !at->is_int64()) {
    h.raw("<td class=\"expires\" data-ms=\"0\" data-label=\"Expires\">never</td>");
    return;
  }
  const int64_t expires = at->as_int64();
  h.raw("<td class=\"expires\" data-ms=\"").num(expires).raw("\" data-label=\"Expires\">").esc(utc_minute(expires));
  if (text_of(g, "status") == "active" && expires - now_ms <= limits::grant_warning_ms) {
    h.raw(" <span class=\"tag tag-low\">expiring soon</span>");
  }
  h.raw("</td>");
}

void grant_row(Html& h, const boost::json::object& g, int64_t now_ms) {
  const std::string id = text_of(g, "grant_id");
  const bool active = text_of(g, "status") == "active";
  h.raw("<tr data-grant=\"").esc(id).raw("\" data-status=\"").esc(active ? "active" : "closed").raw("\">");
  h.raw("<th scope=\"row\">").esc(id).raw("</th><td data-label=\"Kind\">").esc(text_of(g, "category"));
  h.raw(" · ").esc(text_of(g, "source")).raw("</td>");
  money_cell(h, "original", "Granted", int_of(g, "original_micros"));
  money_cell(h, "remaining", "Left", int_of(g, "remaining_micros"));
  money_cell(h, "expired", "Expired", int_of(g, "expired_micros"));
  expiry_cell(h, g, now_ms);
  h.raw("</tr>\n");
}

}  // namespace

void render_grants_section(const BillingPageData& d, std::string& out) {
  Html h;
  h.raw("<section class=\"wide\" aria-labelledby=\"grants-h\">\n<h2 id=\"grants-h\">Credit grants</h2>\n");
  const boost::json::value* list = d.grants.if_contains("grants");
  if (list == nullptr || !list->is_array() || list->as_array().empty()) {
    h.raw("<p class=\"note\">No credit has been granted or bought yet.</p>\n</section>\n");
    out += h.text();
    return;
  }
  h.raw("<p class=\"note\">Your credit, grant by grant. Usage draws the active grants down in the order listed "
        "(promotional credit that expires first); what is left of a grant when it expires is lost.");
  const boost::json::value* next = d.grants.if_contains("next_expiry");
  if (next != nullptr && next->is_object()) {
    const boost::json::object& n = next->as_object();
    h.raw(" Next: <strong id=\"next-expiry\" data-micros=\"").num(int_of(n, "micros")).raw("\" data-ms=\"");
    h.num(int_of(n, "at_ms")).raw("\">").esc(display_credits(int_of(n, "micros"))).raw(" credits on ");
    h.esc(utc_minute(int_of(n, "at_ms"))).raw("</strong>.");
  }
  h.raw("</p>\n<div class=\"scroll\"><table id=\"grants\" class=\"stack\">\n<thead><tr><th scope=\"col\">Grant</th>"
        "<th scope=\"col\">Kind</th><th scope=\"col\" class=\"num\">Granted</th><th scope=\"col\" class=\"num\">Left</th>"
        "<th scope=\"col\" class=\"num\">Expired</th><th scope=\"col\">Expires</th></tr></thead>\n<tbody>\n");
  for (const boost::json::value& g : list->as_array()) {
    if (g.is_object()) grant_row(h, g.as_object(), d.now_ms);
  }
  h.raw("</tbody>\n</table></div>\n</section>\n");
  out += h.text();
}

}  // namespace tally::api
