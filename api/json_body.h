// Strictness for JSON request bodies that Boost.JSON's parser does not give: a key repeated in one
// object, and the Content-Type a JSON body may be declared with. Internal to api/. Pure.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace tally::api {

// The path of the first key that appears twice in one object of `text` ("monthly_limit_micros",
// "[1].credits_micros", "models[0].model"), or nullopt if there is none. boost::json::parse keeps
// the last of duplicate keys without a word; a body carrying an amount twice is ambiguous (another
// reader of the same bytes may take the first), so it is refused rather than guessed. Text that is
// not JSON, or nests deeper than `depth_max`, has no duplicate here: the caller's parse reports it.
std::optional<std::string> duplicate_key_path(std::string_view text, unsigned depth_max);

// True for a Content-Type a JSON body may carry: empty (not sent; the body is judged as JSON
// anyway) or application/json, any case, with optional parameters of which `charset`, if given,
// must be utf-8 (RFC 8259: JSON exchanged between systems is UTF-8). Anything else — text/plain,
// application/x-www-form-urlencoded (what curl -d sends), another charset — is false.
bool is_json_content_type(std::string_view content_type);

}  // namespace tally::api
