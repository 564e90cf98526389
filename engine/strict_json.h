// Strict JSON parsing for the event codec (tally_codec; internal to engine/event_json.cpp).
//
// boost::json::parse keeps the last of duplicate keys without a word. An event carrying
// `credits_micros` twice is ambiguous (another parser in the path may read the first), so this
// parser builds the same value as Boost.JSON's own but refuses a key repeated in any object, at
// any depth — inside an array element too — naming it by its path ("[3].models[0].model").
#pragma once

#include <cstddef>
#include <string_view>

#include <boost/json/storage_ptr.hpp>
#include <boost/json/value.hpp>

#include "engine/status.h"

namespace tally::json_detail {

// Parses `text` as exactly one JSON value allocated from `storage`. Errors (invalid_argument):
// a duplicate key ("<path>: duplicate key"), nesting deeper than depth_max, invalid JSON or text
// after the value ("invalid JSON at byte N: …", no field).
Result<boost::json::value> parse_strict(std::string_view text, boost::json::storage_ptr storage,
                                        std::size_t depth_max);

}  // namespace tally::json_detail
