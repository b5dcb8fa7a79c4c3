// Turning a flag's text into a value through the core parser that owns it; a bad value becomes
// the one-line usage error every command prints ("--FLAG: 'VALUE' <problem>", exit 2).
#pragma once
#include <string>

#include "core/base/errors.h"
#include "core/base/parsed.h"

namespace edge::cmd {

template <class T>
T parse_or_usage(const std::string& flag, const std::string& value, const Parsed<T>& parsed) {
  if (!parsed) throw usage_error(flag, value, parsed.error());
  return *parsed;
}

}  // namespace edge::cmd
