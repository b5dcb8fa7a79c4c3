// Fuzz target: CIDR parsing; a parsed CIDR must print and re-parse to the same prefix.
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "core/net/addr.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto c = edge::Cidr::parse(std::string_view(reinterpret_cast<const char*>(data), size));
  if (c) {
    auto again = edge::Cidr::parse(c->str());
    if (!again || again->prefix() != c->prefix() || !again->contains(c->network())) std::abort();
  }
  return 0;
}
