// Fuzz target: escaping and UTF-8 repair. printable() never lets a control byte through and
// never grows past its cut; valid_utf8() always returns valid UTF-8 and keeps valid input.
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "core/base/text.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view s(reinterpret_cast<const char*>(data), size);
  const std::string p = edge::printable(s, 64);
  for (unsigned char c : p)
    if (c < 0x20 || c == 0x7f) std::abort();
  if (!edge::is_valid_utf8(p) || p.size() > 64 + 4 + 32) std::abort();
  const std::string u = edge::valid_utf8(s);
  if (!edge::is_valid_utf8(u)) std::abort();
  if (edge::is_valid_utf8(s) && u != s) std::abort();
  return 0;
}
