// Rules behind every cause. The kernel's ICMP-to-errno mapping (net/ipv4/icmp.c
// icmp_err_convert, net/ipv6/icmp.c) is why the error queue is read: the errno alone cannot
// tell an RST from a port-unreachable, or a firewall from a missing host.
#include "core/trace/classify.h"

#include <algorithm>
#include <cerrno>

namespace edge::trace {

std::string_view classify_dns(const DnsObservation& o) {
  if (o.gai_error == 0) return o.family_missing ? "nodata" : "";
  auto saw = [&](int rcode) { return std::find(o.rcodes.begin(), o.rcodes.end(), rcode) != o.rcodes.end(); };
  // A definite answer outranks a server that stayed silent: NXDOMAIN from one server is the
  // truth even if another timed out.
  if (saw(3)) return "nxdomain";
  if (saw(2)) return "servfail";
  if (saw(5)) return "refused";
  // The answer exists but did not fit in UDP, and TCP could not carry it.
  if (o.truncated_tcp_failed) return "truncated";
  if (!o.rcodes.empty() && std::all_of(o.rcodes.begin(), o.rcodes.end(), [](int r) { return r == 0; })) return "nodata";
  if (o.any_server_timed_out || o.rcodes.empty()) return "timeout";
  return "dns_error";
}

std::string_view classify_route(int route_errno, bool neighbour_failed) {
  switch (route_errno) {
    case 0: return neighbour_failed ? "gateway_unreachable" : "";
    case ENETUNREACH: return "no_route";
    case EHOSTUNREACH: return "unreachable_route";
    case EACCES: return "prohibit_route";
    case EINVAL: return "blackhole_route";
    default: return "no_route";
  }
}

namespace {

std::string_view from_icmp(const IcmpError& e) {
  if (!e.v6) {
    if (e.type == 3) {
      switch (e.code) {
        case 3: return "port_unreachable";
        case 9: case 10: case 13: return "admin_prohibited";
        case 0: case 6: case 11: return "net_unreachable";
        default: return "host_unreachable";
      }
    }
    return "host_unreachable";  // time exceeded (a loop) and the rest: the host is not reached
  }
  if (e.type == 1) {
    switch (e.code) {
      case 4: return "port_unreachable";
      case 1: case 5: case 6: return "admin_prohibited";
      case 0: return "net_unreachable";
      default: return "host_unreachable";
    }
  }
  return "host_unreachable";
}

std::string_view from_errno(int err) {
  switch (err) {
    case ECONNREFUSED: return "refused";  // no ICMP in the queue: a real RST
    case EHOSTUNREACH: case EHOSTDOWN: return "host_unreachable";
    case ENETUNREACH: return "net_unreachable";
    case EACCES: case EPERM: return "admin_prohibited";
    case ETIMEDOUT: return "timeout";
    default: return "tcp_error";
  }
}

}  // namespace

std::string_view classify_tcp(const TcpObservation& o) {
  if (o.timed_out) {
    // NAT found no free tuple: the entry cannot be inserted and the SYN dies before it leaves
    // (so it also looks like a local drop).
    if (o.conntrack_insert_failed && *o.conntrack_insert_failed > 0) return "nat_exhausted";
    if (o.conntrack_drops && *o.conntrack_drops > 0) return "conntrack_full";
    if (o.syn_left && !*o.syn_left) return "local_drop";
    return "timeout";
  }
  const int err = o.connect_errno ? o.connect_errno : o.so_error;
  if (err == 0) return "";
  if (o.icmp) return from_icmp(*o.icmp);
  if (o.conntrack_drops && *o.conntrack_drops > 0) return "conntrack_full";
  return from_errno(err);
}

std::string_view classify_tls(const TlsObservation& o) {
  if (o.not_tls) return "protocol_mismatch";
  if (o.timed_out) return "timeout";
  if (o.handshake_failed && o.verify_errors.empty()) {
    // certificate_required (116) is TLS 1.3's word for it; a TLS 1.2 server says
    // handshake_failure (40) or just hangs up after its CertificateRequest went unanswered.
    if (o.alert == 116 || (o.cert_requested && !o.cert_sent)) return "client_cert_required";
    // A reset or a close with no alert: a middlebox filtering on SNI, or a server dropping
    // clients; an alert is the peer's own refusal and stays handshake_failure.
    if (o.reset && o.alert < 0) return "reset";
    return "handshake_failure";
  }
  auto has = [&](std::initializer_list<int> codes) {
    return std::any_of(o.verify_errors.begin(), o.verify_errors.end(),
                       [&](int e) { return std::find(codes.begin(), codes.end(), e) != codes.end(); });
  };
  // X509_V_ERR_* numbers (openssl/x509_vfy.h), most telling first: a cert that expired is the
  // story even when its name is also wrong.
  if (has({10})) return "cert_expired";
  if (has({9})) return "cert_not_yet_valid";
  if (has({18, 19})) return "self_signed";
  if (has({2, 20, 21, 27, 22, 79})) return "untrusted_chain";
  if (has({62, 64})) return "hostname_mismatch";
  if (!o.verify_errors.empty()) return "untrusted_chain";
  return o.handshake_failed ? "handshake_failure" : "";
}

std::string_view classify_http_status(unsigned status) {
  if (status == 502) return "bad_gateway";
  if (status == 503) return "service_unavailable";
  if (status == 504) return "gateway_timeout";
  if (status >= 400) return "http_error";
  return "";
}

std::string_view classify_body(const BodyObservation& o) {
  if (o.complete) return "";
  if (o.truncated) return "truncated_body";
  if (o.stalled) return "timeout";
  return "protocol_error";  // the framing itself is broken (a bad chunk size)
}

std::string_view classify_redirect(const std::vector<std::string>& seen, const std::string& next, int max) {
  if (std::find(seen.begin(), seen.end(), next) != seen.end()) return "redirect_loop";
  // seen.size() - 1 redirects were followed already; this one would be the seen.size()th.
  if (int(seen.size()) > max) return "redirect_loop";
  return "";
}

std::string_view classify_proxy_status(unsigned status) {
  if (status >= 200 && status < 300) return "";
  if (status == 407) return "proxy_auth_required";
  if (status >= 400 && status < 500) return "proxy_denied";
  if (status >= 500) return "proxy_upstream_error";
  return "proxy_protocol_error";
}

}  // namespace edge::trace
