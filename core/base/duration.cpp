// Duration parsing and compact human formatting.
#include "core/base/duration.h"

#include <fmt/format.h>

#include <cstdint>

namespace edge {
namespace {

constexpr std::string_view kAccepted = "expected a duration such as 500ms, 30s, 5m, 2h, 1d or 1m30s";
constexpr int64_t kMaxMillis = int64_t{365} * 24 * 3600 * 1000 * 100;  // a century is plenty

int64_t unit_millis(std::string_view unit) {
  if (unit == "ms") return 1;
  if (unit == "" || unit == "s") return 1000;
  if (unit == "m") return 60'000;
  if (unit == "h") return 3'600'000;
  if (unit == "d") return 86'400'000;
  return 0;
}

}  // namespace

Parsed<Millis> parse_duration(std::string_view text) {
  if (text.empty()) return std::string(kAccepted);
  int64_t total = 0;
  size_t i = 0;
  while (i < text.size()) {
    size_t start = i;
    int64_t value = 0;
    while (i < text.size() && text[i] >= '0' && text[i] <= '9') {
      value = value * 10 + (text[i] - '0');
      if (value > kMaxMillis) return std::string("is too long (at most 100 years)");
      ++i;
    }
    if (i == start) return std::string(kAccepted);
    size_t unit_start = i;
    while (i < text.size() && text[i] >= 'a' && text[i] <= 'z') ++i;
    std::string_view unit = text.substr(unit_start, i - unit_start);
    int64_t mult = unit_millis(unit);
    if (mult == 0) return std::string(kAccepted);
    if (unit.empty() && start != 0) return std::string(kAccepted);  // "5s3": only a lone number may omit the unit
    if (value > (kMaxMillis - total) / mult) return std::string("is too long (at most 100 years)");
    total += value * mult;
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
