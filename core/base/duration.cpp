// Duration parsing and compact human formatting.
#include "core/base/duration.h"

#include <fmt/format.h>

#include <cstdint>

namespace edge {
namespace {

constexpr std::string_view kAccepted = "expected a duration such as 500ms, 1.5s, 5m, 2h, 1d or 1m30s";
constexpr int64_t kMaxMillis = int64_t{365} * 24 * 3600 * 1000 * 100;  // a century is plenty

// Units largest first; the parser requires them in this order, each at most once.
constexpr struct {
  std::string_view name;
  int64_t millis;
} kUnits[] = {{"d", 86'400'000}, {"h", 3'600'000}, {"m", 60'000}, {"s", 1000}, {"ms", 1}};

}  // namespace

Parsed<Millis> parse_duration(std::string_view text) {
  if (text.empty()) return std::string(kAccepted);
  int64_t total = 0;
  size_t i = 0;
  size_t next_unit = 0;  // index into kUnits: units must come largest first, once each
  while (i < text.size()) {
    const size_t start = i;
    // Whole part, then an optional fraction: "1.5s" is 1500ms. Digits are counted, not
    // accumulated past the limit, so no input overflows.
    int64_t whole = 0;
    while (i < text.size() && text[i] >= '0' && text[i] <= '9') {
      whole = whole * 10 + (text[i] - '0');
      if (whole > kMaxMillis) return std::string("is too long (at most 100 years)");
      ++i;
    }
    const size_t whole_digits = i - start;
    int64_t frac = 0, frac_scale = 1;
    if (i < text.size() && text[i] == '.') {
      ++i;
      const size_t frac_start = i;
      while (i < text.size() && text[i] >= '0' && text[i] <= '9') {
        if (frac_scale >= 1'000'000'000) return std::string("has too many decimals (at most a millisecond's precision)");
        frac = frac * 10 + (text[i] - '0');
        frac_scale *= 10;
        ++i;
      }
      if (i == frac_start || whole_digits == 0) return std::string(kAccepted);  // "1." and ".5" are typos
    }
    if (whole_digits == 0) return std::string(kAccepted);
    const size_t unit_start = i;
    while (i < text.size() && text[i] >= 'a' && text[i] <= 'z') ++i;
    std::string_view unit = text.substr(unit_start, i - unit_start);
    if (unit.empty()) {
      // A lone number is seconds, as in conntrack-tools and curl; "5s3" is a typo.
      if (start != 0 || i != text.size()) return std::string(kAccepted);
      unit = "s";
    }
    size_t u = 0;
    while (u < std::size(kUnits) && kUnits[u].name != unit) ++u;
    if (u == std::size(kUnits)) return std::string(kAccepted);
    if (u < next_unit)
      return fmt::format("repeats or reorders unit '{}' (each unit once, largest first, e.g. 1h30m)", unit);
    next_unit = u + 1;
    const int64_t mult = kUnits[u].millis;
    if (whole > (kMaxMillis - total) / mult) return std::string("is too long (at most 100 years)");
    // The fraction in milliseconds must be whole: 1.5ms cannot be waited for.
    if ((frac * mult) % frac_scale != 0) return std::string("is finer than a millisecond");
    total += whole * mult + frac * mult / frac_scale;
    if (total > kMaxMillis) return std::string("is too long (at most 100 years)");
  }
  return Millis(total);
}

std::string format_duration(Millis d) {
  int64_t ms = d.count();
  if (ms < 0) ms = 0;
  if (ms < 1000) return fmt::format("{}ms", ms);
  if (ms < 60'000 && ms % 1000) return fmt::format("{:.1f}s", double(ms) / 1000);  // timeouts like 1500ms
  int64_t s = ms / 1000;
  const int64_t days = s / 86400, hours = s / 3600 % 24, mins = s / 60 % 60, secs = s % 60;
  if (days) return hours ? fmt::format("{}d{}h", days, hours) : fmt::format("{}d", days);
  if (hours) return mins ? fmt::format("{}h{}m", hours, mins) : fmt::format("{}h", hours);
  if (mins) return secs ? fmt::format("{}m{}s", mins, secs) : fmt::format("{}m", mins);
  return fmt::format("{}s", secs);
}

}  // namespace edge
