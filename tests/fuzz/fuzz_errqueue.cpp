// Fuzz target: IP_RECVERR control messages as recvmsg() could fill them. Any bytes must parse
// or be refused; never read past the buffer (ASan watches).
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "core/net/errqueue.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  // Copy into an exactly sized heap buffer so any overread is caught.
  std::vector<uint8_t> buf(data, data + size);
  auto e = edge::parse_recverr_control(buf.data(), buf.size());
  if (e && e->offender) (void)e->offender->str();
  return 0;
}
