// Fuzz target: the request-head scanner and the Host check (core/http/syntax.h). The scanner
// must give the same verdict fed at once or in two pieces split anywhere, an accepted head must
// end with its empty line, and nothing may crash on any bytes.
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "core/http/syntax.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view bytes(reinterpret_cast<const char*>(data), size);
  edge::http::HeadScanner whole;
  const auto p = whole.scan(bytes);
  edge::http::HeadScanner split;
  const size_t cut = size ? data[0] % size : 0;
  auto q = split.scan(bytes.substr(0, cut));
  if (!q) q = split.scan(bytes);
  if (p.status != q.status || whole.length() != split.length()) std::abort();
  if (const size_t n = whole.length()) {
    if (p || n > size || bytes.substr(n - 4, 4) != "\r\n\r\n" || whole.leading() >= n) std::abort();
  }
  (void)edge::http::host_problem(bytes.substr(0, 300));
  return 0;
}
