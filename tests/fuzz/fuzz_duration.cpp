// Fuzz target: duration parsing; a parsed duration is never negative and always formats.
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "core/base/duration.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto d = edge::parse_duration(std::string_view(reinterpret_cast<const char*>(data), size));
  if (d) {
    if (d->count() < 0) std::abort();
    (void)edge::format_duration(*d);
  }
  return 0;
}
