// JSON text for humans and scripts alike: Boost.JSON serializes, then every double it wrote
// in exponent form (Boost always does: 0.5 -> 5E-1, 100 -> 1E2) is rewritten in plain decimal
// (0.5, 100), so `"duration_ms":12.5` reads as it should in a terminal and in any parser.
// The text is valid UTF-8 whatever bytes the strings held (invalid ones become U+FFFD).
#pragma once
#include <boost/json/fwd.hpp>
#include <string>
#include <string_view>

namespace edge {

std::string json_text(const boost::json::value& v);
// The rewrite alone, on serialized JSON (exposed for tests).
std::string plain_json_numbers(std::string_view serialized);

}  // namespace edge
