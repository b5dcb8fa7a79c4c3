// Durations as users type them on the command line: "500ms", "30s", "1.5s", "5m", "2h", "1d", or
// combinations ("1m30s", each unit once, largest first). A bare number means seconds, as in
// conntrack-tools and curl. Fractions are allowed down to a whole millisecond.
#pragma once
#include <chrono>
#include <string>
#include <string_view>

#include "core/base/parsed.h"

namespace edge {

using Millis = std::chrono::milliseconds;

Parsed<Millis> parse_duration(std::string_view text);

// "4d23h", "59m59s", "12s", "250ms": the two most significant units, for human tables.
std::string format_duration(Millis d);

}  // namespace edge
