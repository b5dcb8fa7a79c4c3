// The cause table. Codes are part of edge's interface: never renumber, only add.
#include "core/trace/causes.h"

namespace edge::trace {

const std::vector<std::string_view>& layer_names() {
  static const std::vector<std::string_view> names{"proxy-config", "dns", "route", "tcp", "proxy", "tls", "http"};
  return names;
}

const std::vector<CauseInfo>& all_causes() {
  static const std::vector<CauseInfo> causes{
      {"proxy-config", "bad_proxy_url", 11, "a proxy variable (or --proxy) is not a usable proxy URL"},
      {"dns", "nxdomain", 21, "the name does not exist (NXDOMAIN)"},
      {"dns", "nodata", 22, "the name exists but has no address of the wanted family"},
      {"dns", "servfail", 23, "the resolver failed to answer (SERVFAIL)"},
      {"dns", "refused", 24, "the resolver refused the query (REFUSED)"},
      {"dns", "timeout", 25, "no resolver answered in time"},
      {"dns", "truncated", 26, "the UDP answer was truncated (TC) and the TCP retry to the same server failed"},
      {"dns", "dns_error", 29, "resolution failed for another reason (see evidence)"},
      {"route", "no_route", 31, "no route to the address (no default route?)"},
      {"route", "unreachable_route", 32, "an 'unreachable' route covers the address"},
      {"route", "prohibit_route", 33, "a 'prohibit' route covers the address"},
      {"route", "blackhole_route", 34, "a 'blackhole' route covers the address"},
      {"route", "gateway_unreachable", 35, "the next hop does not answer ARP/neighbour discovery"},
      {"tcp", "nat_exhausted", 40, "this host's NAT has no free tuple for the flow: the SYN died as conntrack's insert_failed rose"},
      {"tcp", "refused", 41, "the target answered the SYN with a reset (port closed)"},
      {"tcp", "port_unreachable", 42, "an ICMP port-unreachable came back (a firewall 'reject')"},
      {"tcp", "admin_prohibited", 43, "an ICMP administratively-prohibited came back (a firewall)"},
      {"tcp", "host_unreachable", 44, "an ICMP host-unreachable came back"},
      {"tcp", "net_unreachable", 45, "an ICMP network-unreachable came back"},
      {"tcp", "timeout", 46, "no answer to the SYN: dropped on the way or at the target"},
      {"tcp", "local_drop", 47, "the SYN never left this host (a local firewall dropped it)"},
      {"tcp", "conntrack_full", 48, "this host's conntrack table is full and dropped the SYN"},
      {"tcp", "tcp_error", 49, "the connection failed for another reason (see evidence)"},
      {"proxy", "proxy_unreachable", 51, "the proxy itself cannot be reached"},
      {"proxy", "proxy_denied", 52, "the proxy refused the request (403)"},
      {"proxy", "proxy_auth_required", 53, "the proxy wants credentials (407)"},
      {"proxy", "proxy_upstream_error", 54, "the proxy could not reach the target (5xx from the proxy)"},
      {"proxy", "proxy_protocol_error", 55, "the proxy answered something that is not a valid proxy response"},
      {"proxy", "proxy_tls_error", 56, "TLS to an https:// proxy failed (its certificate, or the handshake): the evidence names the tls cause"},
      {"tls", "client_cert_required", 60, "the server wants a client certificate (--cert/--key) and none was sent"},
      {"tls", "cert_expired", 61, "the certificate has expired"},
      {"tls", "cert_not_yet_valid", 62, "the certificate is not valid yet"},
      {"tls", "hostname_mismatch", 63, "the certificate does not name the host"},
      {"tls", "self_signed", 64, "the certificate is self-signed"},
      {"tls", "untrusted_chain", 65, "the chain does not lead to a trusted CA (missing intermediate included)"},
      {"tls", "handshake_failure", 66, "the handshake failed (an alert, or a TLS version or cipher the peer refuses)"},
      {"tls", "protocol_mismatch", 67, "the peer does not speak TLS on that port"},
      {"tls", "timeout", 68, "the handshake did not finish in time"},
      {"tls", "reset", 69, "the connection was reset or closed during the handshake (no alert)"},
      {"http", "bad_gateway", 71, "502 Bad Gateway"},
      {"http", "service_unavailable", 72, "503 Service Unavailable"},
      {"http", "gateway_timeout", 73, "504 Gateway Timeout"},
      {"http", "http_error", 74, "another 4xx or 5xx status"},
      {"http", "timeout", 75, "no response byte arrived in time"},
      {"http", "protocol_error", 76, "the response is not valid HTTP/1.x"},
      {"http", "mtu_blackhole", 77, "(--mtu) full-size packets vanish: the response stalls, and arrives whole with a small MSS"},
      {"http", "truncated_body", 78, "(--body) the body ended before its Content-Length or its final chunk"},
      {"http", "redirect_loop", 79, "(-L) a redirect back to a URL already visited, or more redirects than -L allows"},
  };
  return causes;
}

std::optional<int> exit_code_for(std::string_view layer, std::string_view cause) {
  for (const auto& c : all_causes())
    if (c.layer == layer && c.cause == cause) return c.exit_code;
  return std::nullopt;
}

}  // namespace edge::trace
