// Capability checks; see caps.h.
#include "core/base/caps.h"

#include <fstream>
#include <string>

namespace edge {

bool has_net_admin() {
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line))
    if (line.rfind("CapEff:", 0) == 0) return (std::stoull(line.substr(7), nullptr, 16) >> 12) & 1;  // bit 12: CAP_NET_ADMIN
  return false;
}

}  // namespace edge
