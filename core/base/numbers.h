// Numbers as users type them in flags: counts, percentages, byte sizes ("512K", "8M").
#pragma once
#include <cstdint>
#include <string_view>

#include "core/base/parsed.h"

namespace edge {

Parsed<uint64_t> parse_count(std::string_view text);   // 0, 1, 2, ...
Parsed<double> parse_percent(std::string_view text);   // 0-100, "80" or "80%" or "92.5"
Parsed<uint64_t> parse_size(std::string_view text);    // bytes; K/M/G suffixes are powers of 1024

}  // namespace edge
