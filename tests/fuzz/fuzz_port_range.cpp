// Fuzz target: port range parsing; a parsed range is never empty and never contains port 0.
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "core/net/addr.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto r = edge::PortRange::parse(std::string_view(reinterpret_cast<const char*>(data), size));
  if (r && (r->lo() == 0 || r->lo() > r->hi() || r->contains(0))) std::abort();
  return 0;
}
