// Fuzz target: edge nat's address-and-port forms. A parsed range is never empty, both ends of
// an address range share a family, and a parsed host never keeps its brackets.
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "core/net/nat_spec.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  if (auto h = edge::parse_host_ports(text)) {
    if (h->host.empty() || h->host.find('[') != std::string::npos) std::abort();
    if (h->ports && h->ports->lo() > h->ports->hi()) std::abort();
  }
  if (auto a = edge::parse_addr_range_ports(text)) {
    if (a->lo.family() != a->hi.family() || a->hi < a->lo) std::abort();
  }
  if (auto l = edge::parse_listen_spec(text)) {
    if (l->ports.lo() == 0 || l->ports.lo() > l->ports.hi()) std::abort();
  }
  return 0;
}
