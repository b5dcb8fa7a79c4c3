// The dns layer of `edge trace`: what the system resolver returns (getaddrinfo: /etc/hosts,
// nsswitch, search domains) and, per configured nameserver, what it answered (c-ares: the
// response code getaddrinfo hides, and the time). IPv4 and IPv6 are reported separately.
#pragma once
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/base/duration.h"
#include "core/net/addr.h"
#include "core/trace/layer.h"

namespace edge::trace {

struct DnsAnswer {
  std::vector<IpAddr> v4, v6;
};

// The addresses /etc/hosts (its text: `hosts`) gives `name`, in file order (names compared
// without case, a final dot ignored; comments and malformed lines skipped).
std::vector<IpAddr> hosts_addresses(std::string_view hosts, std::string_view name);

// prefer: which family the layers below follow (v4 unless -6); only: -4/-6 given.
LayerResult probe_dns(const std::string& host, std::optional<Family> only, Millis timeout, DnsAnswer& out);

}  // namespace edge::trace
