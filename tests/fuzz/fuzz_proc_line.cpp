// Fuzz target: one /proc/net/nf_conntrack line. Any input must parse or be refused, never crash;
// a parsed flow must print without crashing.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "core/conntrack/proc_parse.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  edge::Flow f;
  if (edge::parse_proc_conntrack_line(std::string_view(reinterpret_cast<const char*>(data), size), f)) {
    std::string s;
    f.orig.src.append_to(s);
    f.reply.dst.append_to(s);
  }
  return 0;
}
