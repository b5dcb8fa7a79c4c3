// The flow: edge's one model of a connection, shaped like a kernel conntrack entry so that the
// kernel's flows and edge's own (proxy, rproxy, nat forwarder) list side by side in one format.
// An original tuple, a reply tuple (translation shows as the difference), a state, a timeout,
// counters, and for flows that ended, a close cause and phase.
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "core/base/parsed.h"
#include "core/net/addr.h"

namespace edge {

struct Tuple {
  IpAddr src, dst;
  uint16_t sport = 0, dport = 0;        // TCP, UDP, SCTP, DCCP, UDPLite
  uint8_t icmp_type = 0, icmp_code = 0;  // ICMP / ICMPv6 (original direction)
  uint16_t icmp_id = 0;
  friend bool operator==(const Tuple&, const Tuple&) = default;
};

struct Counters {
  uint64_t packets = 0, bytes = 0;
};

struct Flow {
  std::string origin = "kernel";  // "kernel" or "edge:<command>:<pid>"
  Family family = Family::v4;
  uint8_t proto = 0;              // IPPROTO_* number
  std::string_view state;         // TCP/SCTP/DCCP state name, static storage; empty when the protocol has none
  uint32_t timeout = 0;           // seconds left
  uint32_t mark = 0;
  uint16_t zone = 0;
  uint32_t id = 0;
  bool assured = false;
  bool unreplied = false;
  bool snat = false, dnat = false;  // what translation happened (address or port)
  Tuple orig, reply;
  std::optional<Counters> orig_counters, reply_counters;  // only with nf_conntrack_acct=1
};

// "tcp", "udp", "icmp", "icmpv6", "sctp", "dccp", "udplite", "gre", else "unknown".
std::string_view proto_name(uint8_t proto);
// proto_name, or the protocol number as text when it has no name, so output never loses it.
std::string proto_label(uint8_t proto);
// The inverse, for --proto; also accepts numbers.
Parsed<uint8_t> parse_proto(std::string_view text);
bool proto_has_ports(uint8_t proto);
bool proto_is_icmp(uint8_t proto);

// Kernel TCP conntrack state numbers (TCP_CONNTRACK_*) to the names conntrack-tools prints.
std::string_view tcp_state_name(uint8_t state);
// Validates a --state value against the known TCP state names (case-insensitive).
Parsed<std::string_view> parse_tcp_state(std::string_view text);

// conntrack-tools' NAT rule: a NAT was done (status bit) and the reply tuple's address or port
// differs from the original's mirror image. Without status bits (the /proc source) the
// difference alone decides.
void classify_nat(Flow& f, std::optional<uint32_t> status);

}  // namespace edge
