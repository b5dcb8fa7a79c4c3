// Fuzz target: HOST:PORT parsing; a parsed endpoint must print and re-parse to the same value.
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "core/net/addr.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto e = edge::Endpoint::parse(std::string_view(reinterpret_cast<const char*>(data), size));
  if (e && !e->host().empty()) {
    auto again = edge::Endpoint::parse(e->str());
    if (!again || again->host() != e->host() || again->port() != e->port()) std::abort();
  }
  return 0;
}
