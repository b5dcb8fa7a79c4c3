// `edge trace --hops`: where on the path packets die, found with TTL-limited TCP connects and
// the error queue (each router that drops a TTL-expired SYN says so with ICMP time-exceeded),
// so no raw socket and no privilege is needed (Linux >= 5.8).
#pragma once
#include <optional>
#include <string>
#include <vector>

#include "core/base/duration.h"
#include "core/net/addr.h"

namespace edge::trace {

struct Hop {
  int ttl = 0;
  std::optional<IpAddr> from;  // who answered; nullopt = silence
  double rtt_ms = 0;
  std::string what;            // "time_exceeded", "reached", "unreachable", "no_answer"
};

// Probes TTL 1, 2, ... until the target answers, a router says it is unreachable, or
// `max_silent` hops in a row stay silent.
std::vector<Hop> tcp_hops(const IpAddr& dst, uint16_t port, int max_hops, int max_silent, Millis per_hop);

}  // namespace edge::trace
