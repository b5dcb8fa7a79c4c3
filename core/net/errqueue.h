// The socket error queue (IP_RECVERR / IPV6_RECVERR): the ICMP error behind a failed connect,
// with its type, code and the address of the box that sent it. Parsing is separate from
// reading so the parser can be fuzzed on raw control-message bytes.
#pragma once
#include <cstddef>
#include <cstdint>
#include <optional>

#include "core/net/addr.h"

namespace edge {

struct IcmpError {
  bool v6 = false;             // origin ICMPv6
  uint8_t type = 0, code = 0;
  int error = 0;               // the errno the kernel derived from it
  uint32_t info = 0;           // e.g. the next-hop MTU for frag-needed
  std::optional<IpAddr> offender;  // who sent the ICMP
};

// Finds the first IP_RECVERR/IPV6_RECVERR message of ICMP origin in a control buffer as
// recvmsg() filled it. Malformed input yields nullopt.
std::optional<IcmpError> parse_recverr_control(const void* control, size_t len);

// Enables IP_RECVERR (and IPV6_RECVERR for AF_INET6 sockets); false if the kernel refused.
bool enable_recverr(int fd, bool v6);
// Reads one error-queue message without blocking; nullopt when the queue is empty or holds no ICMP.
std::optional<IcmpError> read_error_queue(int fd);

}  // namespace edge
