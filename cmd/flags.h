// Turning a flag's text into a value through the core parser that owns it; a bad value becomes
// the one-line usage error every command prints ("--FLAG: 'VALUE' <problem>", exit 2).
#pragma once
#include <string>

#include "core/base/duration.h"
#include "core/base/errors.h"
#include "core/base/numbers.h"
#include "core/base/parsed.h"

namespace edge::cmd {

template <class T>
T parse_or_usage(const std::string& flag, const std::string& value, const Parsed<T>& parsed) {
  if (!parsed) throw usage_error(flag, value, parsed.error());
  return *parsed;
}

// A duration flag ("500ms", "2s", "1m"), more than zero.
inline Millis duration_flag(const std::string& flag, const std::string& v) {
  const Millis d = parse_or_usage(flag, v, parse_duration(v));
  if (d.count() < 1) throw usage_error(flag, v, "must be more than 0");
  return d;
}

// A count flag within [lo, hi].
inline unsigned count_flag(const std::string& flag, const std::string& v, uint64_t lo, uint64_t hi) {
  const auto n = parse_or_usage(flag, v, parse_count(v));
  if (n < lo || n > hi) throw usage_error(flag, v, "is out of range (" + std::to_string(lo) + "-" + std::to_string(hi) + ")");
  return unsigned(n);
}

}  // namespace edge::cmd
