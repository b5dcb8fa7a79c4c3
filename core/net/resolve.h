// Name resolution with the answer's TTL, for names that must follow DNS as it changes (the
// backends of edge rproxy): c-ares' getaddrinfo reads /etc/hosts and resolv.conf and reports
// each record's TTL; when it finds nothing, the system's getaddrinfo (nsswitch: mDNS,
// systemd-resolved, ...) is asked, without a TTL. Blocking, bounded by `timeout`: call it from
// a thread that may wait.
#pragma once
#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include "core/base/duration.h"
#include "core/net/addr.h"

namespace edge {

struct Resolution {
  std::vector<IpAddr> addresses;           // empty: the name did not resolve
  std::optional<std::chrono::seconds> ttl; // the smallest TTL of the records, when DNS gave one
};

// An address literal comes back as itself, with no TTL.
Resolution resolve_host(const std::string& host, Millis timeout);

}  // namespace edge
