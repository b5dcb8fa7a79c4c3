// Protocol and state vocabularies of the flow model, and NAT classification.
#include "core/flow/flow.h"

#include <netinet/in.h>
#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <cctype>

namespace edge {
namespace {

struct ProtoName {
  uint8_t number;
  std::string_view name;
};
constexpr std::array<ProtoName, 8> kProtos{{{IPPROTO_TCP, "tcp"},
                                            {IPPROTO_UDP, "udp"},
                                            {IPPROTO_ICMP, "icmp"},
                                            {IPPROTO_ICMPV6, "icmpv6"},
                                            {IPPROTO_SCTP, "sctp"},
                                            {IPPROTO_DCCP, "dccp"},
                                            {IPPROTO_UDPLITE, "udplite"},
                                            {IPPROTO_GRE, "gre"}}};

// Order matches the kernel's enum tcp_conntrack (include/uapi/linux/netfilter/nf_conntrack_tcp.h).
constexpr std::array<std::string_view, 11> kTcpStates{"NONE",       "SYN_SENT", "SYN_RECV", "ESTABLISHED",
                                                      "FIN_WAIT",   "CLOSE_WAIT", "LAST_ACK", "TIME_WAIT",
                                                      "CLOSE",      "SYN_SENT2", "LISTEN"};

bool iequal(std::string_view a, std::string_view b) {
  return a.size() == b.size() &&
         std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) { return std::tolower((unsigned char)x) == std::tolower((unsigned char)y); });
}

}  // namespace

std::string_view proto_name(uint8_t proto) {
  for (auto& p : kProtos)
    if (p.number == proto) return p.name;
  return "unknown";
}

std::string proto_label(uint8_t proto) {
  auto name = proto_name(proto);
  return name == "unknown" ? std::to_string(proto) : std::string(name);
}

Parsed<uint8_t> parse_proto(std::string_view text) {
  for (auto& p : kProtos)
    if (iequal(p.name, text)) return p.number;
  if (!text.empty() && text.size() <= 3 && std::all_of(text.begin(), text.end(), [](char c) { return c >= '0' && c <= '9'; })) {
    int v = std::stoi(std::string(text));
    if (v <= 255) return uint8_t(v);
  }
  return std::string("is not a protocol (expected tcp, udp, icmp, icmpv6, sctp, dccp, udplite, gre or a number 0-255)");
}

bool proto_has_ports(uint8_t p) {
  return p == IPPROTO_TCP || p == IPPROTO_UDP || p == IPPROTO_SCTP || p == IPPROTO_DCCP || p == IPPROTO_UDPLITE;
}
bool proto_is_icmp(uint8_t p) { return p == IPPROTO_ICMP || p == IPPROTO_ICMPV6; }

std::string_view tcp_state_name(uint8_t state) {
  return state < kTcpStates.size() ? kTcpStates[state] : std::string_view("UNKNOWN");
}

Parsed<std::string_view> parse_tcp_state(std::string_view text) {
  for (auto s : kTcpStates)
    if (iequal(s, text)) return Parsed<std::string_view>(boost::system::in_place_value, s);
  // Both alternatives convert from text, so the error side is named explicitly.
  return Parsed<std::string_view>(boost::system::in_place_error,
      "is not a TCP state (expected NONE, SYN_SENT, SYN_RECV, ESTABLISHED, FIN_WAIT, CLOSE_WAIT, LAST_ACK, "
      "TIME_WAIT, CLOSE, SYN_SENT2 or LISTEN)");
}

void classify_nat(Flow& f, std::optional<uint32_t> status) {
  constexpr uint32_t kSrcNatDone = 1u << 7, kDstNatDone = 1u << 8;  // IPS_SRC_NAT_DONE, IPS_DST_NAT_DONE
  const bool snat_done = status ? (*status & kSrcNatDone) != 0 : true;
  const bool dnat_done = status ? (*status & kDstNatDone) != 0 : true;
  const bool ports = proto_has_ports(f.proto);
  f.snat = snat_done && (f.reply.dst != f.orig.src || (ports && f.reply.dport != f.orig.sport));
  f.dnat = dnat_done && (f.reply.src != f.orig.dst || (ports && f.reply.sport != f.orig.dport));
}

}  // namespace edge
