// Parsing counts, percentages and sizes with messages that say what is accepted.
#include "core/base/numbers.h"

#include <charconv>
#include <cmath>

namespace edge {

Parsed<uint64_t> parse_count(std::string_view t) {
  uint64_t v = 0;
  auto [end, ec] = std::from_chars(t.data(), t.data() + t.size(), v);
  if (t.empty() || ec != std::errc() || end != t.data() + t.size()) return std::string("is not a count (expected a whole number, e.g. 100)");
  return v;
}

Parsed<double> parse_percent(std::string_view t) {
  if (!t.empty() && t.back() == '%') t.remove_suffix(1);
  double v = 0;
  auto [end, ec] = std::from_chars(t.data(), t.data() + t.size(), v);
  if (t.empty() || ec != std::errc() || end != t.data() + t.size() || !std::isfinite(v) || v < 0 || v > 100)
    return std::string("is not a percentage (expected 0-100, e.g. 80)");
  return v;
}

Parsed<uint64_t> parse_size(std::string_view t) {
  constexpr const char* accepted = "is not a size (expected bytes with an optional K, M or G suffix, e.g. 8M)";
  uint64_t mult = 1;
  if (!t.empty()) {
    switch (t.back()) {
      case 'K': case 'k': mult = 1ull << 10; break;
      case 'M': case 'm': mult = 1ull << 20; break;
      case 'G': case 'g': mult = 1ull << 30; break;
      default: break;
    }
    if (mult != 1) t.remove_suffix(1);
  }
  uint64_t v = 0;
  auto [end, ec] = std::from_chars(t.data(), t.data() + t.size(), v);
  if (t.empty() || ec != std::errc() || end != t.data() + t.size()) return std::string(accepted);
  if (v > (uint64_t(1) << 40) / mult) return std::string("is too large (at most 1T)");
  return v * mult;
}

}  // namespace edge
