// Fuzz target: `edge trace` TARGET parsing. A parsed target has an ASCII host that obeys the
// host rule (re-checking it changes nothing), no control bytes or '%' anywhere in the host, a
// port, and a literal address exactly when the host is one, never an IPv4-mapped IPv6 one.
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "core/trace/target.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  auto t = edge::trace::parse_target(text);
  if (!t) {
    if (t.error().empty()) std::abort();
    return 0;
  }
  if (t->host.empty() || t->port == 0) std::abort();
  for (unsigned char c : t->host)
    if (c < 0x21 || c >= 0x7f || c == '%' || c == '/' || c == '@') std::abort();
  auto again = edge::trace::check_host(t->host);
  if (!again || *again != t->host) std::abort();
  if (t->address.has_value() != t->host_is_literal) std::abort();
  if (t->address && t->address->family() == edge::Family::v6) {
    const uint8_t* b = t->address->bytes();
    bool mapped = b[10] == 0xff && b[11] == 0xff;
    for (int i = 0; i < 10; ++i) mapped = mapped && b[i] == 0;
    if (mapped) std::abort();  // mapped addresses are IPv4 after parsing
  }
  if (t->wants_http() && (t->path.empty() || t->path.front() != '/')) std::abort();
  return 0;
}
