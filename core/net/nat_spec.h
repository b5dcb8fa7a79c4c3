// The address-and-port forms `edge nat` reads: where to send (--to ADDR[:PORT[-PORT]], or
// HOST:PORT for the user engine), where to translate from (--to-source ADDR[-ADDR][:PORT-PORT])
// and where to listen (--listen [ADDR:]PORT[-PORT]). IPv6 addresses take brackets when a port
// follows: [2001:db8::1]:80. Parsers of untrusted text: no throw, a message on error.
#pragma once
#include <optional>
#include <string>
#include <string_view>

#include "core/base/parsed.h"
#include "core/net/addr.h"

namespace edge {

// HOST[:PORT[-PORT]]: the host is an address literal or a name (brackets removed).
struct HostPorts {
  std::string host;
  std::optional<PortRange> ports;
};
Parsed<HostPorts> parse_host_ports(std::string_view text);

// ADDR[-ADDR][:PORT-PORT] (SNAT's --to-source): both addresses of one family, low <= high.
struct AddrRangePorts {
  IpAddr lo, hi;
  std::optional<PortRange> ports;
};
Parsed<AddrRangePorts> parse_addr_range_ports(std::string_view text);

// [ADDR:]PORT[-PORT]: an optional address literal and a port or range.
struct ListenSpec {
  std::optional<IpAddr> addr;
  PortRange ports;
};
Parsed<ListenSpec> parse_listen_spec(std::string_view text);

}  // namespace edge
